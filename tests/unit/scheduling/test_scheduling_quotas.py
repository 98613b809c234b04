"""Team quotas: guarantees, borrowing of idle capacity, limits, spend caps and reclaim."""

from __future__ import annotations

from types import MappingProxyType

from controlplane.scheduling import Admit, Preempt, QueueQuota, Scheduler, Wait
from tests.unit.scheduling.scheduling_factories import job, pool, snap

FAST = pool("fast", "FAST", price=2.0)


def queue(team: str, **fields: object) -> QueueQuota:
    devices = fields.pop("devices", {})
    return QueueQuota(name="default", team=team, devices=MappingProxyType(devices), **fields)  # type: ignore[arg-type]


def test_a_gang_within_its_device_quota_is_admitted_without_borrowing() -> None:
    snapshot = snap([job("a", 8, team="research")], [FAST], {"fast": 4},
                    queues=[queue("research", devices={"FAST": 8})])
    (admit,) = Scheduler().plan(snapshot).admits()
    assert admit.job_id == "a" and not admit.borrowed


def test_over_quota_without_borrowing_waits_and_says_which_quota() -> None:
    snapshot = snap([job("a", 4, team="research"), job("b", 4, team="research", submitted_at=1)], [FAST],
                    {"fast": 4}, queues=[queue("research", devices={"FAST": 4}, borrowing=False)])
    result = Scheduler().plan(snapshot)
    assert [a.job_id for a in result.admits()] == ["a"]
    assert "team research is at its FAST quota (4/4)" in result.waits()["b"].reason
    assert "does not borrow" in result.waits()["b"].reason


def test_over_quota_with_borrowing_runs_on_idle_capacity_and_is_marked_borrowed() -> None:
    snapshot = snap([job("a", 4, team="research"), job("b", 4, team="research", submitted_at=1)], [FAST],
                    {"fast": 4}, queues=[queue("research", devices={"FAST": 4})])
    admits = {a.job_id: a for a in Scheduler().plan(snapshot).admits()}
    assert not admits["a"].borrowed and admits["b"].borrowed
    assert "borrows idle capacity" in admits["b"].reason


def test_borrowing_stops_at_the_queue_borrow_limit() -> None:
    snapshot = snap([job("a", 4, team="research"), job("b", 4, team="research", submitted_at=1)], [FAST],
                    {"fast": 4}, queues=[queue("research", devices={"FAST": 2}, max_borrow_devices={"FAST": 3})])
    result = Scheduler().plan(snapshot)
    assert [(a.job_id, a.borrowed) for a in result.admits()] == [("a", True)]  # borrows 2 of its 3
    assert "may borrow at most 3 FAST (borrowing 2)" in result.waits()["b"].reason


def test_types_missing_from_a_listed_quota_have_none() -> None:
    slow = pool("slow", "SLOW")
    snapshot = snap([job("a", 4, team="research")], [slow], {"slow": 2},
                    queues=[queue("research", devices={"FAST": 8}, borrowing=False)])
    assert "at its SLOW quota (0/0)" in Scheduler().plan(snapshot).waits()["a"].reason


def test_normalized_units_count_h100_equivalents_across_types() -> None:
    half = pool("half", "SLOW", units=0.5)
    snapshot = snap([job("a", 4, team="research"), job("b", 4, team="research", submitted_at=1)], [half],
                    {"half": 4}, queues=[queue("research", normalized_units=2.0, borrowing=False)])
    result = Scheduler().plan(snapshot)
    assert [a.job_id for a in result.admits()] == ["a"]
    assert "normalized quota (2.0/2.0 H100-equivalents)" in result.waits()["b"].reason


def test_the_dollars_per_day_limit_is_never_borrowed() -> None:
    snapshot = snap([job("a", 4, team="research")], [FAST], {"fast": 4},
                    queues=[queue("research", dollars_per_day=100.0)])
    # 4 devices x $2/h x 24 h = $192/day
    result = Scheduler().plan(snapshot)
    assert result.admits() == []
    assert "would spend $192/day, over its queue's limit of $100/day" in result.waits()["a"].reason


def test_a_job_of_an_unknown_queue_waits() -> None:
    snapshot = snap([job("a", 1, team="nobody")], [FAST], {"fast": 1}, queues=[queue("research")])
    assert "queue nobody/default does not exist" in Scheduler().plan(snapshot).waits()["a"].reason


def test_a_queue_under_its_guarantee_reclaims_capacity_lent_to_another_queue() -> None:
    queues = [queue("owner", devices={"FAST": 8}), queue("guest", devices={"FAST": 0})]
    guest = job("guest-job", 8, team="guest")
    owner = job("owner-job", 8, team="owner", submitted_at=5000)
    snapshot = snap([guest, owner], [FAST], {"fast": 2}, now=7200, running={"guest-job": ("fast", 8, 0.0)},
                    borrowed=["guest-job"], queues=queues)
    result = Scheduler().plan(snapshot)
    (preempt,) = result.preempts()
    assert preempt.job_id == "guest-job" and preempt.preempt_kind == "reclaim"
    assert "borrowed capacity owed to queue owner/default" in preempt.reason
    (admit,) = result.admits()
    assert admit.job_id == "owner-job" and admit.preempts == ("guest-job",)


def test_reclaim_waits_for_the_minimum_run_time_of_the_borrower() -> None:
    queues = [queue("owner", devices={"FAST": 8}), queue("guest", devices={"FAST": 0})]
    snapshot = snap([job("guest-job", 8, team="guest"), job("owner-job", 8, team="owner")], [FAST], {"fast": 2},
                    now=60, running={"guest-job": ("fast", 8, 0.0)}, borrowed=["guest-job"], queues=queues)
    result = Scheduler().plan(snapshot)
    assert result.preempts() == []
    assert isinstance(result.for_job("owner-job")[0], Wait)


def test_no_queues_means_no_limits() -> None:
    snapshot = snap([job("a", 16)], [FAST], {"fast": 4})
    assert all(isinstance(d, Admit) for d in Scheduler().plan(snapshot).for_job("a"))
    assert not any(isinstance(d, Preempt) for d in Scheduler().plan(snapshot).decisions)
