"""Rounds are pure: the same snapshot always gives the same decisions, and the snapshot is untouched."""

from __future__ import annotations

import random

from controlplane.scheduling import ClusterSnapshot, Scheduler
from tests.unit.scheduling.scheduling_factories import job, pool, snap

POOLS = [pool("fast", "FAST", price=4.0), pool("slow", "SLOW", price=1.0), pool("mid", "MID", price=2.0)]
NODES = {"fast": 3, "slow": 3, "mid": 3}


def workload(seed: int) -> list:  # type: ignore[type-arg]
    rng = random.Random(seed)
    return [job(f"j{i:02d}", rng.choice([1, 2, 4, 8]), team=rng.choice(["a", "b", "c"]), priority=rng.randrange(5),
                steps=rng.uniform(100, 10_000), submitted_at=rng.uniform(0, 100)) for i in range(40)]


def as_dicts(snapshot: ClusterSnapshot, policy: str) -> list[dict]:  # type: ignore[type-arg]
    return [decision.to_dict() for decision in Scheduler(policy).plan(snapshot).decisions]


def test_the_same_snapshot_gives_the_same_decisions_for_every_policy() -> None:
    jobs = workload(7)
    for policy in ("suanli", "fifo", "las", "cheapest"):
        first = as_dicts(snap(jobs, POOLS, NODES, now=200.0), policy)
        second = as_dicts(snap(jobs, POOLS, NODES, now=200.0), policy)
        assert first == second


def test_the_order_jobs_are_listed_in_does_not_matter() -> None:
    jobs = workload(11)
    shuffled = list(jobs)
    random.Random(3).shuffle(shuffled)
    assert as_dicts(snap(jobs, POOLS, NODES), "suanli") == as_dicts(snap(shuffled, POOLS, NODES), "suanli")


def test_planning_never_changes_the_snapshot_topology() -> None:
    snapshot = snap(workload(5), POOLS, NODES)
    before = snapshot.topology.state.free.copy()
    scheduler = Scheduler()
    scheduler.plan(snapshot)
    scheduler.plan(snapshot)
    assert (snapshot.topology.state.free == before).all()


def test_every_pending_job_gets_exactly_one_decision() -> None:
    snapshot = snap(workload(9), POOLS, NODES)
    result = Scheduler().plan(snapshot)
    ids = [d.job_id for d in result.decisions]
    assert sorted(ids) == sorted(j.job_id for j in snapshot.jobs)
    assert result.stats.admitted + result.stats.waiting == len(snapshot.jobs)
