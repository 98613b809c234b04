"""Checkpoint policy: interval parsing and the tier URI rules."""

from __future__ import annotations

import pytest

from jobspecs import CheckpointPolicy, TrainingJob, is_durable, parse_document, tier_scheme
from tests.unit.jobspecs.jobspecs_docs import issue_at, training


def policy(**checkpoint: object) -> CheckpointPolicy:
    job = parse_document(training(checkpoint=checkpoint))
    assert isinstance(job, TrainingJob)
    return job.spec.checkpoint


def test_checkpoint_defaults_to_auto_interval_memory_tier_and_three_kept() -> None:
    default = policy()
    assert default.interval == "auto"
    assert default.interval_seconds is None
    assert default.tiers == ("memory://",)
    assert default.keep_last == 3
    assert default.every_steps is None


@pytest.mark.parametrize(
    ("interval", "seconds"), [("30s", 30.0), ("15m", 900.0), ("2h", 7200.0), (600, 600.0), (12.5, 12.5)]
)
def test_interval_accepts_durations_and_seconds_and_stores_seconds(interval: object, seconds: float) -> None:
    assert policy(interval=interval).interval == seconds
    assert policy(interval=interval).interval_seconds == seconds


def test_interval_auto_is_case_insensitive() -> None:
    assert policy(interval="AUTO").interval == "auto"


@pytest.mark.parametrize("interval", ["soon", "10 minutes", 0, -30, "0s", True])
def test_interval_rejects_what_is_not_a_positive_duration(interval: object) -> None:
    issue = issue_at(training(checkpoint={"interval": interval}), "spec.checkpoint.interval")
    assert issue.hint is not None and '"auto"' in issue.hint


@pytest.mark.parametrize(
    "uri",
    [
        "memory://",
        "peer://",
        "file:///var/lib/suanli/ckpt",
        "s3://suanli-ckpt/llama70b",
        "s3://bucket",
        "gs://my_bucket/prefix",
        "az://container/prefix",
        "abfs://ckpt@account.dfs.core.windows.net/run1",
    ],
)
def test_supported_tier_uris_are_accepted(uri: str) -> None:
    assert policy(tiers=[uri]).tiers == (uri,)


@pytest.mark.parametrize(
    ("uri", "text"),
    [
        ("ftp://host/x", "unsupported checkpoint tier scheme 'ftp://'"),
        ("/var/ckpt", "is not a URI"),
        ("file://relative/path", "file tiers need an absolute path"),
        ("file://", "file tiers need an absolute path"),
        ("s3://", "names no bucket"),
        ("s3:///prefix", "names no bucket"),
        ("gs://", "names no bucket"),
        ("s3://Bad_Bucket/x", "is not a valid s3 bucket name"),
        ("az://", "names no container"),
        ("abfs:///x", "names no container"),
        ("", "must be a URI string"),
    ],
)
def test_tier_uri_rules_name_the_tier_index(uri: str, text: str) -> None:
    doc = training(checkpoint={"tiers": ["memory://", uri]})
    assert text in issue_at(doc, "spec.checkpoint.tiers[1]").message


def test_file_tier_hint_shows_the_three_slash_form() -> None:
    issue = issue_at(training(checkpoint={"tiers": ["file://tmp/ckpt"]}), "spec.checkpoint.tiers[0]")
    assert issue.hint == "write file:///tmp/ckpt (three slashes)"


def test_tiers_must_not_repeat() -> None:
    doc = training(checkpoint={"tiers": ["memory://", "s3://ckpt/x", "s3://ckpt/x/"]})
    issue = issue_at(doc, "spec.checkpoint.tiers[2]")
    assert issue.message == "'s3://ckpt/x/' repeats tiers[1]"


def test_tiers_must_not_be_empty() -> None:
    assert issue_at(training(checkpoint={"tiers": []}), "spec.checkpoint.tiers").message == (
        "must list at least one tier"
    )


def test_scheme_is_normalised_to_lowercase_and_durability_is_known() -> None:
    tiers = policy(tiers=["Memory://", "PEER://", "S3://bucket/p"]).tiers
    assert tiers == ("memory://", "peer://", "s3://bucket/p")
    assert [tier_scheme(t) for t in tiers] == ["memory", "peer", "s3"]
    assert [is_durable(t) for t in tiers] == [False, True, True]
    assert policy(tiers=list(tiers)).durable_tiers == ("peer://", "s3://bucket/p")


def test_keep_last_and_every_steps_bounds() -> None:
    assert policy(keepLast=1, everySteps=100).every_steps == 100
    assert "at least 1" in issue_at(training(checkpoint={"keepLast": 0}), "spec.checkpoint.keepLast").message
    assert (
        "at least 1" in issue_at(training(checkpoint={"everySteps": 0}), "spec.checkpoint.everySteps").message
    )
