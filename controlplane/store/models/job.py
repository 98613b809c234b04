"""ORM row of a job: a TrainingJob or InferenceService as submitted, with its current status.

Vocabulary:
- ``kind``: the jobspecs kind, ``TrainingJob`` or ``InferenceService``.
- ``priority``: the integer derived from ``priority_class`` (higher runs first), stored so the
  queue order is an index scan.
- ``status``: a :class:`controlplane.domain.statuses.JobStatus` value, changed only by
  :mod:`controlplane.store.transitions`.
- ``idempotency_key``: optional client token; a retried submit with the same key finds the
  job it already created instead of creating a second one.
- ``restarts``: how many times the job went back to the queue to resume in a new attempt.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from controlplane.domain.statuses import JobStatus
from controlplane.store.models.base import (
    EMPTY_JSON,
    HASH_LENGTH,
    ID_LENGTH,
    NAME_LENGTH,
    SHORT_TEXT,
    Base,
    JSONDocument,
    new_id,
    one_of,
    utcnow,
)

JOB_KINDS = ("TrainingJob", "InferenceService")
IDEMPOTENCY_KEY_LENGTH = 128


class JobRow(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("kind", "team", "name"),
        UniqueConstraint("team", "idempotency_key"),
        Index(None, "status"),
        Index(None, "team", "status"),
        Index(None, "created_at", "id"),
        CheckConstraint(one_of("kind", JOB_KINDS), name="kind_known"),
        CheckConstraint(one_of("status", [s.value for s in JobStatus]), name="status_known"),
        CheckConstraint("restarts >= 0", name="restarts_not_negative"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(SHORT_TEXT))
    team: Mapped[str] = mapped_column(String(NAME_LENGTH))
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    queue: Mapped[str] = mapped_column(String(NAME_LENGTH))
    priority_class: Mapped[str] = mapped_column(String(SHORT_TEXT))
    priority: Mapped[int]
    labels: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict, server_default=EMPTY_JSON)
    spec: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    spec_hash: Mapped[str] = mapped_column(String(HASH_LENGTH))
    status: Mapped[str] = mapped_column(String(SHORT_TEXT))
    status_message: Mapped[str] = mapped_column(Text, default="")
    idempotency_key: Mapped[str | None] = mapped_column(String(IDEMPOTENCY_KEY_LENGTH))
    restarts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
