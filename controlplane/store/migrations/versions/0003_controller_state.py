"""Controller state: the leader lease, recorded intents, and attempt progress.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21

- ``leases``: one row per guarded role (``controller``), with a fencing token.
- ``intents``: side effects recorded before they are applied (launch, stop, checkpoint,
  cordon, uncordon), unique by runtime request id, so a restarted controller re-applies the
  pending ones and never applies one twice.
- ``attempts.progress``: the latest step report of an attempt (step, loss, tokens, rates).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=253), nullable=False),
        sa.Column("token", sa.Integer(), nullable=False),
        _timestamp("acquired_at"),
        _timestamp("renewed_at"),
        _timestamp("expires_at"),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )
    op.create_table(
        "intents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("request_id", sa.String(length=253), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=True),
        sa.Column("attempt_id", sa.String(length=36), nullable=True),
        sa.Column("payload", JSON_DOCUMENT, nullable=False),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("lease_token", sa.Integer(), nullable=False),
        _timestamp("created_at"),
        _timestamp("applied_at", nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('launch', 'stop', 'checkpoint', 'cordon', 'uncordon')",
                           name=op.f("ck_intents_kind_known")),
        sa.CheckConstraint("state IN ('pending', 'applied', 'failed', 'superseded')",
                           name=op.f("ck_intents_state_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intents")),
        sa.UniqueConstraint("request_id", name=op.f("uq_intents_request_id")),
    )
    op.create_index(op.f("ix_intents_job_id"), "intents", ["job_id"], unique=False)
    op.create_index(op.f("ix_intents_state_created_at"), "intents", ["state", "created_at"], unique=False)
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("progress", JSON_DOCUMENT, nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("progress")
    op.drop_index(op.f("ix_intents_state_created_at"), table_name="intents")
    op.drop_index(op.f("ix_intents_job_id"), table_name="intents")
    op.drop_table("intents")
    op.drop_table("leases")
