"""The response to a spot notice: checkpoint in the window when it fits, stop cleanly, re-plan by goodput per dollar."""

from __future__ import annotations

import math

import pytest

from controlplane.resilience.spot_response import (
    AttemptView,
    CheckpointHistory,
    CheckpointTier,
    InFlightCheckpoint,
    PoolOption,
    ResponseSettings,
    SpotPolicyView,
    estimate_seconds,
    plan_hard_loss,
    plan_notice_response,
    plan_rebalance,
    plan_regrow,
)
from controlplane.runtime.types import Notice

NOW = 10_000.0
NODES = ("n0", "n1", "n2", "n3")
ATTEMPT = AttemptView("job", "a1", "spot-h100", NODES, devices_per_node=8, replica_devices=8, data_parallel=4,
                      step_seconds=2.0, current_step=1000, price_per_device_hour=2.0)
MEMORY = CheckpointTier("memory://", persist_seconds=0.0, survives_node_loss=False)
PEER = CheckpointTier("peer://", persist_seconds=20.0, survives_node_loss=True, peer_nodes=("n1",))
REMOTE = CheckpointTier("s3://ckpt/job", persist_seconds=60.0, survives_node_loss=True)
HISTORY = CheckpointHistory(snapshot_seconds=4.0, last_durable_step=900, last_durable_time=NOW - 200)


def notice(node: str = "n0", warning_s: float = 120.0) -> Notice:
    return Notice(node, "preemption", NOW + warning_s, "aws-imds:terminate")


def spot_home(free_devices: int = 0, wait_s: float = math.inf, rate: float = 0.0) -> PoolOption:
    return PoolOption("spot-h100", "H100", "spot", free_devices, 32, 2.0, 0.5, restart_seconds=90.0,
                      preemption_rate_per_node_hour=rate, devices_per_node=8, expected_capacity_wait_s=wait_s)


ON_DEMAND = PoolOption("od-h100", "H100", "on-demand", 64, 32, 6.0, 0.5, restart_seconds=150.0, devices_per_node=8)


# -- checkpoint in the window ------------------------------------------------------------------

def test_a_checkpoint_that_fits_goes_to_the_fastest_tier_that_survives_the_node() -> None:
    plan = plan_notice_response([notice()], NOW, ATTEMPT, HISTORY, [MEMORY, PEER, REMOTE], [spot_home()])

    assert plan.cordon == ("n0",)
    assert (plan.checkpoint.action, plan.checkpoint.tier) == ("checkpoint-now", "peer://")
    assert plan.checkpoint.start_at == NOW
    assert plan.checkpoint.expected_commit_at == NOW + (4.0 + 20.0) * 1.25
    assert plan.stop_at == NOW + 4.0 * 1.25  # training stops after the snapshot; the persist finishes meanwhile
    assert plan.hard_stop_at == NOW + 120 - 10
    assert (plan.resume_step, plan.expected_lost_steps) == (1000, 0)


def test_peer_memory_on_a_noticed_node_does_not_count_so_remote_storage_is_used() -> None:
    both = [notice("n0"), notice("n1")]
    plan = plan_notice_response(both, NOW, ATTEMPT, HISTORY, [MEMORY, PEER, REMOTE], [spot_home()])
    assert plan.checkpoint.tier == "s3://ckpt/job"
    assert plan.cordon == ("n0", "n1")


def test_when_nothing_fits_the_window_the_job_resumes_from_the_newest_durable_checkpoint() -> None:
    plan = plan_notice_response([notice(warning_s=30)], NOW, ATTEMPT, HISTORY, [MEMORY, REMOTE], [spot_home()])
    assert plan.checkpoint.action == "skip"
    assert "no checkpoint fits" in plan.checkpoint.reason
    assert (plan.resume_step, plan.expected_lost_steps, plan.stop_at) == (900, 100, NOW)


def test_observed_durations_override_the_prior_and_the_slowest_recent_one_counts() -> None:
    slow_peer = CheckpointTier("peer://", 20.0, True, observed_persist_seconds=(30.0, 95.0, 40.0))
    plan = plan_notice_response([notice()], NOW, ATTEMPT, HISTORY, [slow_peer, REMOTE], [spot_home()])
    assert plan.checkpoint.tier == "s3://ckpt/job"  # 95 s × 1.25 no longer fits, 60 s × 1.25 does
    assert estimate_seconds(20.0, (30.0, 95.0, 40.0), 1.0) == 95.0
    assert estimate_seconds(20.0, (), 1.5) == 30.0


