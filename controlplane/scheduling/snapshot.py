"""The scheduler's input: an immutable snapshot of everything one scheduling round may look at.

A round is ``Scheduler.plan(snapshot) -> RoundResult``; nothing else goes in. The controller
builds the snapshot from the store and the runtime's observations, the simulator from its own
state, tests from ``jobspecs`` documents (``controlplane.scheduling.specs``).

Vocabulary and units:
- times are seconds on one clock (epoch seconds in the controller, virtual seconds in the
  simulator): ``now``, ``submitted_at``, ``deadline``, ``started_at``, ``last_checkpoint_at``;
- prices are dollars per device-hour; preemption rates are preemptions per hour;
- *work* is optimizer steps; a job's *rate* on an accelerator type is steps per second (from
  an ``Estimator``);
- *normalized units* are H100-equivalents: ``Pool.units_per_device`` says what one device of
  the pool is worth (see ``controlplane.scheduling.estimates.units_per_device``);
- a *gang* is all of a job's devices: admitted together or not at all;
- a job is *running* when the snapshot has an ``Attempt`` for it, else *pending*.

The topology holds who has which device: the devices of every attempt are allocated in it,
owned by the job id. The scheduler never mutates it; it plans on ``topology.snapshot()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

from controlplane.domain.errors import InvalidInputError
from controlplane.perfmodel.shapes import Layout, ModelShape
from controlplane.topology import Topology

#: Priority classes from the most to the least important (as in ``jobspecs``).
PRIORITY_NAMES: tuple[str, ...] = ("critical", "high", "normal", "low", "best-effort")
DEFAULT_PRIORITY = PRIORITY_NAMES.index("normal")
DEFAULT_CHECKPOINT_INTERVAL_S = 1800.0
DEFAULT_RESTART_OVERHEAD_S = 60.0


@dataclass(frozen=True, slots=True)
class Job:
    """A training job as the scheduler sees it, pending or running."""

    job_id: str
    team: str
    devices: int
    """Gang size: devices all ranks together need."""
    total_steps: float
    submitted_at: float = 0.0
    queue: str = "default"
    priority: int = DEFAULT_PRIORITY
    """Index into ``PRIORITY_NAMES``: 0 (critical) runs first."""
    allowed_types: tuple[str, ...] | None = None
    """Accelerator types the job accepts (compared case-insensitively); None accepts any."""
    min_memory_gib: float | None = None
    allowed_pools: tuple[str, ...] | None = None
    """Pools the job may be placed in now (the controller narrows this after a re-plan); None: any."""
    layout: Layout | None = None
    model: ModelShape | None = None
    workload_type: str | None = None
    """Key of a measured throughput table (Gavel's job type), when the job has one."""
    preemptible: bool = True
    spot_allowed: bool = True
    max_preemptions_per_hour: float | None = None
    """Above this observed pool preemption rate the job avoids spot pools."""
    deadline: float | None = None
    budget_dollars: float | None = None
    """What the job may still spend (the controller subtracts what was spent)."""
    max_dollars_per_hour: float | None = None
    done_steps: float = 0.0
    last_checkpoint_at: float | None = None
    checkpoint_interval_s: float = DEFAULT_CHECKPOINT_INTERVAL_S
    restart_overhead_s: float = DEFAULT_RESTART_OVERHEAD_S
    """Seconds a (re)start costs before steps resume: launch, restore, warm-up."""
    weight: float = 1.0
    """Share weight of the job itself (Gavel's priority weight); scales attained service."""
    attained_service_s: float = 0.0
    """Device-seconds the job has received so far (for least-attained-service ordering)."""

    def __post_init__(self) -> None:
        if self.devices < 1:
            raise InvalidInputError(f"job {self.job_id!r} needs at least one device", field="devices")
        if self.total_steps <= 0:
            raise InvalidInputError(f"job {self.job_id!r} needs a positive step count", field="total_steps")
        if not 0 <= self.priority < len(PRIORITY_NAMES):
            raise InvalidInputError(f"priority {self.priority} is not in 0..{len(PRIORITY_NAMES) - 1}",
                                    field="priority")

    @property
    def remaining_steps(self) -> float:
        return max(self.total_steps - self.done_steps, 0.0)

    @property
    def priority_name(self) -> str:
        return PRIORITY_NAMES[self.priority]

    def accepts(self, accelerator: str) -> bool:
        if self.allowed_types is None:
            return True
        wanted = accelerator.casefold()
        return any(name.casefold() == wanted for name in self.allowed_types)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One running attempt of a job: where it runs and since when."""

    job_id: str
    pool: str
    devices: tuple[int, ...]
    started_at: float
    spot: bool = False
    borrowed: bool = False
    """Admitted on capacity above its queue's quota (reclaimable by the lenders)."""


@dataclass(frozen=True, slots=True)
class Pool:
    """An accelerator pool with its price and observed reliability."""

    name: str
    accelerator: str
    devices_per_node: int
    price_per_device_hour: float = 0.0
    capacity_type: str = "on-demand"
    preemption_rate_per_hour: float = 0.0
    """Observed preemptions per node-hour (spot pools); 0 when never preempted."""
    memory_gib: float | None = None
    units_per_device: float = 1.0
    region: str = ""
    provider: str = ""

    @property
    def spot(self) -> bool:
        return self.capacity_type == "spot"


@dataclass(frozen=True, slots=True)
class QueueQuota:
    """A team's queue: guaranteed capacity, borrowing limits, fair-share weight."""

    name: str
    team: str
    devices: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    """Accelerator type -> guaranteed devices; empty means no per-type limit."""
    normalized_units: float | None = None
    dollars_per_day: float | None = None
    borrowing: bool = True
    max_borrow_devices: Mapping[str, int] | None = None
    max_borrow_units: float | None = None
    weight: float = 1.0
    cohort: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.team, self.name)

    def device_quota(self, accelerator: str) -> int | None:
        """Guaranteed devices of a type; None when the queue sets no per-type quota."""
        if not self.devices:
            return None
        wanted = accelerator.casefold()
        return next((count for name, count in self.devices.items() if name.casefold() == wanted), 0)


