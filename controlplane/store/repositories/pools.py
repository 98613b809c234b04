"""Accelerator pools: apply (create or update by name), look up, list, delete.

An apply compares the stored ``spec_hash`` (and the indexed columns) with the new one and says
whether it ``created``, ``updated`` or left the pool ``unchanged``; only the first two append a
``pool.applied`` event. Deleting a pool deletes its nodes (``ON DELETE CASCADE``) and detaches
its past attempts (``pool_id`` set to NULL), and appends ``pool.deleted``.
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from controlplane.domain.errors import NotFoundError
from controlplane.store.converters import pool_record
from controlplane.store.hashing import spec_hash
from controlplane.store.models import NodeRow, PoolRow
from controlplane.store.models.base import utcnow
from controlplane.store.records import PoolRecord, UpsertOutcome
from controlplane.store.repositories._support import changed, conflict_on_integrity_error
from controlplane.store.repositories.events import EventRepository


class PoolRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def upsert(self, *, name: str, provider: str, accelerator: str, capacity_type: str,
               spec: dict[str, Any], region: str | None = None, zone: str | None = None,
               now: datetime | None = None) -> tuple[PoolRecord, UpsertOutcome]:
        """Create pool ``name`` or bring it to this spec; say which of the two happened, if any."""
        moment = now or utcnow()
        values: dict[str, Any] = {
            "provider": provider, "region": region, "zone": zone, "accelerator": accelerator,
            "capacity_type": capacity_type, "spec_hash": spec_hash(spec),
        }
        row = self._session.scalars(
            select(PoolRow).where(PoolRow.name == name).with_for_update()).one_or_none()
        if row is None:
            row = PoolRow(name=name, spec=dict(spec), created_at=moment, updated_at=moment, **values)
            with conflict_on_integrity_error(self._session, f"pool {name} was created concurrently",
                                             field="metadata.name", hint="apply again"):
                self._session.add(row)
            outcome = UpsertOutcome.CREATED
        elif changed(row, values):
            for attribute, value in values.items():
                setattr(row, attribute, value)
            row.spec = dict(spec)
            row.updated_at = moment
            self._session.flush()
            outcome = UpsertOutcome.UPDATED
        else:
            return pool_record(row), UpsertOutcome.UNCHANGED
        EventRepository(self._session).append(
            type="pool.applied", entity="pool", entity_id=row.id, message=f"pool {name} {outcome}",
            data={"outcome": outcome.value, "spec_hash": row.spec_hash}, now=moment,
        )
        return pool_record(row), outcome

    def get(self, pool_id: str) -> PoolRecord:
        """The pool with id ``pool_id``; ``NotFoundError`` if there is none."""
        row = self._session.get(PoolRow, pool_id)
        if row is None:
            raise NotFoundError(f"pool {pool_id} not found", field="pool_id")
        return pool_record(row)

    def find_by_name(self, name: str) -> PoolRecord | None:
        """The pool called ``name``, if any."""
        row = self._session.scalars(select(PoolRow).where(PoolRow.name == name)).one_or_none()
        return pool_record(row) if row else None

    def list(self, *, provider: str | None = None, accelerator: str | None = None,
             capacity_type: str | None = None) -> builtins.list[PoolRecord]:
        """Pools matching every given filter, by name."""
        query = select(PoolRow)
        if provider is not None:
            query = query.where(PoolRow.provider == provider)
        if accelerator is not None:
            query = query.where(PoolRow.accelerator == accelerator)
        if capacity_type is not None:
            query = query.where(PoolRow.capacity_type == capacity_type)
        return [pool_record(row) for row in self._session.scalars(query.order_by(PoolRow.name))]

    def delete(self, pool_id: str, *, now: datetime | None = None) -> PoolRecord:
        """Delete the pool and its nodes; return what was deleted."""
        row = self._session.get(PoolRow, pool_id)
        if row is None:
            raise NotFoundError(f"pool {pool_id} not found", field="pool_id")
        record = pool_record(row)
        self._session.delete(row)
        self._session.flush()
        for stale in [obj for obj in self._session.identity_map.values()
                      if isinstance(obj, NodeRow) and obj.pool_id == pool_id]:
            self._session.expunge(stale)  # removed by the database's cascade
        EventRepository(self._session).append(
            type="pool.deleted", entity="pool", entity_id=pool_id, message=f"pool {record.name} deleted",
            data={"name": record.name}, now=now,
        )
        return record
