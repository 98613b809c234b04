"""The working state of one round: a private copy of the free state plus the books kept beside it.

Owns ``RoundState``: the topology copy the round allocates on, the quota ledger, the release
forecast for reservations, the running attempts (with their expected ends) and the decisions
made so far. Starting and stopping go through ``start``/``stop``/``restore`` so that all of
these stay consistent. Nothing here decides anything; ``controlplane.scheduling.scheduler``
does.

A round asks the same questions for thousands of jobs, so the answers are kept: where a
profile fits (``FitFinder``), free devices per pool and the largest free pool of a pool set,
each team's fair share, quota verdicts (in the ledger, per queue). Every start, stop and
restore refreshes or drops exactly what it can change, so a kept answer always equals a fresh
one; wait reasons are shared by content (they are immutable).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from controlplane.scheduling.backfill import ReleaseForecast, Reservation
from controlplane.scheduling.choice import FitFinder, Option, Profile, price_fits
from controlplane.scheduling.decisions import Admit, Decision, Preempt, PreemptKind, WaitReason
from controlplane.scheduling.placing import PlacedGang
from controlplane.scheduling.preemption import VictimIndex, lost_work_s
from controlplane.scheduling.quotas import QuotaLedger
from controlplane.scheduling.snapshot import Attempt, ClusterSnapshot, Job, Pool

PlaceFn = Callable[[Job, Option, "RoundState"], PlacedGang | str]
"""Ask the placer for devices of ``option.pool`` on the round's topology copy."""


@dataclass
class Running:
    job: Job
    pool: Pool
    devices: tuple[int, ...]
    started_at: float
    borrowed: bool
    ends_in_s: float
    new: bool = False
    """Started in this round."""

    @property
    def spot(self) -> bool:
        return self.pool.spot