def test_a_checkpoint_already_at_the_current_step_is_not_repeated() -> None:
    current = CheckpointHistory(4.0, last_durable_step=1000)
    plan = plan_notice_response([notice()], NOW, ATTEMPT, current, [REMOTE], [spot_home()])
    assert plan.checkpoint.action == "skip" and plan.expected_lost_steps == 0


def test_a_running_checkpoint_that_survives_is_awaited_when_a_new_one_would_not_fit() -> None:
    flight = InFlightCheckpoint("s3://ckpt/job", started_at=NOW - 30, step=985)
    history = CheckpointHistory(4.0, last_durable_step=900, in_flight=flight)
    plan = plan_notice_response([notice()], NOW, ATTEMPT, history, [REMOTE], [spot_home()])
    assert (plan.checkpoint.action, plan.resume_step) == ("await-running", 985)
    assert plan.expected_lost_steps == 15


def test_a_snapshot_in_host_memory_is_copied_on_when_the_node_is_going() -> None:
    flight = InFlightCheckpoint("memory://", started_at=NOW - 2, step=999)
    history = CheckpointHistory(4.0, last_durable_step=900, in_flight=flight)
    plan = plan_notice_response([notice(warning_s=40)], NOW, ATTEMPT, history, [MEMORY, PEER], [spot_home()])
    assert (plan.checkpoint.action, plan.checkpoint.tier, plan.resume_step) == ("persist-running", "peer://", 999)


def test_notices_for_other_nodes_are_refused() -> None:
    with pytest.raises(ValueError, match="none of the notices"):
        plan_notice_response([notice("elsewhere")], NOW, ATTEMPT, HISTORY, [REMOTE], [])


# -- re-planning -------------------------------------------------------------------------------

def test_free_capacity_in_the_same_pool_replaces_the_lost_node() -> None:
    plan = plan_notice_response([notice()], NOW, ATTEMPT, HISTORY, [REMOTE], [spot_home(free_devices=8), ON_DEMAND])
    assert (plan.replan.kind, plan.replan.pool, plan.replan.devices) == ("wait", "spot-h100", 32)
    assert "replace the lost nodes now" in plan.replan.reason


def test_without_capacity_the_job_shrinks_data_parallelism_on_the_survivors() -> None:
    plan = plan_notice_response([notice()], NOW, ATTEMPT, HISTORY, [REMOTE], [spot_home(wait_s=3 * 3600), ON_DEMAND])
    assert (plan.replan.kind, plan.replan.data_parallel, plan.replan.devices) == ("shrink", 3, 24)
    assert {o.kind for o in plan.alternatives} >= {"on-demand"}
    assert "dp 4→3" in plan.reason


def test_a_short_expected_wait_is_worth_it_when_the_job_cannot_shrink() -> None:
    single = AttemptView("job", "a1", "spot-h100", ("n0",), 8, 8, 1, 2.0, 1000, 2.0)
    home = PoolOption("spot-h100", "H100", "spot", 0, 8, 2.0, 0.5, 90.0, devices_per_node=8,
                      expected_capacity_wait_s=300.0)
    od = PoolOption("od-h100", "H100", "on-demand", 64, 8, 6.0, 0.5, 150.0, devices_per_node=8)
    assert plan_notice_response([notice()], NOW, single, HISTORY, [REMOTE], [home, od]).replan.kind == "wait"
    long_wait = PoolOption("spot-h100", "H100", "spot", 0, 8, 2.0, 0.5, 90.0, devices_per_node=8,
                           expected_capacity_wait_s=6000.0)
    assert plan_notice_response([notice()], NOW, single, HISTORY, [REMOTE], [long_wait, od]).replan.kind == "on-demand"


def test_a_high_preemption_rate_or_a_tripped_tracker_moves_the_job_to_on_demand() -> None:
    risky = spot_home(free_devices=8, rate=2.0)  # ~8 preemptions an hour for 4 nodes
    settings = ResponseSettings(preemption_loss_s=600.0)
    plan = plan_notice_response([notice()], NOW, ATTEMPT, HISTORY, [REMOTE], [risky, ON_DEMAND], settings=settings)
    assert plan.replan.kind == "on-demand"

    tripped = SpotPolicyView(prefer_on_demand=True, preference_reason="3 preemptions in the last 60 min")
    plan = plan_notice_response([notice()], NOW, ATTEMPT, HISTORY, [REMOTE], [spot_home(free_devices=8), ON_DEMAND],
                                tripped)
    assert plan.replan.kind == "on-demand" and "on-demand preferred" in plan.reason


