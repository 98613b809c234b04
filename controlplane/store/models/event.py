"""ORM row of an event: one line of the append-only audit log.

Vocabulary:
- ``seq``: a monotonically increasing integer assigned by the database; readers tail the log
  with "events after seq N".
- ``type``: dotted, ``<entity>.<what happened>``, e.g. ``job.submitted``, ``job.status_changed``,
  ``attempt.status_changed``, ``pool.applied``.
- ``entity`` / ``entity_id``: what the event is about (``job``, ``attempt``, ``pool``, ``queue``,
  ``node``); ``job_id`` and ``team`` are filled whenever the event concerns a job, so a job's
  whole history (attempts included) is one indexed query.

Rows are never updated or deleted by the application.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from controlplane.store.models.base import (
    ID_LENGTH,
    NAME_LENGTH,
    SHORT_TEXT,
    Base,
    JSONDocument,
    one_of,
    utcnow,
)

EVENT_ENTITIES = ("job", "attempt", "pool", "queue", "node")

# BIGINT on PostgreSQL; on SQLite only "INTEGER PRIMARY KEY" is the auto-assigned rowid.
SequenceNumber = BigInteger().with_variant(Integer(), "sqlite")


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint(one_of("entity", EVENT_ENTITIES), name="entity_known"),
        Index(None, "entity", "entity_id"),
        {"sqlite_autoincrement": True},
    )

    seq: Mapped[int] = mapped_column(SequenceNumber, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    type: Mapped[str] = mapped_column(String(SHORT_TEXT), index=True)
    entity: Mapped[str] = mapped_column(String(SHORT_TEXT))
    entity_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    job_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    team: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    message: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
