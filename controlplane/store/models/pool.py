"""ORM row of an accelerator pool: a homogeneous group of nodes in one place at one price kind.

Pools are cluster-scoped, so ``name`` alone is unique. The columns next to ``spec`` (provider,
region, zone, accelerator, capacity type) are copies of spec fields kept for filtering and
indexing; the JSON ``spec`` is the source of truth.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from controlplane.store.models.base import (
    EMPTY_JSON,
    HASH_LENGTH,
    ID_LENGTH,
    NAME_LENGTH,
    SHORT_TEXT,
    Base,
    JSONDocument,
    new_id,
    utcnow,
)


class PoolRow(Base):
    __tablename__ = "pools"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    provider: Mapped[str] = mapped_column(String(SHORT_TEXT))
    region: Mapped[str | None] = mapped_column(String(SHORT_TEXT))
    zone: Mapped[str | None] = mapped_column(String(SHORT_TEXT))
    accelerator: Mapped[str] = mapped_column(String(SHORT_TEXT))
    capacity_type: Mapped[str] = mapped_column(String(SHORT_TEXT))
    labels: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict, server_default=EMPTY_JSON)
    spec: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    spec_hash: Mapped[str] = mapped_column(String(HASH_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