def test_the_spot_policy_can_forbid_the_fallback() -> None:
    no_fallback = SpotPolicyView(fallback_to_on_demand=False)
    plan = plan_notice_response([notice()], NOW, ATTEMPT, HISTORY, [REMOTE], [spot_home(wait_s=600), ON_DEMAND],
                                no_fallback)
    assert all(option.kind != "on-demand" for option in (plan.replan, *plan.alternatives))


def test_with_nowhere_to_go_the_plan_is_to_wait_for_the_pool() -> None:
    single = AttemptView("job", "a1", "spot-h100", ("n0",), 8, 8, 1, 2.0, 1000, 2.0)
    plan = plan_notice_response([notice()], NOW, single, HISTORY, [REMOTE], [], SpotPolicyView())
    assert plan.replan.kind == "wait" and "no capacity anywhere" in plan.replan.reason


def test_the_plan_reads_as_a_timeline() -> None:
    plan = plan_notice_response([notice()], NOW, ATTEMPT, HISTORY, [PEER, REMOTE], [spot_home(free_devices=8)])
    assert [a.action for a in plan.actions] == ["cordon", "checkpoint-now", "stop", "replan"]
    assert [a.at for a in plan.actions] == sorted(a.at for a in plan.actions)
    assert plan.reason.startswith("preemption notice for n0, 120s to go")


# -- hard loss, regrow, rebalance ---------------------------------------------------------------

def test_a_loss_without_notice_resumes_from_the_newest_durable_checkpoint() -> None:
    plan = plan_hard_loss(["n2"], NOW, ATTEMPT, HISTORY, [spot_home(wait_s=7200), ON_DEMAND])
    assert (plan.checkpoint.action, plan.resume_step, plan.expected_lost_steps) == ("skip", 900, 100)
    assert plan.deadline is None and plan.replan.kind == "shrink"
    with pytest.raises(ValueError):
        plan_hard_loss(["elsewhere"], NOW, ATTEMPT, HISTORY, [])


def test_a_shrunk_job_grows_back_when_the_restart_pays_for_itself() -> None:
    shrunk = AttemptView("job", "a2", "spot-h100", NODES[:3], 8, 8, 3, 2.0, 1000, 2.0)
    grow = plan_regrow(shrunk, free_devices=8, target_data_parallel=4)
    assert (grow.grow, grow.data_parallel, grow.devices) == (True, 4, 32)
    assert not plan_regrow(shrunk, free_devices=4, target_data_parallel=4).grow  # half a replica
    nearly_done = AttemptView("job", "a2", "spot-h100", NODES[:3], 8, 8, 3, 2.0, 1000, 2.0, total_steps=1030)
    assert not plan_regrow(nearly_done, free_devices=8, target_data_parallel=4).grow


def test_a_job_on_on_demand_returns_to_spot_unless_on_demand_is_preferred() -> None:
    on_demand = AttemptView("job", "a3", "od-h100", NODES, 8, 8, 4, 2.0, 1000, 6.0, capacity_type="on-demand")
    spot_back = spot_home(free_devices=32)
    choice, _ = plan_rebalance(on_demand, [ON_DEMAND, spot_back])
    assert (choice.kind, choice.pool) == ("move", "spot-h100")
    held, note = plan_rebalance(on_demand, [ON_DEMAND, spot_back], SpotPolicyView(prefer_on_demand=True))
    assert held.kind == "stay" and "on-demand preferred" in note


def test_tiers_from_uris_know_what_survives() -> None:
    assert not CheckpointTier.from_uri("memory://", persist_seconds=1).survives(frozenset({"n0"}))
    assert not CheckpointTier.from_uri("file:///ckpt", persist_seconds=1).survives(frozenset())
    assert CheckpointTier.from_uri("file:///ckpt", persist_seconds=1, shared_filesystem=True).survives(frozenset())
    peer = CheckpointTier.from_uri("peer://", persist_seconds=1, peer_nodes=["n1", "n2"])
    assert peer.survives(frozenset({"n1"})) and not peer.survives(frozenset({"n1", "n2"}))
    assert CheckpointTier.from_uri("gs://bucket/p", persist_seconds=1).survives(frozenset({"n0"}))
