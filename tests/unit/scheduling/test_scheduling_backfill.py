"""EASY backfill: the head-of-line job gets a reservation that later jobs never delay."""

from __future__ import annotations

from controlplane.scheduling import Scheduler
from controlplane.scheduling.backfill import ReleaseForecast, Reservation
from tests.unit.scheduling.scheduling_factories import job, pool, snap

FAST = pool("fast", "FAST")


def blocked_head_snapshot(*extra):  # type: ignore[no-untyped-def]
    """8 devices; a running job holds 6 and ends in 1000 s; the head needs all 8."""
    jobs = [job("running", 6, steps=1000.0), job("head", 8, submitted_at=1), *extra]
    return snap(jobs, [FAST], {"fast": 2}, running={"running": ("fast", 6, 0.0)})


def test_the_blocked_head_of_line_job_gets_a_reserved_start() -> None:
    result = Scheduler().plan(blocked_head_snapshot())
    reason = result.waits()["head"].reason
    assert "reserved start in ~17m on fast" in reason


def test_a_short_job_backfills_when_it_ends_before_the_reserved_start() -> None:
    short = job("short", 2, steps=500.0, submitted_at=2)
    (admit,) = Scheduler().plan(blocked_head_snapshot(short)).admits()
    assert admit.job_id == "short" and admit.backfilled
    assert "backfilled without delaying the reserved job" in admit.reason


def test_a_long_job_that_would_delay_the_head_waits_behind_it() -> None:
    long = job("long", 2, steps=5000.0, submitted_at=2)
    result = Scheduler().plan(blocked_head_snapshot(long))
    assert result.admits() == []
    assert "behind job head (reserved to start in ~17m)" in result.waits()["long"].reason


def test_without_backfill_a_policy_lets_the_long_job_jump_the_queue() -> None:
    long = job("long", 2, steps=5000.0, submitted_at=2)
    assert [a.job_id for a in Scheduler("fifo").plan(blocked_head_snapshot(long)).admits()] == ["long"]


def test_other_pools_are_not_held_back_by_the_reservation() -> None:
    other = pool("other", "FAST")
    jobs = [job("running", 6, steps=1000.0), job("head", 8, submitted_at=1), job("long", 2, steps=9e4, submitted_at=2)]
    snapshot = snap(jobs, [FAST, other], {"fast": 2, "other": 1}, running={"running": ("fast", 6, 0.0)})
    result = Scheduler().plan(snapshot)
    assert {(a.job_id, a.pool) for a in result.admits()} == {("long", "other")}


def test_spare_devices_at_the_shadow_time_may_be_used_by_long_jobs() -> None:
    forecast = ReleaseForecast()
    forecast.add("fast", 100.0, 6)
    assert forecast.shadow("fast", free_now=4, needed=8) == (100.0, 2)
    reservation = Reservation(job_id="head", pool="fast", devices=8, start_in_s=100.0, spare=2)
    assert not reservation.blocks("fast", 2, finish_s=1e6)
    reservation.charge("fast", 2, finish_s=1e6)
    assert reservation.blocks("fast", 1, finish_s=1e6)
    assert not reservation.blocks("fast", 1, finish_s=50.0)
    assert not reservation.blocks("elsewhere", 64, finish_s=1e6)


def test_a_release_that_never_comes_makes_no_reservation() -> None:
    forecast = ReleaseForecast()
    forecast.add("fast", float("inf"), 8)
    assert forecast.shadow("fast", free_now=0, needed=8) is None
