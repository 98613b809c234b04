"""Intents: side effects recorded before they are applied, found again after a crash.

An intent is unique by its runtime ``request_id``; recording the same one twice returns the
first. ``pending()`` lists what a restarted controller must apply again, oldest first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from controlplane.domain.errors import NotFoundError
from controlplane.store.converters import intent_record
from controlplane.store.models import IntentRow
from controlplane.store.models.base import new_id, utcnow
from controlplane.store.models.intent import INTENT_KINDS
from controlplane.store.records import IntentRecord


class IntentRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def record(self, *, kind: str, request_id: str, payload: dict[str, Any], lease_token: int,
               job_id: str | None = None, attempt_id: str | None = None,
               now: datetime | None = None) -> IntentRecord:
        """Record a pending intent; if ``request_id`` is already recorded, return that one."""
        if kind not in INTENT_KINDS:
            raise ValueError(f"unknown intent kind {kind!r}; one of {', '.join(INTENT_KINDS)}")
        existing = self.find(request_id)
        if existing is not None:
            return existing
        row = IntentRow(id=new_id(), request_id=request_id, kind=kind, job_id=job_id, attempt_id=attempt_id,
                        payload=payload, state="pending", lease_token=lease_token, created_at=now or utcnow())
        self._session.add(row)
        self._session.flush()
        return intent_record(row)

    def find(self, request_id: str) -> IntentRecord | None:
        row = self._session.scalar(select(IntentRow).where(IntentRow.request_id == request_id))
        return intent_record(row) if row is not None else None

    def pending(self) -> list[IntentRecord]:
        rows = self._session.scalars(
            select(IntentRow).where(IntentRow.state == "pending").order_by(IntentRow.created_at, IntentRow.id))
        return [intent_record(row) for row in rows]

    def of_kind(self, kind: str, *, since: datetime, prefix: str = "") -> list[IntentRecord]:
        """Intents of ``kind`` recorded at or after ``since`` whose request id starts with ``prefix``."""
        query = select(IntentRow).where(IntentRow.kind == kind, IntentRow.created_at >= since)
        if prefix:
            query = query.where(IntentRow.request_id.startswith(prefix, autoescape=True))
        return [intent_record(row) for row in self._session.scalars(query.order_by(IntentRow.created_at, IntentRow.id))]

    def for_job(self, job_id: str) -> list[IntentRecord]:
        rows = self._session.scalars(
            select(IntentRow).where(IntentRow.job_id == job_id).order_by(IntentRow.created_at, IntentRow.id))
        return [intent_record(row) for row in rows]

    def finish(self, request_id: str, state: str, *, error: str | None = None,
               now: datetime | None = None) -> IntentRecord:
        """Mark an intent ``applied``, ``failed`` or ``superseded``."""
        if state not in ("applied", "failed", "superseded"):
            raise ValueError(f"cannot finish an intent as {state!r}")
        row = self._session.scalar(select(IntentRow).where(IntentRow.request_id == request_id))
        if row is None:
            raise NotFoundError(f"no intent with request id {request_id}", field="request_id")
        if row.state == "pending":
            row.state = state
            row.error = error
            row.applied_at = now or utcnow()
            self._session.flush()
        return intent_record(row)
