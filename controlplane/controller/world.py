"""Build the scheduler's ``ClusterSnapshot`` from the store's records and the runtime's nodes.

Pure: takes plain records and observations, returns the snapshot plus the lookups the apply
step needs (job and pool records by the ids the scheduler uses). Vocabulary:
- *live node*: a node the runtime reports alive; cordoned ones stay in the tree but are marked
  unavailable, so nothing new is placed there.
- *schedulable pool*: a pool registered in the store (it has a price and a spec) that has at
  least one live node. Jobs wanting only other pools wait, with the reason.
- A job's scheduler id is its store uid; an attempt's devices are found by their names
  (``<node>/dev<k>``), which survive rebuilding the tree every tick.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jobspecs
from controlplane.catalog.prices import PriceCatalog
from controlplane.domain.errors import NotFoundError
from controlplane.domain.statuses import JobStatus
from controlplane.runtime.types import NodeObservation
from controlplane.scheduling import ClusterSnapshot, Estimator
from controlplane.scheduling.snapshot import Attempt as ScheduledAttempt
from controlplane.scheduling.snapshot import Job as ScheduledJob
from controlplane.scheduling.specs import job_from_spec, pool_from_spec, queue_from_spec
from controlplane.store.records import AttemptRecord, JobRecord, PoolRecord, QueueRecord
from controlplane.topology import Topology, build_topology_from_nodes, catalog_link_defaults, pool_shape_from_spec
from controlplane.topology.labels import NodeLabels

SCHEDULED_STATUSES = frozenset({JobStatus.PENDING, JobStatus.SCHEDULED, JobStatus.RUNNING})


@dataclass(frozen=True)
class JobOverride:
    """What the controller's resilience policy adds to a pending job's constraints this tick."""

    allowed_pools: tuple[str, ...] | None = None
    """The pool a re-plan after a preemption chose (the scheduler places the job there only)."""
    avoid_spot: bool = False
    """The job's preemption rate tripped its limit: on-demand or reserved capacity only."""
    data_parallel: int | None = None
    """An elastic job's re-plan shrank it: this many data-parallel replicas (same global batch)."""
    reason: str = ""


@dataclass(frozen=True)
class World:
    """One tick's snapshot and the records behind its ids."""

    snapshot: ClusterSnapshot | None
    jobs: Mapping[str, JobRecord]
    pools: Mapping[str, PoolRecord]
    unschedulable: Mapping[str, str]
    """Job uid -> why it cannot be considered at all this tick (no live pool, bad spec...)."""
    nodes: tuple[NodeObservation, ...] = ()
    """The runtime's nodes this tick (for choosing checkpoint peers)."""


def training_job_document(job: JobRecord) -> jobspecs.TrainingJob:
    return jobspecs.TrainingJob.model_validate({
        "apiVersion": jobspecs.API_VERSION, "kind": "TrainingJob",
        "metadata": {"name": job.name, "team": job.team, "labels": dict(job.labels)}, "spec": job.spec})


def pool_document(pool: PoolRecord) -> jobspecs.AcceleratorPool:
    return jobspecs.AcceleratorPool.model_validate({
        "apiVersion": jobspecs.API_VERSION, "kind": "AcceleratorPool",
        "metadata": {"name": pool.name, "labels": dict(pool.labels)}, "spec": pool.spec})


def queue_document(queue: QueueRecord) -> jobspecs.Queue:
    return jobspecs.Queue.model_validate({
        "apiVersion": jobspecs.API_VERSION, "kind": "Queue",
        "metadata": {"name": queue.name, "team": queue.team}, "spec": queue.spec})


