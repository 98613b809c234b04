"""Preemption: lower priority and borrowed capacity make room, the cheapest victims first, no thrashing."""

from __future__ import annotations

from controlplane.scheduling import Scheduler
from controlplane.scheduling.preemption import Victim, choose_victims, lost_work_s
from tests.unit.scheduling.scheduling_factories import job, pool, snap

FAST = pool("fast", "FAST")
HOUR = 3600.0


def victim(name: str, devices: int = 4, *, lost: float = 100.0, spot: bool = False, priority: int = 3) -> Victim:
    return Victim(job_id=name, pool="fast", devices=devices, lost_work_s=lost, restart_overhead_s=0.0, spot=spot,
                  priority=priority, started_at=0.0)


def test_victims_on_spot_capacity_go_first() -> None:
    chosen = choose_victims([victim("on-demand", lost=1.0), victim("spot", lost=500.0, spot=True)], needed=4,
                            free_now=0)
    assert [v.job_id for v in chosen or []] == ["spot"]


def test_victims_that_lose_the_least_work_since_their_checkpoint_go_first() -> None:
    chosen = choose_victims([victim("fresh-ckpt", lost=60.0), victim("stale-ckpt", lost=3000.0)], needed=4, free_now=0)
    assert [v.job_id for v in chosen or []] == ["fresh-ckpt"]


def test_no_victim_is_stopped_for_nothing() -> None:
    # taking "small" first is not enough; once "big" is needed, "small" is not needed any more
    chosen = choose_victims([victim("small", 2, lost=1.0), victim("big", 8, lost=10.0)], needed=8, free_now=0)
    assert [v.job_id for v in chosen or []] == ["big"]


def test_none_when_even_every_victim_would_not_make_room() -> None:
    assert choose_victims([victim("a", 2)], needed=8, free_now=1) is None
    assert choose_victims([], needed=2, free_now=2) == []


def test_lost_work_counts_from_the_last_checkpoint_or_the_start() -> None:
    assert lost_work_s(1000.0, started_at=100.0, last_checkpoint_at=None) == 900.0
    assert lost_work_s(1000.0, started_at=100.0, last_checkpoint_at=700.0) == 300.0
    assert lost_work_s(1000.0, started_at=800.0, last_checkpoint_at=700.0) == 200.0


def running_low_priority(now: float = 2 * HOUR, **fields: object):  # type: ignore[no-untyped-def]
    jobs = [job("low-a", 4, priority=3, last_checkpoint_at=now - 60, **fields),
            job("low-b", 4, priority=3, last_checkpoint_at=now - 3000),
            job("urgent", 4, priority=1, submitted_at=now)]
    return snap(jobs, [FAST], {"fast": 2}, now=now, running={"low-a": ("fast", 4, 0.0), "low-b": ("fast", 4, 0.0)})


def test_a_higher_priority_job_preempts_the_victim_losing_least_work() -> None:
    result = Scheduler().plan(running_low_priority())
    (preempt,) = result.preempts()
    assert preempt.job_id == "low-a" and preempt.preempt_kind == "priority"
    assert preempt.lost_work_s == 60.0
    assert "preempted for higher-priority job urgent (high > low)" in preempt.reason
    (admit,) = result.admits()
    assert admit.job_id == "urgent" and admit.preempts == ("low-a",)
    assert set(admit.devices) == set(running_low_priority().attempts_by_job()["low-a"].devices)


def test_attempts_younger_than_the_minimum_run_time_are_not_preempted() -> None:
    result = Scheduler().plan(running_low_priority(now=300.0))
    assert result.preempts() == [] and result.admits() == []


def test_non_preemptible_jobs_are_never_victims() -> None:
    jobs = [job("pinned", 8, priority=4, preemptible=False), job("urgent", 4, priority=0, submitted_at=HOUR)]
    snapshot = snap(jobs, [FAST], {"fast": 2}, now=2 * HOUR, running={"pinned": ("fast", 8, 0.0)})
    assert Scheduler().plan(snapshot).preempts() == []


def test_equal_priority_never_preempts() -> None:
    jobs = [job("first", 8), job("second", 8, submitted_at=HOUR)]
    snapshot = snap(jobs, [FAST], {"fast": 2}, now=2 * HOUR, running={"first": ("fast", 8, 0.0)})
    assert Scheduler().plan(snapshot).preempts() == []


def test_baseline_policies_do_not_preempt_for_priority() -> None:
    for policy in ("fifo", "cheapest"):
        assert Scheduler(policy).plan(running_low_priority()).preempts() == []


def test_las_time_slices_the_job_with_most_attained_service() -> None:
    jobs = [job("veteran", 8, attained_service_s=10 * HOUR * 8), job("newcomer", 8, submitted_at=HOUR)]
    snapshot = snap(jobs, [FAST], {"fast": 2}, now=2 * HOUR, running={"veteran": ("fast", 8, 0.0)})
    result = Scheduler("las").plan(snapshot)
    (preempt,) = result.preempts()
    assert preempt.job_id == "veteran" and preempt.preempt_kind == "time-slice"
    assert [a.job_id for a in result.admits()] == ["newcomer"]