class RoundState:
    """See the module docstring."""

    def __init__(self, snapshot: ClusterSnapshot) -> None:
        self.snapshot = snapshot
        self.now = snapshot.now
        self.topology = snapshot.topology.snapshot()
        self.pools = snapshot.pools
        self.pool_by_name = snapshot.pool_by_name()
        tree = self.topology.tree
        counts = np.bincount(tree.device_pool, minlength=len(tree.pools))
        self.capacity = {info.name: int(counts[i]) for i, info in enumerate(tree.pools)}
        self.jobs = {job.job_id: job for job in snapshot.jobs}
        self.ledger = QuotaLedger(snapshot.queues)
        self.forecast = ReleaseForecast()
        self.running: dict[str, Running] = {}
        self.stopped: set[str] = set()
        """Jobs preempted in this round (not re-admitted before the next round)."""
        self.decisions: list[Decision] = []
        self.reservation: Reservation | None = None
        self.victims: VictimIndex | None = None
        """Built by the scheduler on the first job that may preempt."""
        self._options: dict[str, tuple[list[Option], list[str]]] = {}
        self._finder = FitFinder(self.pools, self.capacity, snapshot.estimator)
        self._free = {pool.name: self.topology.free_devices_in_pool(pool.name) for pool in self.pools}
        """Free devices per pool, re-read from the topology copy after every change this class makes."""
        self._largest: dict[tuple[str, ...], tuple[int, str | None]] = {}
        self._shares: dict[str, float] = {}
        self.reasons: dict[tuple[object, ...], WaitReason] = {}
        """Wait reasons by content: jobs that wait for the same reason share one (immutable) object."""
        self.total_units = sum(self.capacity.get(p.name, 0) * p.units_per_device for p in self.pools)
        self.total_dollars_per_day = sum(self.capacity.get(p.name, 0) * p.price_per_device_hour * 24
                                         for p in self.pools)
        for attempt in snapshot.attempts:
            self._add_running(attempt)

    def _add_running(self, attempt: Attempt) -> None:
        job = self.jobs[attempt.job_id]
        pool = self.pool_by_name[attempt.pool]
        ends_in = self.expected_remaining_s(job, pool)
        self.running[job.job_id] = Running(job, pool, attempt.devices, attempt.started_at, attempt.borrowed, ends_in)
        self.ledger.add(job, pool, borrowed=attempt.borrowed)
        self.forecast.add(pool.name, ends_in, len(attempt.devices))

    # -- queries ------------------------------------------------------------------------------

    def pending(self) -> list[Job]:
        return [job for job in self.snapshot.jobs if job.job_id not in self.running and job.job_id not in self.stopped]

    def free(self, pool: str) -> int:
        found = self._free.get(pool)
        return self.topology.free_devices_in_pool(pool) if found is None else found

    def fits(self, job: Job) -> Profile:
        """Pools the job's profile fits at all (cached per profile for the round)."""
        return self._finder.profile(job)

    def options(self, job: Job, profile: Profile | None = None) -> tuple[list[Option], list[str]]:
        """The job's priced options (``profile``: its ``fits``, when the caller has them already)."""
        cached = self._options.get(job.job_id)
        if cached is None:
            if profile is None:
                profile = self._finder.profile(job)
            cached = self._options[job.job_id] = price_fits(job, profile.fits, profile.unusable, self.now)
        return cached

    def largest_free(self, profile: Profile) -> tuple[int, str | None]:
        """The most free devices in one of the profile's pools, and the first pool that has them."""
        found = self._largest.get(profile.pools)
        if found is None:
            largest, largest_pool = -1, None
            for pool in profile.pools:
                free = self._free[pool]
                if free > largest:
                    largest, largest_pool = free, pool
            found = self._largest[profile.pools] = (largest, largest_pool)
        return found

    def quota_allows_any(self, job: Job, profile: Profile) -> bool:
        """Whether the job's queue may run it now on at least one of the profile's pools."""
        check = self.ledger.check
        return any(check(job, fit.pool).allowed for fit in profile.fits)

    def quota_reasons(self, job: Job, profile: Profile) -> tuple[str, ...]:
        """What the job's queue says about each of the profile's pools, each sentence once."""
        return tuple(dict.fromkeys(verdict.reason for fit in profile.fits
                                   if (verdict := self.ledger.check(job, fit.pool)).reason))

    def expected_remaining_s(self, job: Job, pool: Pool) -> float:
        estimate = self.snapshot.estimator.estimate(job, pool.accelerator, pool.devices_per_node)
        if not estimate.fits:
            return math.inf
        assert estimate.steps_per_second is not None
        return job.remaining_steps / estimate.steps_per_second

    def share(self, team: str) -> float:
        share = self._shares.get(team)
        if share is None:
            share = self._shares[team] = self.ledger.dominant_share(team, self.total_units,
                                                                     self.total_dollars_per_day)
        return share

    def ran_s(self, job_id: str) -> float:
        running = self.running[job_id]
        return self.now - running.started_at

    # -- changes ------------------------------------------------------------------------------

    def start(self, job: Job, option: Option, placed: PlacedGang, *, borrowed: bool, reason: str,
              preempts: Sequence[str] = (), backfilled: bool = False) -> Admit:
        """Allocate the gang, book it, and return the ``Admit`` (not yet appended)."""
        pool = option.pool
        self.topology.allocate(placed.devices, job.job_id)
        self.ledger.add(job, pool, borrowed=borrowed)
        self.forecast.add(pool.name, option.finish_s, job.devices)
        self.running[job.job_id] = Running(job, pool, placed.devices, self.now, borrowed, option.finish_s, new=True)
        if self.reservation is not None and self.reservation.job_id != job.job_id:
            self.reservation.charge(pool.name, job.devices, option.finish_s)
        self._changed(pool.name, job.team)
        return Admit(job_id=job.job_id, pool=pool.name, accelerator=pool.accelerator, devices=placed.devices,
                     reason=reason, layout=option.layout, placement=placed.placement, borrowed=borrowed,
                     preempts=tuple(preempts), steps_per_second=option.steps_per_second,
                     dollars_per_hour=option.dollars_per_hour, backfilled=backfilled)

    def stop(self, job_id: str) -> Running:
        """Release a running attempt's devices and unbook it (the caller records the decision)."""
        running = self.running.pop(job_id)
        self.stopped.add(job_id)
        self.topology.release(running.devices)
        self.ledger.remove(running.job, running.pool, borrowed=running.borrowed)
        self.forecast.remove(running.pool.name, running.ends_in_s, len(running.devices))
        self._changed(running.pool.name, running.job.team)
        return running

    def restore(self, running: Running) -> None:
        """Undo ``stop`` (when what the stop was for did not work out)."""
        self.topology.allocate(running.devices, running.job.job_id)
        self.stopped.discard(running.job.job_id)
        self.ledger.add(running.job, running.pool, borrowed=running.borrowed)
        self.forecast.add(running.pool.name, running.ends_in_s, len(running.devices))
        self.running[running.job.job_id] = running
        self._changed(running.pool.name, running.job.team)

    def _changed(self, pool: str, team: str) -> None:
        """Devices of ``pool`` and the books of ``team`` changed: refresh and forget what depended on them."""
        self._free[pool] = self.topology.free_devices_in_pool(pool)
        self._largest.clear()
        self._shares.pop(team, None)

    def preempt_decision(self, running: Running, kind: PreemptKind, reason: str,
                         for_job: str | None = None) -> Preempt:
        lost = lost_work_s(self.now, running.started_at, running.job.last_checkpoint_at)
        return Preempt(job_id=running.job.job_id, pool=running.pool.name, reason=reason, preempt_kind=kind,
                       lost_work_s=lost, for_job=for_job)
