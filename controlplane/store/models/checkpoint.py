"""ORM row of a checkpoint: one committed checkpoint of a job, with every tier it is committed on.

Vocabulary:
- ``checkpoint``: the checkpoint id the worker SDK names it by (``step-<step>-<attempt tag>``),
  unique per job; two attempts that reach the same step save two checkpoints.
- ``step``: the training step the state is as of (steps done, from 1).
- ``tiers``: one JSON object per tier the checkpoint is committed on, in commit order:
  ``{"tier", "uri", "committedAt", "persistS"}``. A row exists from its first commit on.
- ``bytes``: the checkpoint's size (all ranks' shards); ``snapshot_s``: the blocking snapshot time.

``attempt_id`` is set to NULL if its attempt is deleted; deleting the job deletes its checkpoints.

Also owns ``CheckpointRecord`` and its converter (the store's records module is shared).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from controlplane.store.models.base import ID_LENGTH, NAME_LENGTH, Base, JSONDocument, new_id, utcnow
from controlplane.store.records import _Record


class CheckpointRow(Base):
    __tablename__ = "checkpoints"
    __table_args__ = (
        UniqueConstraint("job_id", "checkpoint"),
        Index(None, "job_id", "step"),
        CheckConstraint("step >= 0", name="step_not_negative"),
        CheckConstraint("bytes >= 0", name="bytes_not_negative"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    job_id: Mapped[str] = mapped_column(String(ID_LENGTH), ForeignKey("jobs.id", ondelete="CASCADE"))
    attempt_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("attempts.id", ondelete="SET NULL"), index=True)
    checkpoint: Mapped[str] = mapped_column(String(NAME_LENGTH))
    step: Mapped[int]
    bytes: Mapped[int] = mapped_column(BigInteger)
    snapshot_s: Mapped[float | None] = mapped_column(Float)
    tiers: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


@dataclass(frozen=True, slots=True)
class CheckpointRecord(_Record):
    id: str
    job_id: str
    attempt_id: str | None
    checkpoint: str
    step: int
    bytes: int
    snapshot_s: float | None
    tiers: list[dict[str, Any]] = field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def tier_uris(self) -> list[str]:
        return [str(tier.get("tier")) for tier in self.tiers]


def checkpoint_record(row: CheckpointRow) -> CheckpointRecord:
    return CheckpointRecord(id=row.id, job_id=row.job_id, attempt_id=row.attempt_id, checkpoint=row.checkpoint,
                            step=row.step, bytes=row.bytes, snapshot_s=row.snapshot_s,
                            tiers=[dict(tier) for tier in row.tiers or []], created_at=row.created_at,
                            updated_at=row.updated_at)
