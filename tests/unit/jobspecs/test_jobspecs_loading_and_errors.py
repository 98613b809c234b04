"""Loading YAML/JSON files: every problem is reported once, at its file, line and field path."""

from __future__ import annotations

import json
from pathlib import Path
from textwrap import dedent

import pytest

from jobspecs import SpecError, SpecIssue, TrainingJob, load_file, load_text, parse_document
from tests.unit.jobspecs.jobspecs_docs import issues_of, training

JOB = dedent(
    """\
    apiVersion: suanli.dev/v1alpha1
    kind: TrainingJob
    metadata:
      name: llama
    spec:
      entrypoint:
        command: [python, train.py]
      model:
        parameters: 70B
        layers: 80
        hiddenSize: 8192
        attentionHeads: 64
        sequenceLength: 8192
        globalBatchSize: 384
      resources:
        accelerators:
          count: 128
      parallelism:
        tensor: 8
        pipeline: 4
        data: 3
      totalSteps: 10
    """
)


def load_errors(text: str, source: str = "job.yaml") -> SpecError:
    with pytest.raises(SpecError) as raised:
        load_text(text, source)
    return raised.value


def test_parallelism_product_must_equal_device_count_and_error_names_line_and_field() -> None:
    error = load_errors(JOB)
    assert str(error) == (
        "job.yaml:18: spec.parallelism: tensor(8) \u00d7 pipeline(4) \u00d7 data(3) = 96, "
        "but spec.resources.accelerators.count is 128; set data to 4 or count to 96"
    )
    (issue,) = error.issues
    assert issue == SpecIssue(
        file="job.yaml",
        line=18,
        path="spec.parallelism",
        message=(
            "tensor(8) \u00d7 pipeline(4) \u00d7 data(3) = 96, but spec.resources.accelerators.count is 128"
        ),
        hint="set data to 4 or count to 96",
    )


def test_a_leaf_error_points_at_the_line_of_its_key() -> None:
    error = load_errors(JOB.replace("data: 3", "data: 4").replace("totalSteps: 10", "totalSteps: 0"))
    assert [(i.line, i.path) for i in error.issues] == [(22, "spec.totalSteps")]


def test_a_missing_field_points_at_its_parent() -> None:
    error = load_errors(JOB.replace("data: 3", "data: 4").replace("    layers: 80\n", ""))
    assert [(i.line, i.path, i.message) for i in error.issues] == [
        (8, "spec.model.layers", "missing required field layers")
    ]
    assert error.issues[0].hint == "add layers under spec.model"


def test_unknown_field_names_it_lists_the_allowed_fields_and_suggests_a_close_one() -> None:
    error = load_errors(JOB.replace("data: 3", "data: 4").replace("hiddenSize", "hidenSize"))
    missing, issue = error.issues
    assert (missing.path, missing.message) == ("spec.model.hiddenSize", "missing required field hiddenSize")
    assert (issue.line, issue.path) == (11, "spec.model.hidenSize")
    assert issue.message.startswith(
        "unknown field hidenSize; allowed fields: name, parameters, layers, hiddenSize"
    )
    assert issue.hint == "did you mean hiddenSize?"


def test_an_unknown_field_without_a_close_match_is_to_be_removed() -> None:
    issue = next(i for i in issues_of(training(colour="blue")) if i.path == "spec.colour")
    assert issue.hint == "remove it"


def test_unknown_kind_lists_known_kinds() -> None:
    error = load_errors(JOB.replace("kind: TrainingJob", "kind: TrainJob"))
    (issue,) = error.issues
    assert (issue.line, issue.path) == (2, "kind")
    assert (
        issue.message
        == "unknown kind 'TrainJob'; known kinds: TrainingJob, InferenceService, AcceleratorPool, Queue"
    )
    assert issue.hint == "did you mean TrainingJob?"


def test_unsupported_api_version_names_the_field_and_the_supported_version() -> None:
    error = load_errors(JOB.replace("data: 3", "data: 4").replace("suanli.dev/v1alpha1", "suanli.dev/v1"))
    (issue,) = error.issues
    assert str(issue) == (
        "job.yaml:1: apiVersion: unsupported apiVersion 'suanli.dev/v1'; the supported version is "
        "suanli.dev/v1alpha1; set apiVersion: suanli.dev/v1alpha1"
    )


