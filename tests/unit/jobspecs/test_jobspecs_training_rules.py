"""TrainingJob rules: the parallel layout must fit the devices and the model, each error says the fix."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jobspecs import TrainingJob, parse_document
from tests.unit.jobspecs.jobspecs_docs import DELETE, MOE, issue_at, issues_of, training


def test_the_base_document_is_valid_and_exposes_derived_sizes() -> None:
    job = parse_document(training())
    assert isinstance(job, TrainingJob)
    assert job.spec.device_count == 128
    assert job.spec.parallelism.world_size == 128
    assert job.spec.parallelism.model_parallel_size == 32
    assert job.spec.micro_batches == 128
    assert job.spec.model.tokens_per_step == 512 * 8192
    assert job.spec.model.parameters == 70e9


def test_parallelism_product_must_equal_device_count_and_the_message_names_both_and_the_fix() -> None:
    issue = issue_at(training(parallelism={"data": 3}), "spec.parallelism")
    assert issue.message == (
        "tensor(8) \u00d7 pipeline(4) \u00d7 data(3) = 96, but spec.resources.accelerators.count is 128"
    )
    assert issue.hint == "set data to 4 or count to 96"


def test_parallelism_product_mentions_context_when_it_is_used() -> None:
    doc = training(parallelism={"tensor": 8, "pipeline": 1, "context": 2, "data": 4})
    issue = issue_at(doc, "spec.parallelism")
    assert "context(2)" in issue.message
    assert issue.hint == "set data to 8 or count to 64"


def test_parallelism_product_hint_when_count_is_not_a_multiple_of_the_model_parallel_size() -> None:
    doc = training(resources={"accelerators": {"count": 100}})
    assert issue_at(doc, "spec.parallelism").hint == (
        "set count to 128, or make tensor \u00d7 pipeline \u00d7 context divide 100"
    )


def test_context_parallelism_counts_towards_the_world_size() -> None:
    job = parse_document(training(parallelism={"tensor": 8, "pipeline": 2, "context": 2, "data": 4}))
    assert job.spec.parallelism.world_size == 128


def test_expert_parallelism_requires_a_moe_model() -> None:
    issue = issue_at(training(parallelism={"expert": 2}), "spec.parallelism.expert")
    assert "spec.model.moe is not set" in issue.message
    assert issue.hint == "add spec.model.moe or set expert to 1"


def test_expert_parallelism_must_divide_the_number_of_experts() -> None:
    doc = training(model={"moe": {**MOE, "experts": 60, "groups": 6}}, parallelism={"data": 4, "expert": 8})
    issues = [i for i in issues_of(doc) if i.path == "spec.parallelism.expert"]
    assert any("must divide spec.model.moe.experts (60)" in i.message for i in issues)


def test_expert_parallelism_is_carved_out_of_data_times_context() -> None:
    doc = training(model={"moe": MOE}, parallelism={"expert": 8})
    issue = issue_at(doc, "spec.parallelism.expert")
    assert "must divide data \u00d7 context (4)" in issue.message
    assert issue.hint == "choose expert among 1, 2, 4"


def test_expert_parallelism_that_fits_is_accepted_without_changing_the_world_size() -> None:
    doc = training(
        model={"moe": MOE},
        resources={"accelerators": {"count": 256}},
        parallelism={"tensor": 8, "pipeline": 4, "data": 8, "expert": 8},
    )
    job = parse_document(doc)
    assert job.spec.parallelism.world_size == 256
    assert job.spec.parallelism.expert_data_parallel == 1


def test_an_elastic_job_may_shrink_but_never_below_one_nor_above_its_data_parallel_size() -> None:
    elastic = parse_document(training(parallelism={"tensor": 8, "pipeline": 4, "data": 4, "minData": 2}))
    assert elastic.spec.parallelism.min_data == 2
    issue = issue_at(training(parallelism={"tensor": 8, "pipeline": 4, "data": 4, "minData": 8}),
                     "spec.parallelism.minData")
    assert issue.message.startswith("minData(8) exceeds data(4)") and "at most 4" in (issue.hint or "")


def test_pipeline_stages_cannot_exceed_layers() -> None:
    doc = training(model={"layers": 2}, parallelism={"tensor": 8, "pipeline": 4, "data": 4})
    issue = issue_at(doc, "spec.parallelism.pipeline")
    assert issue.message.startswith("pipeline(4) exceeds spec.model.layers (2)")
    assert issue.hint == "set pipeline to at most 2"


def test_tensor_parallelism_must_divide_attention_heads() -> None:
    doc = training(model={"attentionHeads": 60, "kvHeads": DELETE})
    issue = issue_at(doc, "spec.parallelism.tensor")
    assert issue.message == "tensor(8) must divide spec.model.attentionHeads (60)"
    assert issue.hint is not None and issue.hint.startswith("choose tensor among 1, 2, 3, 4, 5, 6")


def test_tensor_parallelism_must_divide_kv_heads_when_given() -> None:
    doc = training(model={"kvHeads": 4})
    issue = issue_at(doc, "spec.parallelism.tensor")
    assert issue.message == "tensor(8) must divide spec.model.kvHeads (4)"


def test_context_parallelism_must_divide_the_sequence_length() -> None:
    doc = training(model={"sequenceLength": 8191}, parallelism={"tensor": 8, "pipeline": 2, "context": 2})
    issue = issue_at(doc, "spec.parallelism.context")
    assert issue.message == "context(2) must divide spec.model.sequenceLength (8191)"


def test_global_batch_must_be_divisible_by_data_times_micro_batch() -> None:
    doc = training(model={"globalBatchSize": 510, "microBatchSize": 2})
    issue = issue_at(doc, "spec.model.globalBatchSize")
    assert issue.message == (
        "globalBatchSize (510) must be divisible by data(4) \u00d7 microBatchSize(2) = 8"
    )
    assert issue.hint == "set it to 504 or 512"


def test_micro_batches_when_given_must_match_the_batch_arithmetic() -> None:
    assert parse_document(training(parallelism={"microBatches": 128}))
    issue = issue_at(training(parallelism={"microBatches": 64}), "spec.parallelism.microBatches")
    assert issue.hint == "set microBatches to 128 or leave it out"


def test_every_broken_layout_rule_of_a_document_is_reported_at_once() -> None:
    doc = training(
        model={"attentionHeads": 60, "kvHeads": DELETE, "sequenceLength": 8191, "layers": 2},
        parallelism={"tensor": 8, "pipeline": 4, "data": 3, "context": 1, "expert": 2},
    )
    paths = sorted(issue.path for issue in issues_of(doc))
    assert paths == sorted(
        [
            "spec.parallelism",
            "spec.parallelism.expert",
            "spec.parallelism.expert",
            "spec.parallelism.pipeline",
            "spec.parallelism.tensor",
            "spec.model.globalBatchSize",
        ]
    )


def test_kv_heads_must_divide_attention_heads() -> None:
    doc = training(model={"kvHeads": 6}, parallelism={"tensor": 2, "pipeline": 4, "data": 16})
    issue = issue_at(doc, "spec.model.kvHeads")
    assert issue.message == "kvHeads (6) must divide attentionHeads (64)"


@pytest.mark.parametrize(
    ("moe", "path", "text"),
    [
        ({"experts": 8, "topK": 9}, "spec.model.moe.topK", "topK (9) exceeds experts (8)"),
        ({"experts": 10, "topK": 2, "groups": 4}, "spec.model.moe.groups", "groups (4) must divide experts"),
        ({"experts": 8, "topK": 2, "activeParameters": "80B"}, "spec.model.moe.activeParameters", "exceeds"),
        ({"experts": 8, "topK": 2, "moeLayers": 81}, "spec.model.moe.moeLayers", "moeLayers (81) exceeds"),
        ({"experts": 8, "topK": 0}, "spec.model.moe.topK", "must be at least 1"),
        ({"experts": 8, "topK": 2, "sharedExperts": -1}, "spec.model.moe.sharedExperts", "at least 0"),
    ],
)
def test_moe_shape_rules(moe: dict, path: str, text: str) -> None:
    assert text in issue_at(training(model={"moe": moe}), path).message


def test_moe_active_parameters_accept_the_same_forms_as_parameters() -> None:
    job = parse_document(training(model={"moe": {**MOE, "activeParameters": 2.0e10}}))
    assert job.spec.model.moe is not None
    assert job.spec.model.moe.active_parameters == 20e9
    assert job.spec.model.active_parameters == 20e9


@pytest.mark.parametrize("value", ["70B", 70_000_000_000, 7.0e10, "7.0e10", "0.07T"])
def test_model_parameters_accept_counts_in_every_common_form(value: object) -> None:
    assert parse_document(training(model={"parameters": value})).spec.model.parameters == pytest.approx(7e10)


def test_model_parameters_reject_unreadable_strings_with_examples() -> None:
    issue = issue_at(training(model={"parameters": "lots"}), "spec.model.parameters")
    assert issue.message == "cannot read 'lots' as a parameter count"
    assert issue.hint is not None and '"70B"' in issue.hint


def test_precision_is_one_of_the_supported_formats_with_a_close_match() -> None:
    issue = issue_at(training(model={"precision": "bf61"}), "spec.model.precision")
    assert issue.message == "must be one of bf16, fp8, fp16, fp32 (got 'bf61')"
    assert issue.hint == "did you mean bf16?"


def test_entrypoint_needs_exactly_one_of_command_and_function() -> None:
    both = training(entrypoint={"function": "pkg.mod:main"})
    assert "both command and function" in issue_at(both, "spec.entrypoint").message
    neither = training(entrypoint={"command": DELETE, "env": {"A": "1"}})
    assert "neither command nor function" in issue_at(neither, "spec.entrypoint").message


@pytest.mark.parametrize("function", ["pkg.mod:main", "train:main", "a.b.c:Trainer.run", "_p:_f"])
def test_entrypoint_function_in_module_colon_function_form_is_accepted(function: str) -> None:
    doc = training(entrypoint={"command": DELETE, "function": function})
    assert parse_document(doc).spec.entrypoint.function == function


@pytest.mark.parametrize("function", ["pkg.mod.main", "pkg.mod:", ":main", "pkg mod:main", "1pkg:main"])
def test_entrypoint_function_must_be_module_colon_function(function: str) -> None:
    doc = training(entrypoint={"command": DELETE, "function": function})
    assert "is not of the form 'package.module:function'" in issue_at(doc, "spec.entrypoint.function").message


def test_entrypoint_command_must_be_a_non_empty_list() -> None:
    issue = issue_at(training(entrypoint={"command": "python train.py"}), "spec.entrypoint.command")
    assert issue.hint == "write command: ['python', 'train.py']"
    empty = issue_at(training(entrypoint={"command": []}), "spec.entrypoint.command")
    assert "must not be empty" in empty.message


def test_entrypoint_env_turns_numbers_into_strings_and_checks_names() -> None:
    job = parse_document(training(entrypoint={"env": {"OMP_NUM_THREADS": 8, "RATIO": 0.5}}))
    assert job.spec.entrypoint.env == {"OMP_NUM_THREADS": "8", "RATIO": "0.5"}
    assert (
        "not a valid environment variable name"
        in issue_at(training(entrypoint={"env": {"1BAD": "x"}}), "spec.entrypoint.env").message
    )


def test_accelerator_types_normalise_to_a_tuple_or_any() -> None:
    assert parse_document(training()).spec.resources.accelerators.types == ("H100",)
    job = parse_document(training(resources={"accelerators": {"types": " H200 "}}))
    assert job.spec.resources.accelerators.types == ("H200",)
    for spelled in ("any", "ANY", ["any"]):
        job = parse_document(training(resources={"accelerators": {"types": spelled}}))
        assert job.spec.resources.accelerators.types == "any"
    job = parse_document(training(resources={"accelerators": {"types": DELETE}}))
    assert job.spec.resources.accelerators.types == "any"


@pytest.mark.parametrize(
    ("types", "text"),
    [
        ([], "must not be empty"),
        (["H100", "h100"], "duplicate accelerator types: H100, h100"),
        (["any", "H100"], "'any' cannot be combined"),
        ([""], "item 0 must be a non-empty accelerator type name"),
        (8, "must be a list of accelerator type names"),
    ],
)
def test_accelerator_types_reject_empty_duplicate_and_mixed_lists(types: object, text: str) -> None:
    doc = training(resources={"accelerators": {"types": types}})
    assert text in issue_at(doc, "spec.resources.accelerators.types").message


def test_accelerator_count_and_memory_must_be_positive() -> None:
    doc = training(resources={"accelerators": {"count": 0, "minMemoryGiB": 0}})
    assert issue_at(doc, "spec.resources.accelerators.count").message == "must be at least 1 (got 0)"
    memory = issue_at(doc, "spec.resources.accelerators.minMemoryGiB")
    assert memory.message == "must be greater than 0 (got 0)"


def test_booleans_are_not_taken_for_numbers() -> None:
    issue = issue_at(training(totalSteps=True), "spec.totalSteps")
    assert issue.message == "must be a number, not the boolean true"


def test_scheduling_defaults_and_priority_classes() -> None:
    scheduling = parse_document(training()).spec.scheduling
    assert scheduling.queue == "default"
    assert scheduling.priority_class == "normal"
    assert scheduling.preemptible is True
    issue = issue_at(training(scheduling={"priorityClass": "urgent"}), "spec.scheduling.priorityClass")
    assert issue.message.startswith("must be one of critical, high, normal, low, best-effort")


def test_scheduling_deadline_must_carry_a_timezone() -> None:
    job = parse_document(training(scheduling={"deadline": "2026-07-01T08:00:00+08:00"}))
    assert job.spec.scheduling.deadline_utc == datetime(2026, 7, 1, 0, 0, tzinfo=UTC)
    issue = issue_at(training(scheduling={"deadline": "2026-07-01T08:00:00"}), "spec.scheduling.deadline")
    assert issue.message.startswith("must include a timezone")
    assert issue.hint is not None and "append Z" in issue.hint


@pytest.mark.parametrize("field", ["maxDollarsPerHour", "budgetDollars"])
def test_scheduling_money_limits_must_be_positive(field: str) -> None:
    assert parse_document(training(scheduling={field: 12.5}))
    issue = issue_at(training(scheduling={field: 0}), f"spec.scheduling.{field}")
    assert issue.message == "must be greater than 0 (got 0)"


def test_scheduling_queue_must_be_a_dns_label() -> None:
    issue = issue_at(training(scheduling={"queue": "Research Queue"}), "spec.scheduling.queue")
    assert issue.hint == "use 'research-queue'"


def test_spot_policy_defaults_and_preemption_rate_bound() -> None:
    spot = parse_document(training()).spec.spot
    assert (spot.allowed, spot.fallback_to_on_demand, spot.max_preemptions_per_hour) == (True, True, None)
    assert parse_document(training(spot={"maxPreemptionsPerHour": 0})).spec.spot.max_preemptions_per_hour == 0
    issue = issue_at(training(spot={"maxPreemptionsPerHour": -1}), "spec.spot.maxPreemptionsPerHour")
    assert issue.message == "must be at least 0 (got -1)"


def test_total_steps_and_max_restarts_bounds() -> None:
    assert parse_document(training()).spec.max_restarts == 10
    assert issue_at(training(totalSteps=0), "spec.totalSteps").message == "must be at least 1 (got 0)"
    assert issue_at(training(maxRestarts=-1), "spec.maxRestarts").message == "must be at least 0 (got -1)"
    assert parse_document(training(maxRestarts=0)).spec.max_restarts == 0


def test_models_are_frozen() -> None:
    job = parse_document(training())
    with pytest.raises(ValueError):
        job.spec.parallelism.tensor = 4  # type: ignore[misc]
