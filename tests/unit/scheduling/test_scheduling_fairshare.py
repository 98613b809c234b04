"""Order of admission: priority classes, weighted fair share across teams, FIFO, aging."""

from __future__ import annotations

from types import MappingProxyType

from controlplane.scheduling import QueueQuota, Scheduler
from controlplane.scheduling.ordering import FairShareOrder, effective_priority
from tests.unit.scheduling.scheduling_factories import job, pool, snap

FAST = pool("fast", "FAST")


def admitted(snapshot) -> list[str]:  # type: ignore[no-untyped-def]
    return [a.job_id for a in Scheduler().plan(snapshot).admits()]


def test_a_higher_priority_class_goes_first_even_if_submitted_later() -> None:
    jobs = [job("normal", 4, submitted_at=0), job("critical", 4, submitted_at=100, priority=0)]
    assert admitted(snap(jobs, [FAST], {"fast": 1})) == ["critical"]


def test_fifo_within_one_team_and_class() -> None:
    jobs = [job("second", 4, submitted_at=10), job("first", 4, submitted_at=5)]
    assert admitted(snap(jobs, [FAST], {"fast": 1})) == ["first"]


def test_the_team_with_the_smaller_dominant_share_goes_first() -> None:
    jobs = [job("busy-running", 4, team="busy"), job("busy-next", 4, team="busy", submitted_at=1),
            job("idle-next", 4, team="idle", submitted_at=50)]
    snapshot = snap(jobs, [FAST], {"fast": 2}, running={"busy-running": ("fast", 4, 0.0)})
    assert admitted(snapshot) == ["idle-next"]


def test_admissions_in_one_round_alternate_between_equal_teams() -> None:
    jobs = [job(f"a{i}", 4, team="a", submitted_at=i) for i in range(3)]
    jobs += [job(f"b{i}", 4, team="b", submitted_at=10 + i) for i in range(3)]
    assert admitted(snap(jobs, [FAST], {"fast": 4})) == ["a0", "b0", "a1", "b1"]


def test_queue_weight_scales_the_fair_share() -> None:
    queues = [QueueQuota(name="default", team="heavy", weight=3.0), QueueQuota(name="default", team="light")]
    jobs = [job(f"h{i}", 4, team="heavy", submitted_at=i) for i in range(4)]
    jobs += [job(f"l{i}", 4, team="light", submitted_at=i) for i in range(4)]
    order = admitted(snap(jobs, [FAST], {"fast": 4}, queues=queues))
    assert sum(1 for name in order if name.startswith("h")) == 3


def test_waiting_ages_a_job_one_class_per_aging_period() -> None:
    low = job("low", priority=4, submitted_at=0)
    assert effective_priority(low, now=0, aging_s=3600) == 4
    assert effective_priority(low, now=2 * 3600, aging_s=3600) == 2
    assert effective_priority(low, now=10 * 3600, aging_s=3600) == 0
    assert effective_priority(low, now=10 * 3600, aging_s=None) == 4


def test_an_aged_low_priority_job_overtakes_fresh_normal_jobs() -> None:
    jobs = [job("old-low", 4, priority=3, submitted_at=0), job("fresh", 4, submitted_at=2 * 86400)]
    assert admitted(snap(jobs, [FAST], {"fast": 1}, now=2 * 86400 + 1)) == ["old-low"]


def test_fair_share_order_is_total_and_deterministic() -> None:
    jobs = [job(f"j{i}", team=f"t{i % 3}", submitted_at=i % 2) for i in range(12)]
    first = [j.job_id for j in FairShareOrder(jobs, now=0, aging_s=None, share_of=lambda team: 0.0)]
    again = [j.job_id for j in FairShareOrder(list(reversed(jobs)), now=0, aging_s=None, share_of=lambda t: 0.0)]
    assert first == again and sorted(first) == sorted(j.job_id for j in jobs)


def test_quota_devices_mapping_is_case_insensitive() -> None:
    quota = QueueQuota(name="q", team="t", devices=MappingProxyType({"fast": 4}))
    assert quota.device_quota("FAST") == 4 and quota.device_quota("SLOW") == 0
