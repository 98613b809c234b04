"""Kubernetes: termination handlers' taints and graceful-shutdown conditions read as notices."""

from __future__ import annotations

from typing import Any

from controlplane.spot import KubernetesNodeNotices, read_node

NOW = 1_700_000_000.0


def node(*taints: dict[str, Any], name: str = "ip-10-0-0-1", labels: dict[str, str] | None = None,
         conditions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": list(taints)},
            "status": {"conditions": conditions or [{"type": "Ready", "status": "True"}]}}


def test_the_aws_termination_handler_spot_taint_gives_two_minutes() -> None:
    signals = read_node(node({"key": "aws-node-termination-handler/spot-itn", "value": "evt-1",
                              "effect": "NoSchedule"}), now=NOW)
    (notice,) = signals.notices
    assert (notice.node, notice.kind, notice.deadline) == ("ip-10-0-0-1", "preemption", NOW + 120)
    assert notice.source == "kubernetes:taint/aws-node-termination-handler/spot-itn"


def test_gke_impending_termination_counts_from_the_taints_time_added() -> None:
    signals = read_node(node({"key": "cloud.google.com/impending-node-termination", "effect": "NoExecute",
                              "timeAdded": "2023-11-14T22:13:10Z"}), now=NOW)
    (notice,) = signals.notices
    assert notice.deadline == 1_699_999_990.0 + 30


def test_the_cluster_autoscaler_taint_value_is_when_the_scale_down_began() -> None:
    signals = read_node(node({"key": "ToBeDeletedByClusterAutoscaler", "value": "1699999900",
                              "effect": "NoSchedule"}), now=NOW)
    (notice,) = signals.notices
    assert (notice.kind, notice.deadline) == ("termination", 1_699_999_900 + 600)


def test_graceful_node_shutdown_and_out_of_service_are_terminations() -> None:
    shutting = node(conditions=[{"type": "Ready", "status": "False", "reason": "KubeletNotReady",
                                 "message": "node is shutting down"}])
    (notice,) = read_node(shutting, now=NOW).notices
    assert (notice.kind, notice.deadline, notice.source) == ("termination", NOW + 30,
                                                             "kubernetes:condition/Ready=False:shutting-down")
    (gone,) = read_node(node({"key": "node.kubernetes.io/out-of-service", "effect": "NoExecute"}), now=NOW).notices
    assert gone.deadline == NOW


def test_rebalance_taints_are_advisories_and_unrelated_taints_are_ignored() -> None:
    signals = read_node(node({"key": "aws-node-termination-handler/rebalance-recommendation"},
                             {"key": "nvidia.com/gpu", "effect": "NoSchedule"}), now=NOW)
    assert signals.notices == ()
    (advisory,) = signals.advisories
    assert advisory.kind == "rebalance-recommendation"


def test_the_suanli_node_label_names_the_node() -> None:
    signals = read_node(node({"key": "karpenter.sh/disrupted"}, labels={"suanli.dev/node": "h100-a-3"}), now=NOW)
    assert signals.notices[0].node == "h100-a-3"


def test_malformed_entries_become_problems_not_crashes() -> None:
    signals = read_node({"metadata": {"name": "n"}, "spec": {"taints": [{"value": "no key"}, "junk"]},
                         "status": {"conditions": "junk"}}, now=NOW)
    assert signals.notices == ()
    assert len(signals.problems) == 3


def test_the_watch_fed_source_reports_each_signal_once_with_a_stable_deadline() -> None:
    clock = [NOW]
    source = KubernetesNodeNotices(clock=lambda: clock[0])
    tainted = node({"key": "aws-node-termination-handler/spot-itn"})

    source.observe(tainted)
    clock[0] += 20
    source.observe(tainted)  # a MODIFIED event for the same node
    (notice,) = source.poll()
    assert notice.deadline == NOW + 120
    assert source.poll() == []

    source.observe(node())  # taint removed (the handler gave up)
    source.observe({"metadata": {}})  # garbage is logged and skipped
    clock[0] += 100
    source.observe(tainted)
    (again,) = source.poll()
    assert again.deadline == NOW + 120 + 120
