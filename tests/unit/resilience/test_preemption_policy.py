"""Preemption-rate awareness: too many preemptions in a window pin a job or pool to on-demand, with hysteresis."""

from __future__ import annotations

import pytest

from controlplane.resilience.preemption_policy import (
    PreemptionLimit,
    PreemptionRateTracker,
    RiskState,
    assess_preemption_risk,
    job_scope,
    pool_scope,
)
from jobspecs import SpotPolicy

HOUR = 3600.0
LIMIT = PreemptionLimit(max_preemptions=2, window_s=HOUR, min_hold_s=HOUR)


def test_the_spec_rate_becomes_a_limit_and_no_rate_means_no_limit() -> None:
    assert PreemptionLimit.from_rate(None) is None
    assert PreemptionLimit.from_rate(2.0) == PreemptionLimit(max_preemptions=2)
    assert PreemptionLimit.from_rate(1.5, window_s=2 * HOUR) == PreemptionLimit(max_preemptions=3, window_s=2 * HOUR)
    assert PreemptionLimit.from_spot_policy(SpotPolicy(max_preemptions_per_hour=4)) == PreemptionLimit(4)
    with pytest.raises(ValueError):
        PreemptionLimit.from_rate(-1.0)


def test_up_to_the_limit_spot_stays_and_above_it_on_demand_is_preferred() -> None:
    at_limit = assess_preemption_risk([100.0, 200.0], 300.0, LIMIT)
    assert not at_limit.prefer_on_demand
    over = assess_preemption_risk([100.0, 200.0, 250.0], 300.0, LIMIT)
    assert over.prefer_on_demand and over.changed
    assert over.state == RiskState(True, 300.0)
    assert "3 preemptions" in over.reason and "limit of 2" in over.reason


def test_old_preemptions_slide_out_of_the_window() -> None:
    assert not assess_preemption_risk([0.0, 10.0, 20.0], HOUR + 30.0, LIMIT).prefer_on_demand


def test_release_needs_both_the_hold_time_and_a_quiet_window() -> None:
    tripped = RiskState(True, since=1000.0)
    quiet_but_early = assess_preemption_risk([], 1000.0 + HOUR / 2, LIMIT, tripped)
    assert quiet_but_early.prefer_on_demand and "held on-demand" in quiet_but_early.reason
    late_but_busy = assess_preemption_risk([1000.0 + HOUR + 1, 1000.0 + HOUR + 2], 1000.0 + HOUR + 5, LIMIT, tripped)
    assert late_but_busy.prefer_on_demand  # 2 in the window > release level 1
    released = assess_preemption_risk([1000.0 + HOUR + 1], 1000.0 + HOUR + 5, LIMIT, tripped)
    assert not released.prefer_on_demand and released.changed


def test_the_tracker_counts_per_job_and_per_pool_and_either_can_trip() -> None:
    tracker = PreemptionRateTracker({job_scope("careful"): PreemptionLimit(max_preemptions=0)},
                                    default_limit=PreemptionLimit(max_preemptions=5))
    tracker.record(10.0, job_id="careful", pool="spot-h100")
    assert tracker.verdict_for(20.0, job_id="careful", pool="spot-h100").prefer_on_demand
    assert not tracker.verdict_for(20.0, job_id="other", pool="spot-h100").prefer_on_demand
    for t in range(6):
        tracker.record(30.0 + t, job_id=f"job-{t}", pool="spot-h100")
    verdict = tracker.verdict_for(40.0, job_id="other", pool="spot-h100")
    assert verdict.prefer_on_demand and verdict.scope == pool_scope("spot-h100")
    assert tracker.state(pool_scope("spot-h100")).prefer_on_demand


def test_a_restarted_controller_restores_the_tracker_state() -> None:
    tracker = PreemptionRateTracker(default_limit=LIMIT)
    tracker.restore(job_scope("j"), RiskState(True, since=0.0), [10.0, 20.0, 30.0])
    assert tracker.verdict_for(100.0, job_id="j").prefer_on_demand
