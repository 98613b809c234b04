"""Nodes: register or refresh a pool's nodes, list them, change their scheduling state.

Registering or refreshing a node reports ``created`` / ``updated`` / ``unchanged`` and writes
no event (the caller decides what is worth logging). A state change is the node's equivalent of
a status switch: :meth:`NodeRepository.set_state` appends ``node.state_changed`` with
``{"from", "to"}`` in the same transaction. Setting the state a node already has is a no-op, so
a sync loop can repeat itself freely.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from controlplane.domain.errors import NotFoundError
from controlplane.store.converters import node_record
from controlplane.store.models import NodeRow, PoolRow
from controlplane.store.models.base import utcnow
from controlplane.store.records import NodeRecord, NodeState, UpsertOutcome
from controlplane.store.repositories._support import changed, conflict_on_integrity_error
from controlplane.store.repositories.events import EventRepository


class NodeRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def upsert(self, *, pool_id: str, name: str, accelerator: str, devices: int,
               labels: dict[str, Any] | None = None,
               now: datetime | None = None) -> tuple[NodeRecord, UpsertOutcome]:
        """Register node ``name`` in ``pool_id`` (state ``ready``) or refresh what it reports."""
        if self._session.get(PoolRow, pool_id) is None:
            raise NotFoundError(f"pool {pool_id} not found", field="pool_id")
        moment = now or utcnow()
        values: dict[str, Any] = {"pool_id": pool_id, "accelerator": accelerator, "devices": devices,
                                  "labels": dict(labels or {})}
        row = self._find_row(name, lock=True)
        if row is None:
            row = NodeRow(name=name, state=NodeState.READY.value, created_at=moment, updated_at=moment,
                          **values)
            with conflict_on_integrity_error(self._session, f"node {name} was registered concurrently",
                                             field="name"):
                self._session.add(row)
            return node_record(row), UpsertOutcome.CREATED
        if not changed(row, values):
            return node_record(row), UpsertOutcome.UNCHANGED
        for attribute, value in values.items():
            setattr(row, attribute, value)
        row.updated_at = moment
        self._session.flush()
        return node_record(row), UpsertOutcome.UPDATED

    def get(self, node_id: str) -> NodeRecord:
        """The node with id ``node_id``; ``NotFoundError`` if there is none."""
        row = self._session.get(NodeRow, node_id)
        if row is None:
            raise NotFoundError(f"node {node_id} not found", field="node_id")
        return node_record(row)

    def find_by_name(self, name: str) -> NodeRecord | None:
        """The node called ``name``, if any."""
        row = self._find_row(name)
        return node_record(row) if row else None

    def list_for_pool(self, pool_id: str, *, states: Iterable[NodeState] | None = None
                      ) -> builtins.list[NodeRecord]:
        """Nodes of ``pool_id`` (optionally only in ``states``), by name."""
        query = select(NodeRow).where(NodeRow.pool_id == pool_id)
        if states is not None:
            query = query.where(NodeRow.state.in_([NodeState(state).value for state in states]))
        return [node_record(row) for row in self._session.scalars(query.order_by(NodeRow.name))]

    def set_state(self, node_id: str, state: NodeState, *, message: str = "",
                  now: datetime | None = None) -> NodeRecord:
        """Put the node in ``state`` (no-op if it is there already)."""
        row = self._session.get(NodeRow, node_id, with_for_update=True, populate_existing=True)
        if row is None:
            raise NotFoundError(f"node {node_id} not found", field="node_id")
        target = NodeState(state)
        current = NodeState(row.state)
        if current is target:
            return node_record(row)
        moment = now or utcnow()
        row.state, row.updated_at = target.value, moment
        self._session.flush()
        EventRepository(self._session).append(
            type="node.state_changed", entity="node", entity_id=row.id,
            message=message or f"node {row.name} {current} -> {target}",
            data={"from": current.value, "to": target.value, "pool_id": row.pool_id}, now=moment,
        )
        return node_record(row)

    def _find_row(self, name: str, *, lock: bool = False) -> NodeRow | None:
        query = select(NodeRow).where(NodeRow.name == name)
        if lock:
            query = query.with_for_update()
        return self._session.scalars(query).one_or_none()