def build_world(*, now: float, jobs: Sequence[JobRecord], active_attempts: Mapping[str, AttemptRecord],
                pools: Sequence[PoolRecord], queues: Sequence[QueueRecord], nodes: Sequence[NodeObservation],
                estimator: Estimator, prices: PriceCatalog, overrides: Mapping[str, JobOverride] | None = None,
                pool_preemption_rates: Mapping[str, float] | None = None) -> World:
    """The snapshot of one tick; ``active_attempts`` maps job uid -> its active attempt.

    ``overrides`` narrow pending jobs (by uid) after preemptions; ``pool_preemption_rates`` are
    the observed preemptions per node-hour of spot pools (by name)."""
    registered = {pool.name: pool for pool in pools}
    live = [node for node in nodes if node.alive and node.pool in registered]
    jobs_by_id = {job.id: job for job in jobs}
    if not live:
        why = "no live node of any registered pool: apply pools and start their nodes (`suanli up`)"
        return World(None, jobs_by_id, {}, {job.id: why for job in jobs if job.status is JobStatus.PENDING},
                     tuple(nodes))
    pool_specs = {name: pool_document(record) for name, record in registered.items()}
    shapes = [pool_shape_from_spec(pool_specs[name]) for name in sorted({node.pool for node in live})]
    topology = build_topology_from_nodes([NodeLabels(node.name, dict(node.labels)) for node in live],
                                         link_defaults=catalog_link_defaults(), pools=shapes)
    schedulable = {node.pool for node in live}
    rates = pool_preemption_rates or {}
    scheduler_pools = tuple(pool_from_spec(pool_specs[name], prices=prices,
                                           preemption_rate_per_hour=rates.get(name, 0.0))
                            for name in sorted(schedulable))
    scheduler_jobs: list[ScheduledJob] = []
    scheduler_attempts: list[ScheduledAttempt] = []
    unschedulable: dict[str, str] = {}
    for job in jobs:
        if job.kind != "TrainingJob" or job.status not in SCHEDULED_STATUSES:
            continue
        attempt = active_attempts.get(job.id)
        try:
            scheduled = _scheduled_job(job, attempt)
        except (jobspecs.SpecError, ValueError) as error:
            unschedulable[job.id] = f"the stored spec no longer validates: {error}"
            continue
        if attempt is not None:
            placed = _allocate(topology, attempt, job.id)
            if placed is None:
                continue  # its node is gone: the sync step ends the attempt
            if attempt.pool_id is None or _pool_name(attempt, pools) not in schedulable:
                continue
            scheduler_attempts.append(ScheduledAttempt(
                job_id=job.id, pool=_pool_name(attempt, pools), devices=placed,
                started_at=(attempt.started_at or attempt.created_at).timestamp(),
                spot=attempt.placement.get("capacityType") == "spot"))
        elif job.status is not JobStatus.PENDING:
            continue  # admitted, attempt being set up: not the scheduler's to touch
        else:
            scheduled = _with_override(scheduled, (overrides or {}).get(job.id), schedulable)
        scheduler_jobs.append(scheduled)
    for node in live:  # after the running attempts took their devices: a cordon keeps them running
        if node.cordoned:
            topology.mark_node_unavailable(node.name)
    known = {job.job_id for job in scheduler_jobs}
    scheduler_attempts = [a for a in scheduler_attempts if a.job_id in known]
    queue_quotas = tuple(queue_from_spec(queue_document(queue)) for queue in queues)
    snapshot = ClusterSnapshot(now=now, jobs=tuple(scheduler_jobs), attempts=tuple(scheduler_attempts),
                               pools=scheduler_pools, topology=topology, estimator=estimator, queues=queue_quotas)
    return World(snapshot, jobs_by_id, registered, unschedulable, tuple(nodes))


def _scheduled_job(job: JobRecord, attempt: AttemptRecord | None) -> ScheduledJob:
    progress: dict[str, Any] = attempt.progress if attempt else {}
    scheduled = job_from_spec(training_job_document(job), submitted_at=job.created_at.timestamp(),
                              done_steps=float(progress.get("step", 0) or 0))
    return dataclasses.replace(scheduled, job_id=job.id)


def _with_override(job: ScheduledJob, override: JobOverride | None, schedulable: set[str]) -> ScheduledJob:
    if override is None:
        return job
    pools = override.allowed_pools
    if pools is not None and not any(pool in schedulable for pool in pools):
        pools = None  # the chosen pool went away since: the scheduler chooses freely
    job = dataclasses.replace(job, allowed_pools=pools, spot_allowed=job.spot_allowed and not override.avoid_spot)
    return _with_data_parallel(job, override.data_parallel) if pools is not None else job


def _with_data_parallel(job: ScheduledJob, data_parallel: int | None) -> ScheduledJob:
    """The job with ``data_parallel`` replicas: the same global batch over fewer replicas (more
    micro-batches each), so a step does the same work and the checkpoint reshards on restore."""
    layout = job.layout
    if data_parallel is None or layout is None or data_parallel >= layout.dp or data_parallel < 1:
        return job
    if (data_parallel * layout.cp) % layout.ep:
        return job  # expert ranks are carved out of data x context: this size cannot hold them
    micro_batches = max(1, layout.micro_batches * layout.dp // data_parallel)
    shrunk = dataclasses.replace(layout, dp=data_parallel, micro_batches=micro_batches)
    return dataclasses.replace(job, layout=shrunk, devices=data_parallel * layout.tp * layout.pp * layout.cp)


def _allocate(topology: Topology, attempt: AttemptRecord, owner: str) -> tuple[int, ...] | None:
    names = [rank["device"] for rank in attempt.placement.get("ranks", [])]
    try:
        devices = tuple(topology.device_by_name(name) for name in names)
    except NotFoundError:
        return None
    if not devices:
        return None
    topology.allocate(devices, owner)
    return devices


def _pool_name(attempt: AttemptRecord, pools: Sequence[PoolRecord]) -> str:
    return next((pool.name for pool in pools if pool.id == attempt.pool_id), "")
