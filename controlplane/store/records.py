"""Plain, immutable records the store hands out instead of ORM rows.

Nothing outside ``controlplane.store`` ever sees a SQLAlchemy object: repositories and
transitions return these frozen dataclasses, which are safe to keep after the session closes,
to pass to pure policy code, and to serialise (``to_dict()`` gives JSON-ready dicts with ISO
8601 UTC timestamps and enum values as strings).

Also owns two small vocabularies that only the store defines today: :class:`NodeState` and
:class:`UpsertOutcome`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any

from controlplane.domain.statuses import AttemptStatus, JobStatus


class NodeState(StrEnum):
    READY = "ready"          # schedulable
    CORDONED = "cordoned"    # running work stays, nothing new is placed
    DRAINING = "draining"    # work is being moved off (e.g. after a preemption notice)
    LOST = "lost"            # gone or unreachable


class UpsertOutcome(StrEnum):
    """What an apply (create-or-update by name) did."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


class _Record:
    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict (ISO timestamps, enum values, copied documents)."""
        return {field.name: _jsonable(getattr(self, field.name)) for field in fields(self)}  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class QueueRecord(_Record):
    id: str
    team: str
    name: str
    labels: dict[str, Any]
    spec: dict[str, Any]
    spec_hash: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class PoolRecord(_Record):
    id: str
    name: str
    provider: str
    region: str | None
    zone: str | None
    accelerator: str
    capacity_type: str
    labels: dict[str, Any]
    spec: dict[str, Any]
    spec_hash: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class NodeRecord(_Record):
    id: str
    pool_id: str
    name: str
    accelerator: str
    devices: int
    labels: dict[str, Any]
    state: NodeState
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class JobRecord(_Record):
    id: str
    kind: str
    team: str
    name: str
    queue: str
    priority_class: str
    priority: int
    labels: dict[str, Any]
    spec: dict[str, Any]
    spec_hash: str
    status: JobStatus
    status_message: str
    idempotency_key: str | None
    restarts: int
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class AttemptRecord(_Record):
    id: str
    job_id: str
    number: int
    status: AttemptStatus
    status_message: str
    pool_id: str | None
    accelerator: str | None
    placement: dict[str, Any]
    request_id: str
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    exit_reason: str | None
    progress: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EventRecord(_Record):
    seq: int
    created_at: datetime
    type: str
    entity: str
    entity_id: str
    job_id: str | None
    team: str | None
    message: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LeaseRecord(_Record):
    name: str
    holder: str
    token: int
    acquired_at: datetime
    renewed_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class IntentRecord(_Record):
    id: str
    request_id: str
    kind: str
    job_id: str | None
    attempt_id: str | None
    payload: dict[str, Any]
    state: str
    lease_token: int
    created_at: datetime
    applied_at: datetime | None
    error: str | None
