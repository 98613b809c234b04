"""Converters from store records to wire views: the only place that shapes API objects."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from controlplane.store.records import AttemptRecord, EventRecord, JobRecord, PoolRecord, QueueRecord
from controlplane.wire import (
    AttemptView,
    CostView,
    EventView,
    JobStatusView,
    JobView,
    ObjectMeta,
    PoolStatusView,
    PoolView,
    QueueView,
)


def attempt_usage(attempt: AttemptRecord, now: datetime | None = None) -> tuple[float, float]:
    """(device-hours, dollars) the attempt has used: its devices from start to end (or now) at
    the pool price recorded in its placement when it was admitted."""
    if attempt.started_at is None:
        return 0.0, 0.0
    end = attempt.ended_at or now or datetime.now(UTC)
    hours = max((end - attempt.started_at).total_seconds(), 0.0) / 3600.0
    devices = len(attempt.placement.get("ranks", []))
    device_hours = devices * hours
    return device_hours, device_hours * float(attempt.placement.get("pricePerDeviceHour") or 0.0)


def attempt_view(attempt: AttemptRecord, pool_names: Mapping[str, str]) -> AttemptView:
    device_hours, dollars = attempt_usage(attempt)
    return AttemptView(
        id=attempt.id, number=attempt.number, status=attempt.status.value,
        pool=pool_names.get(attempt.pool_id or "", attempt.pool_id), accelerator=attempt.accelerator,
        placement=attempt.placement or None, created_at=attempt.created_at, started_at=attempt.started_at,
        ended_at=attempt.ended_at, exit_reason=attempt.exit_reason,
        progress={k: v for k, v in attempt.progress.items() if k not in ("firstTime", "firstStep", "firstRuntimeTime")},
        cost_dollars=round(dollars, 6), device_hours=round(device_hours, 6),
    )


def cost_view(attempts: Sequence[AttemptView]) -> CostView:
    by_pool: dict[str, float] = {}
    for attempt in attempts:
        key = attempt.pool or "unknown"
        by_pool[key] = round(by_pool.get(key, 0.0) + attempt.cost_dollars, 6)
    return CostView(dollars=round(sum(a.cost_dollars for a in attempts), 6),
                    device_hours=round(sum(a.device_hours for a in attempts), 6), by_pool=by_pool)


def job_view(job: JobRecord, attempts: Sequence[AttemptRecord] = (),
             pool_names: Mapping[str, str] | None = None) -> JobView:
    attempt_views = [attempt_view(a, pool_names or {}) for a in attempts]
    return JobView(
        kind=job.kind,
        metadata=ObjectMeta(name=job.name, team=job.team, labels=dict(job.labels), uid=job.id,
                            created_at=job.created_at, updated_at=job.updated_at),
        spec=job.spec,
        status=JobStatusView(
            phase=job.status.value, message=job.status_message or None, queue=job.queue,
            priority_class=job.priority_class, priority=job.priority, restarts=job.restarts,
            attempts=attempt_views, finished_at=job.finished_at, cost=cost_view(attempt_views),
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