def test_missing_api_version_and_kind_are_reported() -> None:
    error = load_errors("metadata: {name: x}\nspec: {}\n")
    assert [i.message for i in error.issues] == [
        "missing required field apiVersion",
        "missing required field kind",
    ]


def test_yaml_syntax_error_gives_file_line_and_the_parsers_problem() -> None:
    error = load_errors("apiVersion: suanli.dev/v1alpha1\nkind: TrainingJob\nmetadata:\n  name: [x\n")
    (issue,) = error.issues
    assert issue.file == "job.yaml"
    assert issue.line == 5
    assert issue.message.startswith("YAML syntax error: ")
    assert str(error).startswith("job.yaml:5: YAML syntax error:")


def test_a_document_that_is_not_a_mapping_is_refused() -> None:
    error = load_errors("just a string\n")
    assert error.issues[0].message == "a document must be a mapping, not str"


def test_line_numbers_are_absolute_within_a_multi_document_file() -> None:
    good = JOB.replace("data: 3", "data: 4")
    text = "---\n" + good + "---\n\n" + JOB.replace("name: llama", "name: other")
    error = load_errors(text)
    (issue,) = error.issues
    assert issue.line == 1 + 22 + 2 + 18


def test_empty_documents_are_skipped() -> None:
    good = JOB.replace("data: 3", "data: 4")
    resources = load_text("---\n---\n# only a comment\n---\n" + good + "---\n")
    assert [r.metadata.name for r in resources] == ["llama"]
    assert load_text("") == []


def test_all_issues_of_all_documents_are_collected_in_line_order() -> None:
    second = JOB.replace("name: llama", "name: Other_Job").replace("totalSteps: 10", "totalSteps: -1")
    error = load_errors(JOB + "---\n" + second)
    lines = [issue.line for issue in error.issues]
    assert lines == sorted(lines)
    assert [i.path for i in error.issues] == ["spec.parallelism", "metadata.name", "spec.totalSteps"]
    assert len(str(error).splitlines()) == 3


def test_several_field_errors_of_one_document_are_all_reported() -> None:
    doc = training(
        totalSteps=0,
        model={"precision": "int4"},
        scheduling={"priorityClass": "urgent"},
        checkpoint={"tiers": ["ftp://x"]},
    )
    paths = {issue.path for issue in issues_of(doc)}
    assert paths == {
        "spec.totalSteps",
        "spec.model.precision",
        "spec.scheduling.priorityClass",
        "spec.checkpoint.tiers[0]",
    }


def test_messages_are_human_without_pydantic_prefixes_or_urls() -> None:
    doc = training(totalSteps="many", model={"layers": 2.5}, entrypoint={"function": "x"}, maxRestarts=[1])
    for issue in issues_of(doc):
        assert "Value error" not in issue.message
        assert "pydantic" not in issue.message
        assert "http" not in issue.message
        assert "Input should" not in issue.message


def test_duplicate_keys_are_reported_instead_of_silently_overwritten() -> None:
    text = JOB.replace("data: 3", "data: 4").replace("totalSteps: 10", "totalSteps: 10\n  totalSteps: 20")
    (issue,) = load_errors(text).issues
    assert (issue.line, issue.path, issue.message) == (23, "spec.totalSteps", "duplicate key")


def test_the_same_resource_twice_in_one_file_is_refused() -> None:
    good = JOB.replace("data: 3", "data: 4")
    (issue,) = load_errors(good + "---\n" + good).issues
    assert issue.message == "TrainingJob default/llama is defined twice (first at line 4)"
    assert issue.line == 23 + 4


