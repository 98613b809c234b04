"""What a round remembers between jobs (profiles, free counts, quota verdicts, victims, wait
reasons) saves work and never changes a decision: every answer is the one a fresh look would give."""

from __future__ import annotations

from types import MappingProxyType

from controlplane.scheduling import FixedRates, QueueQuota, Scheduler
from controlplane.scheduling.choice import FitFinder, job_fits
from controlplane.scheduling.quotas import QuotaLedger
from tests.unit.scheduling.scheduling_factories import job, pool, snap

FAST = pool("fast", "FAST", price=4.0)
SLOW = pool("slow", "SLOW", price=1.0)
SPOT = pool("spot", "FAST", price=1.0, capacity_type="spot", preemption_rate=0.5)
TINY = pool("tiny", "MID", price=2.0, memory_gib=16.0)
POOLS = [FAST, SLOW, SPOT, TINY]
CAPACITY = {"fast": 16, "slow": 16, "spot": 8, "tiny": 4}


def test_profiles_built_from_shared_checks_equal_what_each_job_gets_alone() -> None:
    rates = FixedRates({("w", "FAST"): 1.0, ("w", "SLOW"): 0.25, ("v", "FAST"): 2.0, ("v", "MID"): 0.5})
    jobs = [job(f"j{i}", devices, workload_type=workload, allowed_types=types, spot_allowed=spot,
                min_memory_gib=memory)
            for i, (devices, workload, types, spot, memory) in enumerate([
                (4, "w", None, True, None), (4, "v", None, True, None), (8, "w", ("FAST",), False, None),
                (8, "v", ("FAST", "MID"), True, 40.0), (2, "u", None, True, None), (16, "w", ("SLOW",), True, None),
                (4, "w", None, True, None), (4, "v", ("MID",), True, None), (32, "w", None, True, None)])]
    finder = FitFinder(POOLS, CAPACITY, rates)
    for each in jobs:
        profile = finder.profile(each)
        fits, unusable = job_fits(each, POOLS, CAPACITY, rates)
        assert (list(profile.fits), list(profile.unusable)) == (fits, unusable)
        assert profile.pools == tuple(fit.pool.name for fit in fits)
        assert profile.types == tuple(dict.fromkeys(fit.pool.accelerator for fit in fits))


def test_jobs_waiting_on_a_full_cluster_get_the_sentence_and_share_one_reason() -> None:
    pending = [job(f"j{i}", 4, submitted_at=i) for i in range(6)]
    snapshot = snap([*pending, job("holder", 8, steps=36_000.0)], [FAST], {"fast": 2}, now=10.0,
                    running={"holder": ("fast", 8, 0.0)})
    waits = Scheduler().plan(snapshot).waits()
    assert waits["j0"].reason == ("waiting: needs 4 FAST devices, no free device in any pool it fits; "
                                  "reserved start in ~10h00m on fast")
    assert waits["j1"].reason == ("waiting: needs 4 FAST devices, largest free block is 0 in pool fast; "
                                  "behind job j0 (reserved to start in ~10h00m)")
    assert all(waits[f"j{i}"].why is waits["j1"].why for i in range(2, 6))


def test_a_job_that_may_preempt_late_in_a_long_run_of_waits_still_does() -> None:
    slow = pool("slow", "SLOW")
    waiting = [job(f"w{i}", 4, allowed_types=("SLOW",), submitted_at=i) for i in range(20)]
    urgent = job("urgent", 4, allowed_types=("FAST",), submitted_at=50.0)
    running = [job("critical", 8, priority=0, allowed_types=("SLOW",), steps=36_000.0),
               job("victim", 8, priority=4, steps=36_000.0)]
    snapshot = snap([*waiting, urgent, *running], [FAST, slow], {"fast": 2, "slow": 2}, now=1000.0,
                    running={"critical": ("slow", 8, 0.0), "victim": ("fast", 8, 0.0)})
    result = Scheduler().plan(snapshot)
    assert [admit.job_id for admit in result.admits()] == ["urgent"]
    assert [preempt.job_id for preempt in result.preempts()] == ["victim"]
    assert len(result.waits()) == 20


def test_an_admission_in_between_changes_what_the_next_waiting_job_is_told() -> None:
    jobs = [job("big", 8, submitted_at=0), job("small", 2, submitted_at=1, steps=60.0),
            job("next", 4, submitted_at=2), job("holder", 6, steps=36_000.0)]
    snapshot = snap(jobs, [FAST], {"fast": 2}, now=10.0, running={"holder": ("fast", 6, 0.0)})
    result = Scheduler().plan(snapshot)
    assert [admit.job_id for admit in result.admits()] == ["small"]
    assert "largest free block is 0 in pool fast" in result.waits()["next"].reason


def test_a_queue_s_verdicts_follow_its_own_usage_and_not_other_queues() -> None:
    quotas = [QueueQuota(name="default", team=team, devices=MappingProxyType({"FAST": 8}), borrowing=False)
              for team in ("a", "b")]
    ledger = QuotaLedger(quotas)
    gang_a, gang_b = job("a1", 8, team="a"), job("b1", 8, team="b")
    assert ledger.check(gang_a, FAST).allowed and ledger.check(gang_b, FAST).allowed
    ledger.add(gang_a, FAST, borrowed=False)
    assert not ledger.check(job("a2", 8, team="a"), FAST).allowed
    assert ledger.check(job("b2", 8, team="b"), FAST).allowed
    ledger.remove(gang_a, FAST, borrowed=False)
    assert ledger.check(job("a3", 8, team="a"), FAST).allowed
