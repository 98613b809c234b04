"""ORM row of an attempt: one run of a job on one placement, from launch to its end.

Vocabulary:
- ``number``: 1 for the first attempt of a job, then 2, 3, ... (unique per job).
- ``status``: a :class:`controlplane.domain.statuses.AttemptStatus` value, changed only by
  :mod:`controlplane.store.transitions`.
- ``placement``: the chosen mapping (rank -> device, stage -> devices, expert -> devices) as JSON.
- ``request_id``: the idempotency key handed to the runtime's launch, unique across attempts, so
  a controller that crashes after launching never launches the same attempt twice.
- ``exit_reason``: why the attempt ended, in words.
- ``progress``: the latest progress the ranks reported (step, loss, tokens, rates, time).

``pool_id`` is set to NULL when its pool is deleted: the attempt's history outlives the pool.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from controlplane.domain.statuses import AttemptStatus
from controlplane.store.models.base import (
    EMPTY_JSON,
    ID_LENGTH,
    NAME_LENGTH,
    SHORT_TEXT,
    Base,
    JSONDocument,
    new_id,
    one_of,
    utcnow,
)


class AttemptRow(Base):
    __tablename__ = "attempts"
    __table_args__ = (
        UniqueConstraint("job_id", "number"),
        CheckConstraint("number >= 1", name="number_positive"),
        CheckConstraint(one_of("status", [s.value for s in AttemptStatus]), name="status_known"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    job_id: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("jobs.id", ondelete="CASCADE"))
    number: Mapped[int]
    status: Mapped[str] = mapped_column(String(SHORT_TEXT), index=True)
    status_message: Mapped[str] = mapped_column(Text, default="")
    pool_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("pools.id", ondelete="SET NULL"), index=True
    )
    accelerator: Mapped[str | None] = mapped_column(String(SHORT_TEXT))
    placement: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    request_id: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    exit_reason: Mapped[str | None] = mapped_column(Text)
    progress: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict, server_default=EMPTY_JSON)
