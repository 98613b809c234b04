"""Re-planning: a running job moves to a clearly better pool when one frees up."""

from __future__ import annotations

from controlplane.scheduling import Migrate, Scheduler
from tests.unit.scheduling.scheduling_factories import job, pool, snap

HOUR = 3600.0
SLOW = pool("slow", "SLOW")
FAST = pool("fast", "FAST")


def on_slow(now: float, **fields: object):  # type: ignore[no-untyped-def]
    jobs = [job("j", 4, steps=100 * HOUR, **fields)]
    return snap(jobs, [SLOW, FAST], {"slow": 1, "fast": 1}, now=now, running={"j": ("slow", 4, 0.0)})


def test_a_job_on_a_slow_type_moves_to_a_free_fast_type() -> None:
    result = Scheduler().plan(on_slow(now=HOUR))
    (migration,) = result.migrations()
    assert isinstance(migration, Migrate)
    assert migration.from_pool == "slow" and migration.to.pool == "fast"
    assert migration.reason.startswith("re-planned from slow (SLOW) to fast")


def test_no_move_before_the_minimum_run_time() -> None:
    assert Scheduler().plan(on_slow(now=60.0)).migrations() == []


def test_no_move_when_the_gain_does_not_cover_the_restart() -> None:
    nearly_done = on_slow(now=HOUR, done_steps=100 * HOUR - 10, restart_overhead_s=600.0)
    assert Scheduler().plan(nearly_done).migrations() == []


def test_non_preemptible_jobs_are_not_moved() -> None:
    assert Scheduler().plan(on_slow(now=HOUR, preemptible=False)).migrations() == []


def test_baselines_never_migrate() -> None:
    for policy in ("fifo", "las", "cheapest"):
        assert Scheduler(policy).plan(on_slow(now=HOUR)).migrations() == []
