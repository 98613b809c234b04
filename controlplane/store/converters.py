"""ORM row -> record converters: the single place where rows turn into plain data.

JSON documents are deep-copied so a record never aliases state held by a session.
"""

from __future__ import annotations

import copy
from typing import Any

from controlplane.domain.statuses import AttemptStatus, JobStatus
from controlplane.store.models import (
    AttemptRow,
    EventRow,
    IntentRow,
    JobRow,
    LeaseRow,
    NodeRow,
    PoolRow,
    QueueRow,
)
from controlplane.store.records import (
    AttemptRecord,
    EventRecord,
    IntentRecord,
    JobRecord,
    LeaseRecord,
    NodeRecord,
    NodeState,
    PoolRecord,
    QueueRecord,
)


def _document(value: dict[str, Any] | None) -> dict[str, Any]:
    return copy.deepcopy(value) if value else {}


def queue_record(row: QueueRow) -> QueueRecord:
    return QueueRecord(
        id=row.id, team=row.team, name=row.name, labels=_document(row.labels), spec=_document(row.spec),
        spec_hash=row.spec_hash, created_at=row.created_at, updated_at=row.updated_at,
    )


def pool_record(row: PoolRow) -> PoolRecord:
    return PoolRecord(
        id=row.id, name=row.name, provider=row.provider, region=row.region, zone=row.zone,
        accelerator=row.accelerator, capacity_type=row.capacity_type, labels=_document(row.labels),
        spec=_document(row.spec), spec_hash=row.spec_hash, created_at=row.created_at,
        updated_at=row.updated_at,
    )


def node_record(row: NodeRow) -> NodeRecord:
    return NodeRecord(
        id=row.id, pool_id=row.pool_id, name=row.name, accelerator=row.accelerator,
        devices=row.devices, labels=_document(row.labels), state=NodeState(row.state),
        created_at=row.created_at, updated_at=row.updated_at,
    )


def job_record(row: JobRow) -> JobRecord:
    return JobRecord(
        id=row.id, kind=row.kind, team=row.team, name=row.name, queue=row.queue,
        priority_class=row.priority_class, priority=row.priority, labels=_document(row.labels),
        spec=_document(row.spec), spec_hash=row.spec_hash, status=JobStatus(row.status),
        status_message=row.status_message,
        idempotency_key=row.idempotency_key, restarts=row.restarts, created_at=row.created_at,
        updated_at=row.updated_at, finished_at=row.finished_at,
    )


def attempt_record(row: AttemptRow) -> AttemptRecord:
    return AttemptRecord(
        id=row.id, job_id=row.job_id, number=row.number, status=AttemptStatus(row.status),
        status_message=row.status_message, pool_id=row.pool_id, accelerator=row.accelerator,
        placement=_document(row.placement), request_id=row.request_id, created_at=row.created_at,
        started_at=row.started_at, ended_at=row.ended_at, exit_reason=row.exit_reason,
        progress=_document(row.progress),
    )


def event_record(row: EventRow) -> EventRecord:
    return EventRecord(
        seq=row.seq, created_at=row.created_at, type=row.type, entity=row.entity,
        entity_id=row.entity_id, job_id=row.job_id, team=row.team, message=row.message,
        data=_document(row.data),
    )


def lease_record(row: LeaseRow) -> LeaseRecord:
    return LeaseRecord(name=row.name, holder=row.holder, token=row.token, acquired_at=row.acquired_at,
                       renewed_at=row.renewed_at, expires_at=row.expires_at)


def intent_record(row: IntentRow) -> IntentRecord:
    return IntentRecord(
        id=row.id, request_id=row.request_id, kind=row.kind, job_id=row.job_id, attempt_id=row.attempt_id,
        payload=_document(row.payload), state=row.state, lease_token=row.lease_token,
        created_at=row.created_at, applied_at=row.applied_at, error=row.error,
    )
