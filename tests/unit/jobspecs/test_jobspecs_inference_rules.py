"""InferenceService rules: replica layout, scaling bounds, objectives and spot base."""

from __future__ import annotations

import pytest

from jobspecs import InferenceService, parse_document
from tests.unit.jobspecs.jobspecs_docs import DELETE, MOE, issue_at, issues_of, service


def test_the_base_service_is_valid_and_derives_devices_per_replica() -> None:
    svc = parse_document(service())
    assert isinstance(svc, InferenceService)
    assert svc.spec.devices_per_replica == 8
    assert svc.spec.max_devices == 32
    assert svc.spec.spot.allowed is False
    assert svc.spec.spot.on_demand_base == 1


def test_serving_model_needs_only_a_parameter_count() -> None:
    svc = parse_document(
        service(
            model={"layers": DELETE, "attentionHeads": DELETE, "kvHeads": DELETE, "moe": DELETE},
            parallelism={"expert": 1},
        )
    )
    assert svc.spec.model.layers is None
    assert svc.spec.model.parameters == 400e9


def test_serving_model_accepts_a_training_model_block_unchanged() -> None:
    block = {
        "parameters": "7B",
        "layers": 32,
        "hiddenSize": 4096,
        "attentionHeads": 32,
        "kvHeads": 8,
        "sequenceLength": 8192,
        "globalBatchSize": 512,
        "microBatchSize": 1,
    }
    svc = parse_document(service(model={**block, "moe": DELETE}, parallelism={"tensor": 2, "expert": 1}))
    assert svc.spec.model.sequence_length == 8192


def test_a_plain_integer_means_exactly_that_many_replicas() -> None:
    svc = parse_document(service(replicas=3))
    assert (svc.spec.replicas.min, svc.spec.replicas.max) == (3, 3)


def test_replicas_max_defaults_to_min_and_must_not_be_below_it() -> None:
    svc = parse_document(service(replicas={"min": 2, "max": DELETE}, autoscaling=DELETE))
    assert svc.spec.replicas.max == 2
    issue = issue_at(service(replicas={"min": 3, "max": 2}), "spec.replicas.max")
    assert issue.message == "max (2) is below min (3)"
    assert "must be at least 0" in issue_at(service(replicas={"min": -1}), "spec.replicas.min").message


def test_replicas_may_scale_to_zero_but_max_is_at_least_one() -> None:
    svc = parse_document(service(replicas={"min": 0, "max": 2}))
    assert svc.spec.replicas.min == 0
    assert "at least 1" in issue_at(service(replicas={"min": 0, "max": 0}), "spec.replicas.max").message


def test_a_replica_range_needs_an_autoscaling_metric() -> None:
    issue = issue_at(service(autoscaling=DELETE), "spec.autoscaling")
    assert "from 1 to 4" in issue.message
    assert parse_document(service(autoscaling=DELETE, replicas=2))


@pytest.mark.parametrize("metric", ["concurrency", "tokens_per_second", "gpu_utilization"])
def test_autoscaling_metrics(metric: str) -> None:
    target = 0.7 if metric == "gpu_utilization" else 100
    svc = parse_document(service(autoscaling={"metric": metric, "target": target}))
    assert svc.spec.autoscaling is not None and svc.spec.autoscaling.metric == metric


def test_autoscaling_rejects_unknown_metrics_non_positive_targets_and_percent_utilization() -> None:
    assert (
        "must be one of"
        in issue_at(service(autoscaling={"metric": "qps"}), "spec.autoscaling.metric").message
    )
    assert "greater than 0" in issue_at(service(autoscaling={"target": 0}), "spec.autoscaling.target").message
    issue = issue_at(
        service(autoscaling={"metric": "gpu_utilization", "target": 70}), "spec.autoscaling.target"
    )
    assert issue.hint == "write 0.7"


def test_slo_needs_at_least_one_objective() -> None:
    issue = issue_at(service(slo={"p99LatencyMs": DELETE}), "spec.slo")
    assert issue.hint == "set p99LatencyMs, tokensPerSecond, or both"
    svc = parse_document(service(slo={"p99LatencyMs": DELETE, "tokensPerSecond": 5000}))
    assert svc.spec.slo is not None and svc.spec.slo.tokens_per_second == 5000
    assert "greater than 0" in issue_at(service(slo={"p99LatencyMs": -5}), "spec.slo.p99LatencyMs").message


def test_expert_parallelism_in_a_replica_requires_moe_and_divides_experts() -> None:
    assert (
        "spec.model.moe is not set"
        in issue_at(service(model={"moe": DELETE}), "spec.parallelism.expert").message
    )
    doc = service(model={"moe": {**MOE, "experts": 60, "groups": 6}})
    assert any("must divide spec.model.moe.experts (60)" in i.message for i in issues_of(doc))


def test_expert_parallelism_reuses_the_devices_of_a_replica() -> None:
    issue = issue_at(service(parallelism={"tensor": 4, "expert": 8}), "spec.parallelism.expert")
    assert "must divide tensor \u00d7 pipeline (4)" in issue.message


def test_tensor_parallelism_must_divide_heads_and_may_replicate_kv_heads() -> None:
    assert parse_document(service(model={"kvHeads": 4}))  # 8 ranks share 4 KV heads: replicated
    assert parse_document(service(model={"kvHeads": 16}))  # 16 KV heads split over 8 ranks
    doc = service(model={"attentionHeads": 60, "kvHeads": 6}, parallelism={"tensor": 8, "expert": 8})
    assert any("attentionHeads (60)" in i.message for i in issues_of(doc))


def test_kv_heads_that_neither_divide_nor_are_divided_by_tensor_are_rejected() -> None:
    doc = service(model={"attentionHeads": 48, "kvHeads": 12}, parallelism={"tensor": 8})
    issue = issue_at(doc, "spec.parallelism.tensor")
    assert "must divide one another" in issue.message


def test_pipeline_stages_per_replica_cannot_exceed_layers() -> None:
    doc = service(model={"layers": 2, "moe": {"moeLayers": DELETE}}, parallelism={"pipeline": 4})
    assert "exceeds spec.model.layers (2)" in issue_at(doc, "spec.parallelism.pipeline").message


def test_on_demand_base_cannot_exceed_the_largest_scale_when_spot_is_allowed() -> None:
    issue = issue_at(service(spot={"allowed": True, "onDemandBase": 5}), "spec.spot.onDemandBase")
    assert issue.hint == "set onDemandBase to at most 4"
    assert parse_document(service(spot={"allowed": False, "onDemandBase": 5}))


def test_serving_scheduling_takes_queue_and_priority_only() -> None:
    svc = parse_document(service(scheduling={"queue": "online", "priorityClass": "critical"}))
    assert svc.spec.scheduling.priority_class == "critical"
    issue = issue_at(service(scheduling={"budgetDollars": 5}), "spec.scheduling.budgetDollars")
    assert issue.message.startswith("unknown field budgetDollars; allowed fields: queue, priorityClass")


def test_serving_resources_have_no_count_because_it_is_derived() -> None:
    issue = issue_at(service(resources={"accelerators": {"count": 8}}), "spec.resources.accelerators.count")
    assert "allowed fields: types, minMemoryGiB" in issue.message
