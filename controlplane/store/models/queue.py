"""ORM row of a queue: a team's named line of jobs with its quota and fair-share spec.

Queues are team-scoped: ``(team, name)`` is unique. The full spec (quota, weight, ...) is kept
as a JSON document; ``spec_hash`` lets an apply tell "unchanged" from "updated" cheaply.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from controlplane.store.models.base import (
    EMPTY_JSON,
    HASH_LENGTH,
    ID_LENGTH,
    NAME_LENGTH,
    Base,
    JSONDocument,
    new_id,
    utcnow,
)


class QueueRow(Base):
    __tablename__ = "queues"
    __table_args__ = (UniqueConstraint("team", "name"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    team: Mapped[str] = mapped_column(String(NAME_LENGTH))
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    labels: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict, server_default=EMPTY_JSON)
    spec: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    spec_hash: Mapped[str] = mapped_column(String(HASH_LENGTH))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
