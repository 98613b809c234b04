"""The ``Runtime`` contract (``controlplane.runtime.protocol``), checked on every implementation.

Each test reads as one clause of the contract and runs on the simulated runtime and on a real
local Ray cluster (five virtual nodes in three pools).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from controlplane.domain.errors import ConflictError, InvalidInputError, NotFoundError
from controlplane.runtime import LaunchRejected, Notice, RankSpec, Runtime
from tests.contract.harness import RuntimeHarness, with_env

# -- nodes -----------------------------------------------------------------------------------


def test_the_runtime_satisfies_the_protocol(harness: RuntimeHarness) -> None:
    assert isinstance(harness.runtime, Runtime)


def test_observe_lists_every_defined_node_with_its_pool_labels_and_devices(harness: RuntimeHarness) -> None:
    observation = harness.observe()

    assert sorted(node.name for node in observation.nodes) == sorted(node.name for node in harness.definition.nodes)
    for defined in harness.definition.nodes:
        node = observation.node(defined.name)
        assert node is not None
        assert (node.pool, node.accelerator, node.devices) == (defined.pool, defined.accelerator, defined.devices)
        assert (node.zone, node.rack, node.capacity_type) == (defined.zone, defined.rack, defined.capacity_type)
        assert node.labels["suanli.dev/pool"] == defined.pool
        assert node.alive and not node.cordoned and node.devices_in_use == 0


def test_the_clock_never_goes_back(harness: RuntimeHarness) -> None:
    first = harness.runtime.now()
    observation = harness.observe()

    assert first <= observation.time <= harness.runtime.now()


# -- launching -------------------------------------------------------------------------------


def test_an_attempt_runs_on_its_planned_nodes_to_success_and_reports_each_step_once(
        harness: RuntimeHarness) -> None:
    spec = harness.spec(harness.two_pools, steps=3)

    harness.launch(spec)
    assert harness.attempt(spec.attempt_id).state in ("launching", "running")
    attempt = harness.wait_for_state(spec.attempt_id, "succeeded", "failed", "lost", "stopped")
    harness.observe()

    assert attempt.state == "succeeded", attempt.reason
    assert [rank.node for rank in attempt.ranks] == harness.two_pools
    assert all(rank.exit_code == 0 and not rank.alive for rank in attempt.ranks)
    assert attempt.started_at is not None and attempt.ended_at is not None
    assert attempt.started_at <= attempt.ended_at
    reports = harness.reports_of(spec.attempt_id)
    assert [(report.rank, report.step, report.tokens) for report in reports] == [(0, 1, 1024), (0, 2, 1024),
                                                                               (0, 3, 1024)]
    assert [report.time for report in reports] == sorted(report.time for report in reports)


def test_devices_are_held_while_an_attempt_lives_and_freed_when_it_ends(harness: RuntimeHarness) -> None:
    node = harness.definition.nodes[0]
    spec = harness.spec([node.name], steps=0, devices=node.devices)

    harness.launch(spec)
    assert harness.observe().node(node.name).devices_in_use == node.devices  # type: ignore[union-attr]
    with pytest.raises(LaunchRejected) as rejected:
        harness.launch(harness.spec([node.name]))
    assert "free" in str(rejected.value)
    harness.runtime.stop(spec.attempt_id)

    assert harness.observe().node(node.name).devices_in_use == 0  # type: ignore[union-attr]


def test_launching_again_under_the_same_request_id_is_a_no_op(harness: RuntimeHarness) -> None:
    spec = harness.spec(harness.two_pools[:1], steps=1)

    harness.launch(spec)
    harness.launch(spec)
    harness.wait_for_state(spec.attempt_id, "succeeded")
    harness.launch(spec)
    observation = harness.observe()

    assert [a.attempt_id for a in observation.attempts].count(spec.attempt_id) == 1
    assert observation.attempt(spec.attempt_id).state == "succeeded"  # type: ignore[union-attr]
    assert len(harness.reports_of(spec.attempt_id)) == 1


def test_a_forgotten_attempt_leaves_the_observations_but_its_request_id_stays_used(harness: RuntimeHarness) -> None:
    spec = harness.spec(harness.two_pools[:1], steps=1)
    harness.launch(spec)
    harness.runtime.forget(spec.attempt_id)  # still live: a no-op
    harness.wait_for_state(spec.attempt_id, "succeeded")

    harness.runtime.forget(spec.attempt_id)
    harness.runtime.launch(spec)

    assert harness.observe().attempt(spec.attempt_id) is None
    with pytest.raises(ConflictError):
        harness.runtime.launch(replace(spec, request_id=f"{spec.request_id}-again"))


def test_a_different_spec_under_a_used_request_id_or_attempt_id_conflicts(harness: RuntimeHarness) -> None:
    spec = harness.spec(harness.two_pools[:1], steps=0)
    harness.launch(spec)

    with pytest.raises(ConflictError):
        harness.runtime.launch(with_env(spec, EXTRA="1"))
    with pytest.raises(ConflictError):
        harness.runtime.launch(replace(spec, request_id=f"{spec.request_id}-other"))


def test_a_malformed_spec_is_refused_naming_the_field_and_nothing_is_recorded(harness: RuntimeHarness) -> None:
    good = harness.spec(harness.two_pools, steps=1)
    out_of_order = replace(good, ranks=(replace(good.ranks[1], rank=1), replace(good.ranks[0], rank=1)))
    bad_function = replace(good, entrypoint="not a function reference")

    with pytest.raises(InvalidInputError) as order_error:
        harness.runtime.launch(out_of_order)
    with pytest.raises(InvalidInputError) as entrypoint_error:
        harness.runtime.launch(bad_function)

    assert order_error.value.field == "ranks[0].rank"
    assert entrypoint_error.value.field == "entrypoint"
    assert harness.observe().attempt(good.attempt_id) is None


@pytest.mark.parametrize("problem", ["unknown node", "cordoned node", "too many devices"])
def test_a_launch_the_cluster_cannot_run_is_rejected_and_can_be_retried(harness: RuntimeHarness,
                                                                          problem: str) -> None:
    node = harness.definition.nodes[0]
    spec = harness.spec([node.name], steps=1)
    if problem == "unknown node":
        spec = replace(spec, ranks=(replace(spec.ranks[0], node="no-such-node"),))
    elif problem == "cordoned node":
        harness.runtime.cordon(node.name)
    else:
        spec = replace(spec, ranks=(replace(spec.ranks[0], devices=node.devices + 1),))

    with pytest.raises(LaunchRejected) as rejected:
        harness.runtime.launch(spec)

    assert rejected.value.field == "ranks[0].node"
    assert harness.observe().attempt(spec.attempt_id) is None
    if problem == "cordoned node":
        assert harness.observe().node(node.name).cordoned  # type: ignore[union-attr]
        harness.runtime.uncordon(node.name)
        harness.launch(spec)
        assert harness.wait_for_state(spec.attempt_id, "succeeded").state == "succeeded"


def test_cordoning_an_unknown_node_is_not_found(harness: RuntimeHarness) -> None:
    with pytest.raises(NotFoundError):
        harness.runtime.cordon("no-such-node")


# -- stopping ---------------------------------------------------------------------------------


def test_stopping_an_unknown_or_finished_attempt_is_a_no_op(harness: RuntimeHarness) -> None:
    spec = harness.spec(harness.two_pools[:1], steps=1)
    harness.launch(spec)
    harness.wait_for_state(spec.attempt_id, "succeeded")

    harness.runtime.stop("attempt-that-never-was")
    harness.runtime.stop(spec.attempt_id)
    harness.runtime.stop(spec.attempt_id, grace_s=5)

    assert harness.attempt(spec.attempt_id).state == "succeeded"


def test_a_graceful_stop_lets_the_ranks_leave_at_a_step_boundary(harness: RuntimeHarness) -> None:
    spec = harness.spec(harness.two_pools, steps=0, delay_s=0.1)
    harness.launch(spec)
    harness.wait_for_reports(spec.attempt_id, 2)

    harness.runtime.stop(spec.attempt_id, grace_s=30)
    assert harness.attempt(spec.attempt_id).state in ("stopping", "stopped")
    attempt = harness.wait_for_state(spec.attempt_id, "stopped", "failed", "succeeded", "lost")

    assert attempt.state == "stopped"
    assert attempt.reason == "stopped on request"
    assert all(rank.exit_code == 0 for rank in attempt.ranks)


def test_a_rank_ignoring_a_graceful_stop_is_ended_when_the_grace_period_is_over(harness: RuntimeHarness) -> None:
    spec = harness.spec(harness.two_pools[:1], steps=0, delay_s=0.1, ignore_stop=True)
    harness.launch(spec)
    harness.wait_for_reports(spec.attempt_id, 1)

    harness.runtime.stop(spec.attempt_id, grace_s=1.0)
    attempt = harness.wait_for_state(spec.attempt_id, "stopped", "failed", "succeeded", "lost")

    assert attempt.state == "stopped"
    assert "grace period over" in (attempt.reason or "")
    assert attempt.ranks[0].exit_code is None


def test_an_immediate_stop_ends_the_attempt_at_once(harness: RuntimeHarness) -> None:
    spec = harness.spec(harness.two_pools, steps=0)
    harness.launch(spec)
    harness.wait_for_state(spec.attempt_id, "running")

    harness.runtime.stop(spec.attempt_id)
    attempt = harness.attempt(spec.attempt_id)

    assert attempt.state == "stopped"
    assert not any(rank.alive for rank in attempt.ranks)


# -- failures --------------------------------------------------------------------------------


def test_a_rank_that_raises_fails_the_attempt_with_its_error_in_its_log(harness: RuntimeHarness) -> None:
    spec = harness.spec(harness.two_pools, steps=0, delay_s=0.1, fail_rank=1, fail_at_step=2)
    harness.launch(spec)

    attempt = harness.wait_for_state(spec.attempt_id, "failed", "succeeded", "stopped", "lost")

    assert attempt.state == "failed"
    assert attempt.reason == "rank 1 failed: RuntimeError: probe failure on rank 1 at step 2"
    assert attempt.ranks[1].exit_code == 1
    assert attempt.ranks[1].error == "RuntimeError: probe failure on rank 1 at step 2"
    assert attempt.ranks[1].log_tail[-1] == "RuntimeError: probe failure on rank 1 at step 2"
    assert harness.runtime.logs(spec.attempt_id, 1)[-1] == "RuntimeError: probe failure on rank 1 at step 2"
    assert not attempt.ranks[0].alive


def test_losing_a_node_loses_its_attempts_so_the_controller_can_retry_elsewhere(harness: RuntimeHarness) -> None:
    survivor, doomed = harness.two_pools
    spec = harness.spec([survivor, doomed], steps=0, delay_s=0.1)
    harness.launch(spec)
    harness.wait_for_reports(spec.attempt_id, 1)

    harness.lose_node(doomed)
    attempt = harness.wait_for_state(spec.attempt_id, "lost", "failed", "stopped", "succeeded")
    observation = harness.observe()

    assert attempt.state == "lost"
    assert attempt.reason == f"node lost: {doomed}"
    assert observation.node(doomed) is not None and not observation.node(doomed).alive  # type: ignore[union-attr]
    with pytest.raises(LaunchRejected):
        harness.runtime.launch(harness.spec([doomed]))
    harness.restore_node(doomed)
    harness.wait_until(lambda seen: bool(seen.node(doomed) and seen.node(doomed).alive),  # type: ignore[union-attr]
                       f"{doomed} to come back")


def test_logs_of_an_unknown_attempt_or_rank_are_not_found(harness: RuntimeHarness) -> None:
    spec = harness.spec(harness.two_pools[:1], steps=1)
    harness.launch(spec)

    with pytest.raises(NotFoundError):
        harness.runtime.logs("attempt-that-never-was", 0)
    with pytest.raises(NotFoundError):
        harness.runtime.logs(spec.attempt_id, 5)


# -- checkpoints and notices -------------------------------------------------------------------


def test_a_requested_checkpoint_is_committed_and_reported_once(harness: RuntimeHarness) -> None:
    spec = harness.spec(harness.two_pools, steps=0, delay_s=0.1)
    harness.launch(spec)
    harness.wait_for_reports(spec.attempt_id, 1)

    harness.runtime.request_checkpoint(spec.attempt_id)
    harness.wait_until(lambda _: any(c.attempt_id == spec.attempt_id for c in harness.commits), "a checkpoint")
    harness.runtime.stop(spec.attempt_id)
    harness.observe()

    commits = [commit for commit in harness.commits if commit.attempt_id == spec.attempt_id]
    assert len(commits) == 1
    assert commits[0].step >= 1
    assert commits[0].uri.startswith(spec.checkpoint_uri or "")


def test_a_notice_is_delivered_exactly_once(harness: RuntimeHarness) -> None:
    node = harness.definition.nodes[0].name
    notice = Notice(node=node, kind="preemption", deadline=harness.runtime.now() + 120, source="contract-test")

    harness.post_notice(notice)
    harness.observe()
    harness.observe()

    assert harness.notices == [notice]


def test_events_after_an_acknowledged_cursor_are_not_delivered_again(harness: RuntimeHarness) -> None:
    spec = harness.spec(harness.two_pools[:1], steps=2)
    harness.launch(spec)
    harness.wait_for_state(spec.attempt_id, "succeeded")
    first = harness.observe()

    again = harness.runtime.observe(first.cursor)

    assert [r for r in again.step_reports if r.attempt_id == spec.attempt_id] == []
    assert again.cursor >= first.cursor


def test_rank_specs_carry_devices_and_local_ranks_per_node(harness: RuntimeHarness) -> None:
    node = harness.definition.nodes[0].name
    spec = harness.spec([node, node], steps=1)

    harness.launch(spec)
    attempt = harness.wait_for_state(spec.attempt_id, "succeeded", "failed")

    assert attempt.state == "succeeded", attempt.reason
    assert spec.ranks[1] == RankSpec(rank=1, node=node, local_rank=1, coordinates={"dp": 1}, devices=1)
