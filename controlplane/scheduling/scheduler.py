"""The scheduling round: ``Scheduler(policy).plan(snapshot) -> RoundResult``.

One round, for every policy (the ``Policy`` switches what applies):

1. *Time slices* (``las``): running attempts that least-attained-service order would not keep
   are preempted (``controlplane.scheduling.timeslice``).
2. *Admission*: pending jobs in the policy's order (``ordering``). For each job: its usable
   pools (``choice``) ranked by the policy; quota verdicts (``quotas``); then the first ranked
   pool with room whose start does not delay the head-of-line reservation is asked for devices
   (``placing``: all ranks or none). A job blocked only by capacity may then preempt
   (lower priority, or borrowed capacity its queue is owed; ``preemption``), else, if it is the
   first such job and the policy backfills, it gets the reservation (``backfill``). Every job
   that does not start gets a ``Wait`` with the sentence saying why.
3. *Re-planning* (``suanli``): running attempts move to free capacity where they would finish
   (or pay) clearly less (``controlplane.scheduling.migration``).

Admission works at pool granularity on the topology's O(1) free counters; the placer (by
default ``controlplane.placement.TopologyAwarePlacer``) is called only for a job that has a pool
with room, restricted to that pool. Quota verdicts are asked only of pools with room, in the
policy's order, until one admits the job. Once the cluster is full, a job that cannot start,
preempt or take the reservation is answered from per-pool-set answers kept until the next
start or stop (``_surely_waits``), with a ``WaitReason`` shared by every job waiting for the
same reason. The round is deterministic: the same snapshot gives the same decisions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from controlplane.placement.topology_aware import TopologyAwarePlacer
from controlplane.placement.types import Placer
from controlplane.scheduling.backfill import reserve
from controlplane.scheduling.choice import RANKINGS, Option, Profile
from controlplane.scheduling.decisions import Admit, PreemptKind, RoundResult, RoundStats, Wait, WaitReason
from controlplane.scheduling.migration import replan_running
from controlplane.scheduling.ordering import (
    FairShareOrder,
    attained_service_order,
    effective_priority,
    fifo_order,
)
from controlplane.scheduling.placing import ContractPlacer, GangPlacer, PlacedGang
from controlplane.scheduling.policies import Policy, get_policy
from controlplane.scheduling.preemption import Victim, VictimIndex, choose_victims, lost_work_s
from controlplane.scheduling.quotas import QuotaVerdict
from controlplane.scheduling.round_state import PlaceFn, RoundState, Running
from controlplane.scheduling.snapshot import ClusterSnapshot, Job
from controlplane.scheduling.timeslice import preempt_for_time_slices


@dataclass
class _Counters:
    placer_calls: int = 0
    backfilled: int = 0


class Scheduler:
    """A policy plus a placer. ``plan`` is a pure function of the snapshot."""

    def __init__(self, policy: Policy | str = "suanli", *, placer: Placer | None = None,
                 gang_placer: GangPlacer | None = None) -> None:
        """``placer``: any ``controlplane.placement.Placer``, asked for the chosen pool only
        (default: the ``TopologyAwarePlacer``); ``gang_placer``: the scheduler's own seam
        instead, e.g. the fast ``PoolPacker`` for very large simulated clusters."""
        self.policy = get_policy(policy) if isinstance(policy, str) else policy
        if gang_placer is not None:
            self.placer: GangPlacer = gang_placer
        else:
            self.placer = ContractPlacer(placer if placer is not None else TopologyAwarePlacer())

    def plan(self, snapshot: ClusterSnapshot) -> RoundResult:
        state = RoundState(snapshot)
        counters = _Counters()
        running_before = len(state.running)
        if self.policy.time_slicing:
            preempt_for_time_slices(state, self.policy)
        pending = state.pending()
        place = self._place_counted(counters)
        for job in self._order(state, pending):
            self._consider(state, job, counters, place)
        if self.policy.migration:
            replan_running(state, self.policy, self._place_counted(counters))
        decisions = tuple(state.decisions)
        kinds = Counter(d.kind for d in decisions)
        stats = RoundStats(
            pending=len(pending), running=running_before, admitted=kinds["admit"],
            admitted_devices=sum(len(d.devices) for d in decisions if isinstance(d, Admit)),
            preempted=kinds["preempt"], migrated=kinds["migrate"], waiting=kinds["wait"],
            placer_calls=counters.placer_calls, backfilled=counters.backfilled)
        return RoundResult(decisions=decisions, stats=stats)

    # -- order ---------------------------------------------------------------------------------

    def _order(self, state: RoundState, pending: list[Job]) -> Iterable[Job]:
        ordering = self.policy.ordering
        if ordering == "fair-share":
            return FairShareOrder(pending, now=state.now, aging_s=self.policy.aging_s, share_of=state.share)
        if ordering == "attained-service":
            return attained_service_order(pending)
        if ordering == "priority-fifo":
            return sorted(pending, key=lambda job: (job.priority, job.submitted_at, job.job_id))
        return fifo_order(pending)

    # -- one job -------------------------------------------------------------------------------

    def _place_counted(self, counters: _Counters) -> PlaceFn:
        def place(job: Job, option: Option, state: RoundState) -> PlacedGang | str:
            counters.placer_calls += 1
            return self.placer.place(job, option.pool, option.layout, state.topology)
        return place

    def _consider(self, state: RoundState, job: Job, counters: _Counters, place: PlaceFn) -> None:
        profile = state.fits(job)
        if self._surely_waits(state, job, profile):
            return
        usable, unusable = state.options(job, profile)
        if not usable:
            state.decisions.append(Wait(job.job_id, WaitReason(devices=job.devices, does_not_fit=tuple(unusable))))
            return
        ranked = RANKINGS[self.policy.pool_choice](usable)
        candidates = ranked
        if self.policy.pool_choice == "most-free":
            candidates = sorted(ranked, key=lambda option: (-state.free(option.pool.name), option.order))
        ledger = state.ledger
        notes: list[str] = []
        held_back = False
        # Quota verdicts are asked only of pools with room, in order, until one admits the job.
        for option in candidates:
            pool = option.pool.name
            if state.free(pool) < job.devices:
                continue
            verdict = ledger.check(job, option.pool)
            if not verdict.allowed:
                continue
            if state.reservation is not None and state.reservation.blocks(pool, job.devices, option.finish_s):
                held_back = True
                continue
            placed = place(job, option, state)
            if isinstance(placed, str):
                notes.append(placed)
                continue
            backfilled = state.reservation is not None and state.reservation.pool == pool
            counters.backfilled += int(backfilled)
            state.decisions.append(state.start(job, option, placed, borrowed=verdict.borrowed,
                                               reason=self._admit_reason(option, verdict, ranked, backfilled),
                                               backfilled=backfilled))
            return
        types = tuple(dict.fromkeys(option.pool.accelerator for option in ranked))
        allowed = [(option, verdict) for option in candidates if (verdict := ledger.check(job, option.pool)).allowed]
        if not allowed:
            quota = tuple(dict.fromkeys(verdict.reason for option in ranked
                                        if (verdict := ledger.check(job, option.pool)).reason))
            state.decisions.append(Wait(job.job_id, WaitReason(devices=job.devices, types=types, quota=quota)))
            return
        if self._try_preempt(state, job, allowed, place):
            return
        self._wait_for_capacity(state, job, allowed, types, notes, held_back)

    def _surely_waits(self, state: RoundState, job: Job, profile: Profile) -> bool:
        """Fast path for a full cluster: no pool the job fits has room, no victim could make room,
        and the reservation is taken; record the ``Wait`` without pricing every option.

        The checks are answered per pool set (largest free pool, victims) or per queue and gang
        size (quota), and kept until the next start or stop, so a long run of waiting jobs costs a
        few dictionary look-ups each; jobs waiting for the same reason share one ``WaitReason``
        (whose sentence is formatted only when read)."""
        policy = self.policy
        reservation = state.reservation
        if policy.backfill and reservation is None:
            return False
        if not profile.fits:
            return False
        largest, largest_pool = state.largest_free(profile)
        if largest >= job.devices:
            return False
        if (policy.priority_preemption or policy.reclaim) and self._victims_could_make_room(state, job, profile):
            return False
        if not state.quota_allows_any(job, profile):
            quota = state.quota_reasons(job, profile)
            key: tuple[object, ...] = ("quota", job.devices, profile.types, quota)
            why = state.reasons.get(key)
            if why is None:
                why = state.reasons[key] = WaitReason(devices=job.devices, types=profile.types, quota=quota)
        else:
            behind = reservation.job_id if reservation is not None else None
            behind_in = reservation.start_in_s if reservation is not None else None
            key = ("capacity", job.devices, profile.types, largest, largest_pool, behind, behind_in)
            why = state.reasons.get(key)
            if why is None:
                why = state.reasons[key] = WaitReason(
                    devices=job.devices, types=profile.types, largest_free=largest, largest_free_pool=largest_pool,
                    behind_job=behind, behind_job_start_in_s=behind_in)
        state.decisions.append(Wait(job.job_id, why))
        return True

    def _victims_could_make_room(self, state: RoundState, job: Job, profile: Profile) -> bool:
        """Whether any pool of the profile has attempts this job could preempt (by class or reclaim)."""
        policy = self.policy
        if state.victims is None:
            state.victims = VictimIndex(state, policy.min_run_s, policy.aging_s)
        if state.victims.empty:
            return False
        mine = effective_priority(job, state.now, policy.aging_s) if policy.priority_preemption else 99
        return state.victims.could_free(profile.pools, mine, policy.reclaim and state.ledger.enforced)

    def _admit_reason(self, option: Option, verdict: QuotaVerdict, ranked: list[Option], backfilled: bool) -> str:
        text = f"admitted on {option.pool.name}: {option.describe()}"
        if option is not ranked[0]:
            text += f" (preferred {ranked[0].pool.name} is full)"
        if verdict.borrowed and verdict.reason:
            text += f"; {verdict.reason}"
        if backfilled:
            text += "; backfilled without delaying the reserved job"
        return text

    def _wait_for_capacity(self, state: RoundState, job: Job, allowed: list[tuple[Option, QuotaVerdict]],
                           types: tuple[str, ...], notes: list[str], held_back: bool) -> None:
        largest, largest_pool = 0, None
        for option, _ in allowed:
            free = state.free(option.pool.name)
            if free > largest:
                largest, largest_pool = free, option.pool.name
        reserved_in = reserved_pool = behind = behind_in = None
        reservation = state.reservation
        if reservation is None and self.policy.backfill:
            free_now = {option.pool.name: state.free(option.pool.name) for option, _ in allowed}
            reservation = reserve(job.job_id, job.devices, [option for option, _ in allowed], free_now,
                                  state.forecast)
            if reservation is not None:
                state.reservation = reservation
                reserved_in, reserved_pool = reservation.start_in_s, reservation.pool
        elif reservation is not None and (held_back or reservation.job_id != job.job_id):
            behind, behind_in = reservation.job_id, reservation.start_in_s
        state.decisions.append(Wait(job.job_id, WaitReason(
            devices=job.devices, types=types, largest_free=largest, largest_free_pool=largest_pool,
            reserved_start_in_s=reserved_in, reserved_pool=reserved_pool, behind_job=behind,
            behind_job_start_in_s=behind_in, other=tuple(dict.fromkeys(notes)))))

    # -- preemption ----------------------------------------------------------------------------

    def _try_preempt(self, state: RoundState, job: Job, allowed: list[tuple[Option, QuotaVerdict]],
                     place: PlaceFn) -> bool:
        policy = self.policy
        if not (policy.priority_preemption or policy.reclaim):
            return False
        if state.victims is None:
            state.victims = VictimIndex(state, policy.min_run_s, policy.aging_s)
        index = state.victims
        my_priority = effective_priority(job, state.now, policy.aging_s)
        for option, verdict in allowed:
            pool = option.pool.name
            owed = policy.reclaim and state.ledger.enforced and not verdict.borrowed
            room = state.free(pool) + index.devices_below(pool, my_priority if policy.priority_preemption else 99)
            if owed:
                room += index.borrowed_devices(pool)
            if room < job.devices:
                continue
            if state.reservation is not None and state.reservation.blocks(pool, job.devices, option.finish_s):
                continue

            def eligible(running: Running, owed: bool = owed) -> bool:
                if owed and running.borrowed and state.ledger.may_reclaim_from(job, running.job):
                    return True
                return (policy.priority_preemption and running.job.preemptible
                        and effective_priority(running.job, state.now, policy.aging_s) > my_priority)

            candidates = [r for r in index.on_pool(pool) if r.job.job_id in state.running and eligible(r)]
            if not candidates:
                continue
            by_id = {r.job.job_id: r for r in candidates}
            victims = choose_victims([_victim(state, r) for r in candidates], needed=job.devices,
                                     free_now=state.free(pool))
            if not victims:
                continue
            stopped = [state.stop(v.job_id) for v in victims]
            placed = place(job, option, state)
            if isinstance(placed, str):
                for running in reversed(stopped):
                    state.restore(running)
                continue
            for running in stopped:
                index.forget(running)
                kind: PreemptKind = "reclaim" if running.borrowed and owed else "priority"
                why = (f"reclaimed: borrowed capacity owed to queue {job.team}/{job.queue}, needed by job {job.job_id}"
                       if kind == "reclaim" else
                       f"preempted for higher-priority job {job.job_id} ({job.priority_name} > "
                       f"{running.job.priority_name})")
                state.decisions.append(state.preempt_decision(running, kind, why, for_job=job.job_id))
            names = ", ".join(by_id[v.job_id].job.job_id for v in victims)
            state.decisions.append(state.start(
                job, option, placed, borrowed=verdict.borrowed, preempts=tuple(v.job_id for v in victims),
                reason=f"admitted on {pool} after preempting {names}: {option.describe()}"))
            return True
        return False


def _victim(state: RoundState, running: Running) -> Victim:
    job = running.job
    return Victim(job_id=job.job_id, pool=running.pool.name, devices=len(running.devices),
                  lost_work_s=lost_work_s(state.now, running.started_at, job.last_checkpoint_at),
                  restart_overhead_s=job.restart_overhead_s, spot=running.spot, priority=job.priority,
                  started_at=running.started_at, borrowed=running.borrowed)


def plan(snapshot: ClusterSnapshot, *, policy: Policy | str = "suanli", placer: Placer | None = None) -> RoundResult:
    """One round with a fresh ``Scheduler`` (convenience for callers that plan once)."""
    return Scheduler(policy, placer=placer).plan(snapshot)
