"""Choice of accelerator type and pool: cost per unit of work, spot risk, deadlines, budgets, fit."""

from __future__ import annotations

from controlplane.catalog import default_accelerator_catalog
from controlplane.perfmodel import Layout
from controlplane.scheduling import Scheduler
from controlplane.scheduling.choice import spot_goodput
from controlplane.scheduling.estimates import ModeledRates
from tests.unit.scheduling.scheduling_factories import job, pool, snap

# 4-device gangs. FAST: 1 step/s at $4/device-hour -> $4.44 per 1k steps; SLOW: 0.25 steps/s at $2 -> $8.89
FAST = pool("fast", "FAST", price=4.0)
SLOW = pool("slow", "SLOW", price=2.0)
NODES = {"fast": 1, "slow": 1}


def chosen(snapshot, policy: str = "suanli") -> str:  # type: ignore[no-untyped-def]
    (admit,) = Scheduler(policy).plan(snapshot).admits()
    return admit.pool


def test_suanli_picks_the_lowest_cost_per_unit_of_work_not_per_hour() -> None:
    snapshot = snap([job("j", 4)], [SLOW, FAST], NODES)
    assert chosen(snapshot) == "fast"
    assert chosen(snapshot, "cheapest") == "slow"
    assert chosen(snapshot, "fifo") == "slow"  # first pool in the snapshot


def test_with_free_capacity_priced_at_zero_the_fastest_type_wins() -> None:
    snapshot = snap([job("j", 4)], [pool("slow", "SLOW"), pool("fast", "FAST")], NODES)
    assert chosen(snapshot) == "fast"


def test_the_admission_reason_shows_the_cost_and_rate() -> None:
    (admit,) = Scheduler().plan(snap([job("j", 4)], [SLOW, FAST], NODES)).admits()
    assert admit.reason.startswith("admitted on fast: $4.44/1k steps, 1 steps/s on FAST, done in ~1h01m")


def test_spot_pools_are_discounted_by_their_preemption_rate() -> None:
    risky = pool("risky", "FAST", price=3.0, capacity_type="spot", preemption_rate=2.0)
    safe = pool("safe", "FAST", price=4.0)
    gang = job("j", 4, checkpoint_interval_s=3600.0, restart_overhead_s=600.0)
    # 2 losses per node-hour x (30 min + 10 min) lost each: goodput 1 / (1 + 2 x 2400/3600) = 3/7
    assert abs(spot_goodput(gang, risky) - 3 / 7) < 1e-9
    assert chosen(snap([gang], [risky, safe], {"risky": 1, "safe": 1})) == "safe"
    calm = pool("calm", "FAST", price=3.0, capacity_type="spot", preemption_rate=0.01)
    assert chosen(snap([gang], [calm, safe], {"calm": 1, "safe": 1})) == "calm"


def test_a_job_that_refuses_spot_never_lands_on_spot() -> None:
    spot = pool("spot", "FAST", price=0.5, capacity_type="spot")
    result = Scheduler().plan(snap([job("j", 4, spot_allowed=False)], [spot], {"spot": 1}))
    assert "spot: spot pool, and the job does not allow spot" in result.waits()["j"].reason


def test_a_deadline_favours_the_option_that_meets_it_even_at_a_higher_cost() -> None:
    cheap_slow = pool("cheap", "SLOW", price=0.1)
    gang = job("j", 4, steps=3600.0, deadline=2 * 3600.0)  # 1 h on FAST, 4 h on SLOW
    assert chosen(snap([gang], [cheap_slow, FAST], {"cheap": 1, "fast": 1})) == "fast"


def test_a_budget_rules_out_options_that_would_overspend() -> None:
    gang = job("j", 4, steps=3600.0, budget_dollars=10.0)  # FAST: 1 h x $16/h = $16 > $10
    result = Scheduler().plan(snap([gang], [FAST], {"fast": 1}))
    assert "over the remaining budget $10" in result.waits()["j"].reason


def test_max_dollars_per_hour_rules_out_expensive_pools() -> None:
    result = Scheduler().plan(snap([job("j", 4, max_dollars_per_hour=10.0)], [FAST], {"fast": 1}))
    assert "$16/h exceeds the job's maxDollarsPerHour $10" in result.waits()["j"].reason


def test_does_not_fit_reasons_name_every_type_and_why() -> None:
    small = pool("small", "MID", memory_gib=16.0)
    narrow = pool("narrow", "FAST", devices_per_node=2)
    gang = job("j", 8, allowed_types=("MID", "FAST"), min_memory_gib=40.0, layout=Layout(tp=4, dp=2))
    result = Scheduler().plan(snap([gang], [SLOW, small, narrow], {"slow": 2, "small": 2, "narrow": 4}))
    reason = result.waits()["j"].reason
    assert reason.startswith("waiting: cannot run on any pool: ")
    assert "SLOW: not among the job's types (MID, FAST)" in reason
    assert "MID: 16 GiB per device, below the job's minMemoryGiB 40" in reason
    assert "FAST: tp=4 must stay inside one node, and its nodes have 2 devices" in reason


def test_the_performance_model_says_when_a_model_does_not_fit_in_memory() -> None:
    from tests.unit.perfmodel.perfmodel_factories import llama3_70b

    catalog = default_accelerator_catalog()
    estimator = ModeledRates(catalog.get, allow_replan=False)
    huge = job("llama", 8, model=llama3_70b(), layout=Layout(tp=1, dp=8, micro_batches=64))
    estimate = estimator.estimate(huge, "V100", 8)
    assert not estimate.fits and estimate.reason is not None and "GiB" in estimate.reason
    fits = estimator.estimate(job("llama", 64, model=llama3_70b(), layout=Layout(tp=8, pp=8, micro_batches=64)),
                              "H100-SXM", 8)
    assert fits.fits and fits.steps_per_second and fits.steps_per_second > 0


def test_an_unknown_rate_is_a_does_not_fit_reason() -> None:
    result = Scheduler().plan(snap([job("j", 4, workload_type="unknown")], [FAST], {"fast": 1}))
    assert "FAST: no rate for unknown on FAST" in result.waits()["j"].reason
