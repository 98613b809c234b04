"""The discrete-event harness: replay arrivals and spot changes through the real scheduler on a virtual clock.

Owns ``SimulationConfig``, ``Simulation`` and ``SimulationResult``.

Each step takes every event due at the next event time (``events``), advances the progress of
running attempts to that time, applies the events, then runs one scheduling round with the
same ``Scheduler`` the controller uses on a snapshot of the simulated state, and applies its
decisions (preemptions and migrations before admissions). While jobs are pending or running a
periodic round (``round_s``) also runs, for time slices, re-planning and aging.

Execution model:
- an attempt holds its devices from its start; steps begin after the job's restart overhead
  (launch, restore) and then advance at the rate the estimator gives for its pool;
- a preemption or migration decided by the scheduler is a planned stop: the job checkpoints
  on the way out and keeps its progress (``planned_stop_keeps_progress``; off = it rolls back
  to its last periodic checkpoint like a failure);
- a spot node lost under an attempt kills it: progress rolls back to the last periodic
  checkpoint (every ``checkpoint_interval_s`` of stepping), and the node's devices stay
  unusable until it comes back;
- a spot pool's observed preemption rate (losses per node-hour so far) is what the next
  snapshot tells the scheduler.

Invariants are checked as the run goes (``SimulationResult.violations``): no device is held
twice (the topology refuses it), every admitted gang has exactly its job's device count, no
pool ever holds more devices than it has, and no job finishes faster than alone on the
fastest pool.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from controlplane.scheduling.decisions import Admit, Migrate, Preempt
from controlplane.scheduling.scheduler import Scheduler
from controlplane.scheduling.snapshot import Attempt, ClusterSnapshot, Estimator, Job, Pool, QueueQuota
from controlplane.simulator.events import Event, EventQueue
from controlplane.simulator.metrics import JobRecord, Summary, summarize
from controlplane.simulator.spot import NodeChange
from controlplane.simulator.workloads import Cluster
from controlplane.topology import Topology

_EPSILON = 1e-6


@dataclass(frozen=True)
class SimulationConfig:
    round_s: float = 360.0
    planned_stop_keeps_progress: bool = True
    max_time_s: float = 365 * 24 * 3600.0
    """Stop the run here even if jobs remain (they count as not completed)."""


@dataclass
class _Attempt:
    job: Job
    pool: Pool
    devices: tuple[int, ...]
    nodes: frozenset[str]
    started_at: float
    steps_start: float
    rate: float
    serial: int
    steps_at_start: float
    borrowed: bool
    progress_at: float


@dataclass
class SimulationResult:
    summary: Summary
    records: list[JobRecord]
    violations: list[str] = field(default_factory=list)
    wait_reasons: dict[str, str] = field(default_factory=dict)
    """The last wait reason each job was given."""


class Simulation:
    """One run of one policy over one workload (see the module docstring)."""

    def __init__(self, cluster: Cluster, jobs: Sequence[Job], *, scheduler: Scheduler, estimator: Estimator,
                 queues: Sequence[QueueQuota] = (), spot: Mapping[str, Sequence[NodeChange]] | None = None,
                 config: SimulationConfig | None = None, timer: Callable[[], float] = time.perf_counter) -> None:
        self.cluster = cluster
        self.scheduler = scheduler
        self.estimator = estimator
        self.queues = tuple(queues)
        self.config = config or SimulationConfig()
        self.timer = timer
        self.topology: Topology = cluster.build_topology()
        self.pools = {pool.name: pool for pool in cluster.pools}
        self.capacity = {shape.name: shape.node_count * shape.devices_per_node for shape in cluster.shapes}
        self.node_names = {pool: [node.name for node in self.topology.nodes(pool)] for pool in self.pools}
        self.events = EventQueue()
        self.records: dict[str, JobRecord] = {}
        for job in jobs:
            if job.job_id in self.records:
                raise ValueError(f"job id {job.job_id!r} repeats")
            self.records[job.job_id] = JobRecord(job=job, isolated_s=self._isolated_s(job))
            self.events.push(job.submitted_at, "arrival", job_id=job.job_id)
        self.spot_losses: dict[str, int] = defaultdict(int)
        for pool, changes in (spot or {}).items():
            if pool not in self.pools:
                raise ValueError(f"spot trace for unknown pool {pool!r}")
            for change in changes:
                self.events.push(change.time, "node-up" if change.available else "node-down", pool=pool,
                                 node=change.node % max(len(self.node_names[pool]), 1))
        self.pending: set[str] = set()
        self.running: dict[str, _Attempt] = {}
        self.now = 0.0
        self.busy_device_s = 0.0
        self.serial = 0
        self.round_seconds: list[float] = []
        self.violations: list[str] = []
        self.wait_reasons: dict[str, str] = {}
        self._next_tick: float | None = None

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> SimulationResult:
        while len(self.events):
            next_time = self.events.peek_time()
            assert next_time is not None
            if next_time > self.config.max_time_s:
                break
            batch = self.events.pop_until(next_time + _EPSILON)
            self._advance(next_time)
            for event in batch:
                self._apply_event(event)
            admitted = 0
            if self.pending or any(e.kind == "tick" for e in batch) or any(e.kind == "node-up" for e in batch):
                admitted = self._round()
            if not self.running and not self.events.has_kind("arrival", "node-up", "node-down") and not admitted:
                break  # nothing runs and nothing can change: what is still pending can never start
            self._schedule_tick()
        summary = summarize(self.scheduler.policy.name, list(self.records.values()),
                            busy_device_s=self.busy_device_s, devices=self.cluster.devices,
                            round_seconds=self.round_seconds)
        return SimulationResult(summary=summary, records=list(self.records.values()), violations=self.violations,
                                wait_reasons=self.wait_reasons)

    def _schedule_tick(self) -> None:
        if not (self.pending or self.running):
            return
        if self._next_tick is None or self._next_tick <= self.now:
            self._next_tick = self.now + self.config.round_s
            self.events.push(self._next_tick, "tick")

    def _advance(self, to: float) -> None:
        for attempt in self.running.values():
            elapsed = to - attempt.progress_at
            if elapsed <= 0:
                continue
            record = self.records[attempt.job.job_id]
            stepping = max(to - max(attempt.progress_at, attempt.steps_start), 0.0)
            record.done_steps = min(record.done_steps + attempt.rate * stepping, attempt.job.total_steps)
            devices = len(attempt.devices)
            record.attained_service_s += devices * elapsed
            record.cost += attempt.pool.price_per_device_hour * devices * elapsed / 3600.0
            self.busy_device_s += devices * elapsed
            attempt.progress_at = to
        self.now = to

    # -- events --------------------------------------------------------------------------------

    def _apply_event(self, event: Event) -> None:
        if event.kind == "arrival":
            assert event.job_id is not None
            self.pending.add(event.job_id)
        elif event.kind == "completion":
            attempt = self.running.get(event.job_id or "")
            if attempt is not None and attempt.serial == event.serial:
                self._finish(attempt)
        elif event.kind in ("node-down", "node-up"):
            assert event.pool is not None
            node = self.node_names[event.pool][event.node]
            if event.kind == "node-up":
                self.topology.mark_node_available(node)
            elif self.topology.mark_node_unavailable(node):
                self.spot_losses[event.pool] += 1
                for job_id in sorted(self.running):
                    if node in self.running[job_id].nodes:
                        self._stop(job_id, planned=False)

    def _finish(self, attempt: _Attempt) -> None:
        job_id = attempt.job.job_id
        record = self.records[job_id]
        record.done_steps = attempt.job.total_steps
        record.finished_at = self.now
        self.topology.release(attempt.devices)
        del self.running[job_id]
        if record.jct_s is not None and record.jct_s + 1e-3 < record.isolated_s:
            self.violations.append(f"{job_id} finished in {record.jct_s:.0f}s, faster than alone "
                                   f"({record.isolated_s:.0f}s)")

    def _stop(self, job_id: str, *, planned: bool) -> None:
        attempt = self.running.pop(job_id)
        record = self.records[job_id]
        keep = planned and self.config.planned_stop_keeps_progress
        if not keep:
            interval = max(attempt.job.checkpoint_interval_s, _EPSILON)
            stepped = max(self.now - attempt.steps_start, 0.0)
            checkpointed = attempt.steps_at_start + attempt.rate * math.floor(stepped / interval) * interval
            checkpointed = min(checkpointed, record.done_steps)
            record.lost_steps += record.done_steps - checkpointed
            record.done_steps = checkpointed
        else:
            record.last_checkpoint_at = self.now
        record.preemptions += 1
        record.spot_preemptions += int(not planned)
        self.topology.release(attempt.devices)
        self.pending.add(job_id)

    # -- rounds --------------------------------------------------------------------------------

    def _snapshot(self) -> ClusterSnapshot:
        jobs: list[Job] = []
        for job_id in sorted(self.pending | set(self.running)):
            record = self.records[job_id]
            jobs.append(replace(record.job, done_steps=record.done_steps, attained_service_s=record.attained_service_s,
                                last_checkpoint_at=record.last_checkpoint_at))
        attempts = tuple(Attempt(job_id=a.job.job_id, pool=a.pool.name, devices=a.devices, started_at=a.started_at,
                                 spot=a.pool.spot, borrowed=a.borrowed) for _, a in sorted(self.running.items()))
        pools = tuple(self._observed(pool) for pool in self.cluster.pools)
        return ClusterSnapshot(now=self.now, jobs=tuple(jobs), attempts=attempts, pools=pools,
                               topology=self.topology, estimator=self.estimator, queues=self.queues)

    def _observed(self, pool: Pool) -> Pool:
        losses = self.spot_losses.get(pool.name, 0)
        if not losses:
            return pool
        node_hours = max(len(self.node_names[pool.name]) * self.now / 3600.0, 1.0)
        return replace(pool, preemption_rate_per_hour=losses / node_hours)

    def _round(self) -> int:
        snapshot = self._snapshot()
        started = self.timer()
        result = self.scheduler.plan(snapshot)
        self.round_seconds.append(self.timer() - started)
        for decision in result.decisions:
            if isinstance(decision, Preempt):
                self._stop(decision.job_id, planned=True)
        for decision in result.decisions:
            if isinstance(decision, Migrate):
                self._stop(decision.job_id, planned=True)
                record = self.records[decision.job_id]
                record.preemptions -= 1
                record.migrations += 1
                self._start(decision.to)
            elif isinstance(decision, Admit):
                self._start(decision)
            elif decision.kind == "wait":
                self.wait_reasons[decision.job_id] = decision.reason
        self._check_capacity()
        return result.stats.admitted + result.stats.migrated

    def _start(self, admit: Admit) -> None:
        record = self.records[admit.job_id]
        job = record.job
        if len(admit.devices) != job.devices:
            self.violations.append(f"{job.job_id} admitted on {len(admit.devices)} devices, needs {job.devices}")
        self.topology.allocate(admit.devices, job.job_id)
        pool = self.pools[admit.pool]
        rate = admit.steps_per_second or 0.0
        self.serial += 1
        steps_start = self.now + job.restart_overhead_s
        attempt = _Attempt(job=job, pool=pool, devices=admit.devices,
                           nodes=frozenset(self.topology.node_of(d).name for d in admit.devices),
                           started_at=self.now, steps_start=steps_start, rate=rate, serial=self.serial,
                           steps_at_start=record.done_steps, borrowed=admit.borrowed, progress_at=self.now)
        self.running[job.job_id] = attempt
        self.pending.discard(job.job_id)
        record.attempts += 1
        record.first_start = self.now if record.first_start is None else record.first_start
        if pool.accelerator not in record.accelerators:
            record.accelerators = (*record.accelerators, pool.accelerator)
        if rate > 0:
            finish = steps_start + (job.total_steps - record.done_steps) / rate
            self.events.push(finish, "completion", job_id=job.job_id, serial=self.serial)
        else:
            self.violations.append(f"{job.job_id} admitted on {pool.name} without a rate")

    def _check_capacity(self) -> None:
        held: dict[str, int] = defaultdict(int)
        for attempt in self.running.values():
            held[attempt.pool.name] += len(attempt.devices)
        for pool, count in held.items():
            if count > self.capacity[pool]:
                self.violations.append(f"t={self.now:.0f}s: {count} devices held in {pool}, which has "
                                       f"{self.capacity[pool]}")

    def _isolated_s(self, job: Job) -> float:
        rates = [self.estimator.estimate(job, pool.accelerator, pool.devices_per_node).steps_per_second
                 for pool in self.cluster.pools]
        best = max((rate for rate in rates if rate), default=None)
        return math.inf if best is None else job.total_steps / best
