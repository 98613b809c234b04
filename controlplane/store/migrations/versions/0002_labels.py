"""Metadata labels on jobs, pools and queues.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

Kubernetes-style ``metadata.labels`` of the submitted document, kept as a JSON object so the API
can return them and selectors can filter on them. Existing rows get ``{}``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TABLES = ("jobs", "pools", "queues")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("labels", JSON_DOCUMENT, nullable=False,
                                       server_default=sa.text("'{}'")))


def downgrade() -> None:
    for table in reversed(TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("labels")