@dataclass(frozen=True, slots=True)
class RateEstimate:
    """How fast a job runs on an accelerator type, or why it cannot run there."""

    steps_per_second: float | None
    reason: str | None = None
    layout: Layout | None = None
    """The layout the rate assumes, when the estimator re-planned the job's own."""

    @property
    def fits(self) -> bool:
        return self.steps_per_second is not None and self.steps_per_second > 0


class Estimator(Protocol):
    """Steps per second of a job's gang on an accelerator type (see ``estimates``)."""

    def estimate(self, job: Job, accelerator: str, devices_per_node: int) -> RateEstimate: ...


@dataclass(frozen=True)
class ClusterSnapshot:
    """Everything one round sees. Build it, hand it to ``Scheduler.plan``, throw it away."""

    now: float
    jobs: tuple[Job, ...]
    """Pending and running jobs (finished ones are left out)."""
    attempts: tuple[Attempt, ...]
    pools: tuple[Pool, ...]
    topology: Topology
    estimator: Estimator
    queues: tuple[QueueQuota, ...] = ()
    """Empty: no quotas at all (every job admissible by capacity alone)."""

    def __post_init__(self) -> None:
        job_ids = [job.job_id for job in self.jobs]
        if len(set(job_ids)) != len(job_ids):
            raise InvalidInputError("job ids repeat in the snapshot", field="jobs")
        known = set(job_ids)
        pools = {pool.name for pool in self.pools}
        for attempt in self.attempts:
            if attempt.job_id not in known:
                raise InvalidInputError(f"attempt of unknown job {attempt.job_id!r}", field="attempts")
            if attempt.pool not in pools:
                raise InvalidInputError(f"attempt of {attempt.job_id!r} is on unknown pool {attempt.pool!r}",
                                        field="attempts")
        topology_pools = {info.name for info in self.topology.pools}
        missing = sorted(pools - topology_pools)
        if missing:
            raise InvalidInputError(f"pools {', '.join(missing)} are not in the topology", field="pools")

    def attempts_by_job(self) -> dict[str, Attempt]:
        return {attempt.job_id: attempt for attempt in self.attempts}

    def pool_by_name(self) -> dict[str, Pool]:
        return {pool.name: pool for pool in self.pools}
