"""Checkpoints: every committed checkpoint of a job and the tiers it is committed on.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21

- ``checkpoints``: one row per (job, checkpoint id), created at the checkpoint's first commit;
  ``tiers`` grows as the checkpoint commits on more tiers. Unique by (job, checkpoint), looked up
  by (job, step); deleted with the job.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "checkpoints",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("attempt_id", sa.String(length=36), nullable=True),
        sa.Column("checkpoint", sa.String(length=253), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("snapshot_s", sa.Float(), nullable=True),
        sa.Column("tiers", JSON_DOCUMENT, nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.CheckConstraint("step >= 0", name=op.f("ck_checkpoints_step_not_negative")),
        sa.CheckConstraint("bytes >= 0", name=op.f("ck_checkpoints_bytes_not_negative")),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_checkpoints_job_id_jobs"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["attempt_id"], ["attempts.id"], name=op.f("fk_checkpoints_attempt_id_attempts"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkpoints")),
        sa.UniqueConstraint("job_id", "checkpoint", name=op.f("uq_checkpoints_job_id_checkpoint")),
    )
    op.create_index(op.f("ix_checkpoints_attempt_id"), "checkpoints", ["attempt_id"])
    op.create_index(op.f("ix_checkpoints_job_id_step"), "checkpoints", ["job_id", "step"])


def downgrade() -> None:
    op.drop_index(op.f("ix_checkpoints_job_id_step"), table_name="checkpoints")
    op.drop_index(op.f("ix_checkpoints_attempt_id"), table_name="checkpoints")
    op.drop_table("checkpoints")