def test_metadata_name_and_team_are_dns_labels_and_namespace_is_an_alias_of_team() -> None:
    job = parse_document(training() | {"metadata": {"name": "llama", "namespace": "vision"}})
    assert job.metadata.team == "vision"
    assert parse_document(training() | {"metadata": {"name": "x"}}).metadata.team == "default"
    bad = issues_of(training() | {"metadata": {"name": "x" * 64, "team": "Team A"}})
    assert [i.path for i in bad] == ["metadata.name", "metadata.team"]
    clash = issues_of(training() | {"metadata": {"name": "x", "team": "a", "namespace": "b"}})
    assert clash[0].path == "metadata.namespace"


def test_namespace_errors_point_at_the_namespace_line() -> None:
    text = JOB.replace("data: 3", "data: 4").replace("  name: llama", "  name: llama\n  namespace: Bad_Team")
    (issue,) = load_errors(text).issues
    assert (issue.line, issue.path) == (5, "metadata.namespace")


def test_labels_are_checked_with_kubernetes_label_rules() -> None:
    job = parse_document(training() | {"metadata": {"name": "x", "labels": {"suanli.dev/owner": "ana"}}})
    assert job.metadata.labels == {"suanli.dev/owner": "ana"}
    (issue,) = issues_of(training() | {"metadata": {"name": "x", "labels": {"Bad_Prefix/x": "y"}}})
    assert issue.path == 'metadata.labels["Bad_Prefix/x"]'
    (issue,) = issues_of(training() | {"metadata": {"name": "x", "labels": {"version": 2}}})
    assert issue.message == "label values must be strings (got 2)"


def test_status_is_accepted_and_ignored() -> None:
    job = parse_document(training() | {"status": {"phase": "Running", "anything": [1, 2]}})
    assert job.status == {"phase": "Running", "anything": [1, 2]}


def test_yaml_floats_without_a_dot_or_exponent_sign_are_numbers() -> None:
    text = JOB.replace("data: 3", "data: 4").replace("parameters: 70B", "parameters: 7e10")
    text = text.replace("totalSteps: 10", "totalSteps: 10\n  scheduling:\n    maxDollarsPerHour: 1e3")
    (job,) = load_text(text)
    assert isinstance(job, TrainingJob)
    assert job.spec.scheduling.max_dollars_per_hour == 1000.0


def test_load_file_reads_yaml_and_json_and_names_the_file(tmp_path: Path) -> None:
    good = JOB.replace("data: 3", "data: 4")
    (tmp_path / "job.yaml").write_text(good)
    assert load_file(tmp_path / "job.yaml")[0].metadata.name == "llama"
    document = parse_document(training()).model_dump(mode="json", by_alias=True)
    (tmp_path / "job.json").write_text(json.dumps([document], indent=2))
    assert load_file(tmp_path / "job.json")[0].metadata.name == "llama"
    (tmp_path / "bad.yaml").write_text(JOB)
    with pytest.raises(SpecError) as raised:
        load_file(tmp_path / "bad.yaml")
    assert str(raised.value).startswith(f"{tmp_path / 'bad.yaml'}:18: spec.parallelism:")


def test_json_errors_carry_lines_too(tmp_path: Path) -> None:
    document = parse_document(training()).model_dump(mode="json", by_alias=True)
    document["spec"]["totalSteps"] = 0
    path = tmp_path / "job.json"
    path.write_text(json.dumps(document, indent=2))
    with pytest.raises(SpecError) as raised:
        load_file(path)
    (issue,) = raised.value.issues
    expected = next(n for n, line in enumerate(path.read_text().splitlines(), 1) if '"totalSteps"' in line)
    assert (issue.path, issue.line) == ("spec.totalSteps", expected)
    path.write_text('{"apiVersion": \n')
    with pytest.raises(SpecError) as raised:
        load_file(path)
    assert raised.value.issues[0].message.startswith("JSON syntax error")


def test_an_unreadable_file_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as raised:
        load_file(tmp_path / "missing.yaml")
    assert "cannot read the file" in str(raised.value)


def test_parse_document_without_lines_still_names_the_path() -> None:
    with pytest.raises(SpecError) as raised:
        parse_document(training(totalSteps=0), source="<request>")
    assert str(raised.value) == "<request>: spec.totalSteps: must be at least 1 (got 0)"
