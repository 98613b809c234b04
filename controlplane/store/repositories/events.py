"""The append-only event log: write one event, read events back in ``seq`` order.

Events are how the CLI, the dashboard and the cost ledger learn what happened. Readers tail the
log with ``after_seq``: ``seq`` grows with every insert. (On PostgreSQL two transactions can
commit out of ``seq`` order, so a tailer that must never skip an event re-reads a short window
behind its last ``seq``.)
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from controlplane.store.converters import event_record
from controlplane.store.models import EventRow
from controlplane.store.models.base import utcnow
from controlplane.store.models.event import EVENT_ENTITIES
from controlplane.store.pagination import check_limit
from controlplane.store.records import EventRecord

DEFAULT_EVENT_LIMIT = 100


class EventRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def append(self, *, type: str, entity: str, entity_id: str, message: str = "",
               job_id: str | None = None, team: str | None = None,
               data: dict[str, Any] | None = None, now: datetime | None = None) -> EventRecord:
        """Add one event to the caller's transaction and return it with its ``seq``."""
        if entity not in EVENT_ENTITIES:
            raise ValueError(f"unknown event entity {entity!r}; expected one of {EVENT_ENTITIES}")
        if not type.startswith(f"{entity}."):
            raise ValueError(f"event type {type!r} must start with its entity, {entity!r}")
        row = EventRow(
            created_at=now or utcnow(), type=type, entity=entity, entity_id=entity_id,
            job_id=job_id, team=team, message=message, data=dict(data or {}),
        )
        self._session.add(row)
        self._session.flush()
        return event_record(row)

    def list(self, *, job_id: str | None = None, entity: str | None = None,
             entity_id: str | None = None, type_prefix: str | None = None, team: str | None = None,
             after_seq: int | None = None, since: datetime | None = None,
             limit: int = DEFAULT_EVENT_LIMIT) -> builtins.list[EventRecord]:
        """Events matching every given filter (``since``: created at or after), oldest first, at most
        ``limit`` of them."""
        query = select(EventRow)
        if job_id is not None:
            query = query.where(EventRow.job_id == job_id)
        if entity is not None:
            query = query.where(EventRow.entity == entity)
        if entity_id is not None:
            query = query.where(EventRow.entity_id == entity_id)
        if type_prefix is not None:
            query = query.where(EventRow.type.startswith(type_prefix, autoescape=True))
        if team is not None:
            query = query.where(EventRow.team == team)
        if after_seq is not None:
            query = query.where(EventRow.seq > after_seq)
        if since is not None:
            query = query.where(EventRow.created_at >= since)
        query = query.order_by(EventRow.seq).limit(check_limit(limit))
        return [event_record(row) for row in self._session.scalars(query)]

    def latest_seq(self) -> int:
        """The highest ``seq`` written so far, 0 for an empty log."""
        return self._session.scalar(select(func.max(EventRow.seq))) or 0
