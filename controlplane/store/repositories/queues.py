"""Queues: apply (create or update by team and name), look up, list, delete.

Apply reports ``created`` / ``updated`` / ``unchanged`` by comparing spec hashes and labels. No
event is written here: the use case records ``queue.*`` events with what it knows.
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from controlplane.domain.errors import NotFoundError
from controlplane.store.converters import queue_record
from controlplane.store.hashing import spec_hash as hash_spec
from controlplane.store.models import QueueRow
from controlplane.store.models.base import utcnow
from controlplane.store.records import QueueRecord, UpsertOutcome
from controlplane.store.repositories._support import changed, conflict_on_integrity_error


class QueueRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def upsert(self, *, team: str, name: str, spec: dict[str, Any], labels: dict[str, Any] | None = None,
               spec_hash: str | None = None,
               now: datetime | None = None) -> tuple[QueueRecord, UpsertOutcome]:
        """Create queue ``team/name`` or bring it to this spec; say which happened, if any.

        ``spec_hash`` defaults to :func:`controlplane.store.hashing.spec_hash` of ``spec``.
        """
        moment = now or utcnow()
        digest = hash_spec(spec)
        values: dict[str, Any] = {"labels": dict(labels or {}), "spec_hash": spec_hash or digest}
        row = self._find_row(team, name, lock=True)
        if row is None:
            row = QueueRow(team=team, name=name, spec=dict(spec), created_at=moment, updated_at=moment,
                           **values)
            with conflict_on_integrity_error(self._session, f"queue {team}/{name} was created concurrently",
                                             field="metadata.name", hint="apply again"):
                self._session.add(row)
            return queue_record(row), UpsertOutcome.CREATED
        if not changed(row, values):
            return queue_record(row), UpsertOutcome.UNCHANGED
        row.labels, row.spec_hash = values["labels"], values["spec_hash"]
        row.spec, row.updated_at = dict(spec), moment
        self._session.flush()
        return queue_record(row), UpsertOutcome.UPDATED

    def get(self, queue_id: str) -> QueueRecord:
        """The queue with id ``queue_id``; ``NotFoundError`` if there is none."""
        row = self._session.get(QueueRow, queue_id)
        if row is None:
            raise NotFoundError(f"queue {queue_id} not found", field="queue_id")
        return queue_record(row)

    def find(self, team: str, name: str) -> QueueRecord | None:
        """Queue ``name`` of ``team``, if any."""
        row = self._find_row(team, name)
        return queue_record(row) if row else None

    def list(self, *, team: str | None = None) -> builtins.list[QueueRecord]:
        """Queues (of one team, or all), by team then name."""
        query = select(QueueRow)
        if team is not None:
            query = query.where(QueueRow.team == team)
        rows = self._session.scalars(query.order_by(QueueRow.team, QueueRow.name))
        return [queue_record(row) for row in rows]

    def delete(self, team: str, name: str) -> QueueRecord:
        """Delete queue ``team/name``; return what was deleted."""
        row = self._find_row(team, name)
        if row is None:
            raise NotFoundError(f"queue {team}/{name} not found", field="metadata.name")
        record = queue_record(row)
        self._session.delete(row)
        self._session.flush()
        return record

    def _find_row(self, team: str, name: str, *, lock: bool = False) -> QueueRow | None:
        query = select(QueueRow).where(QueueRow.team == team, QueueRow.name == name)
        if lock:
            query = query.with_for_update()
        return self._session.scalars(query).one_or_none()
