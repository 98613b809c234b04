"""Converters from store records to wire views: the only place that shapes API objects."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from controlplane.store.records import AttemptRecord, EventRecord, JobRecord, PoolRecord, QueueRecord
from controlplane.wire import (
    AttemptView,
    EventView,
    JobStatusView,
    JobView,
    ObjectMeta,
    PoolStatusView,
    PoolView,
    QueueView,
)


def attempt_view(attempt: AttemptRecord, pool_names: Mapping[str, str]) -> AttemptView:
    return AttemptView(
        id=attempt.id, number=attempt.number, status=attempt.status.value,
        pool=pool_names.get(attempt.pool_id or "", attempt.pool_id), accelerator=attempt.accelerator,
        placement=attempt.placement or None, created_at=attempt.created_at, started_at=attempt.started_at,
        ended_at=attempt.ended_at, exit_reason=attempt.exit_reason,
    )


def job_view(job: JobRecord, attempts: Sequence[AttemptRecord] = (),
             pool_names: Mapping[str, str] | None = None) -> JobView:
    return JobView(
        kind=job.kind,
        metadata=ObjectMeta(name=job.name, team=job.team, labels=dict(job.labels), uid=job.id,
                            created_at=job.created_at, updated_at=job.updated_at),
        spec=job.spec,
        status=JobStatusView(
            phase=job.status.value, message=job.status_message or None, queue=job.queue,
            priority_class=job.priority_class, priority=job.priority, restarts=job.restarts,
            attempts=[attempt_view(a, pool_names or {}) for a in attempts], finished_at=job.finished_at,
        ),
    )


def pool_view(pool: PoolRecord, status: PoolStatusView | None = None) -> PoolView:
    return PoolView(
        metadata=ObjectMeta(name=pool.name, labels=dict(pool.labels), uid=pool.id,
                            created_at=pool.created_at, updated_at=pool.updated_at),
        spec=pool.spec, status=status or PoolStatusView(),
    )


def queue_view(queue: QueueRecord) -> QueueView:
    return QueueView(
        metadata=ObjectMeta(name=queue.name, team=queue.team, labels=dict(queue.labels), uid=queue.id,
                            created_at=queue.created_at, updated_at=queue.updated_at),
        spec=queue.spec,
    )


def event_view(event: EventRecord) -> EventView:
    return EventView(seq=event.seq, time=event.created_at, type=event.type, entity=event.entity,
                     entity_id=event.entity_id, job_id=event.job_id, team=event.team, message=event.message,
                     data=event.data)
