"""ORM row of a node: one machine of a pool, with its device count and scheduling state.

A node belongs to exactly one pool and disappears with it (``ON DELETE CASCADE``). Node names
are unique across the cluster, as in Kubernetes. ``state`` is one of
:class:`controlplane.store.records.NodeState`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from controlplane.store.models.base import (
    ID_LENGTH,
    NAME_LENGTH,
    SHORT_TEXT,
    Base,
    JSONDocument,
    new_id,
    one_of,
    utcnow,
)

NODE_STATES = ("ready", "cordoned", "draining", "lost")


class NodeRow(Base):
    __tablename__ = "nodes"
    __table_args__ = (
        CheckConstraint("devices >= 0", name="devices_not_negative"),
        CheckConstraint(one_of("state", NODE_STATES), name="state_known"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    pool_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("pools.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    accelerator: Mapped[str] = mapped_column(String(SHORT_TEXT))
    devices: Mapped[int]
    labels: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    state: Mapped[str] = mapped_column(String(SHORT_TEXT))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
