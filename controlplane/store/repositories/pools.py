"""Accelerator pools: apply (create or update by name), look up, list, delete.

An apply compares the stored spec hash, labels and indexed columns with the new ones and says
whether it ``created``, ``updated`` or left the pool ``unchanged``. Deleting a pool deletes its
nodes (``ON DELETE CASCADE``) and detaches its past attempts (``pool_id`` set to NULL). No
event is written here: the use case records ``pool.*`` events with what it knows.
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from controlplane.domain.errors import NotFoundError
from controlplane.store.converters import pool_record
from controlplane.store.hashing import spec_hash as hash_spec
from controlplane.store.models import NodeRow, PoolRow
from controlplane.store.models.base import utcnow
from controlplane.store.records import PoolRecord, UpsertOutcome
from controlplane.store.repositories._support import changed, conflict_on_integrity_error


class PoolRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def upsert(self, *, name: str, provider: str, accelerator: str, capacity_type: str,
               spec: dict[str, Any], region: str | None = None, zone: str | None = None,
               labels: dict[str, Any] | None = None, spec_hash: str | None = None,
               now: datetime | None = None) -> tuple[PoolRecord, UpsertOutcome]:
        """Create pool ``name`` or bring it to this spec; say which of the two happened, if any.

        ``spec_hash`` defaults to :func:`controlplane.store.hashing.spec_hash` of ``spec``; a
        caller that passes its own digest must do so on every apply.
        """
        moment = now or utcnow()
        digest = hash_spec(spec)
        values: dict[str, Any] = {
            "provider": provider, "region": region, "zone": zone, "accelerator": accelerator,
            "capacity_type": capacity_type, "labels": dict(labels or {}), "spec_hash": spec_hash or digest,
        }
        row = self._session.scalars(
            select(PoolRow).where(PoolRow.name == name).with_for_update()).one_or_none()
        if row is None:
            row = PoolRow(name=name, spec=dict(spec), created_at=moment, updated_at=moment, **values)
            with conflict_on_integrity_error(self._session, f"pool {name} was created concurrently",
                                             field="metadata.name", hint="apply again"):
                self._session.add(row)
            return pool_record(row), UpsertOutcome.CREATED
        if not changed(row, values):
            return pool_record(row), UpsertOutcome.UNCHANGED
        for attribute, value in values.items():
            setattr(row, attribute, value)
        row.spec = dict(spec)
        row.updated_at = moment
        self._session.flush()
        return pool_record(row), UpsertOutcome.UPDATED

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

    def names_by_id(self) -> dict[str, str]:
        """``{pool id: pool name}`` of every pool, to label attempts cheaply."""
        return {pool_id: name for pool_id, name in self._session.execute(select(PoolRow.id, PoolRow.name))}

    def delete(self, pool_id: str) -> PoolRecord:
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
        return record
