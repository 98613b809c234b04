"""Alembic migrations build exactly the ORM's schema, and can be undone and redone."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from controlplane.store.engine import create_engine_for
from controlplane.store.migrate import current_revision, downgrade, ensure_schema, head_revision, upgrade
from controlplane.store.models import Base

TABLES = {"alembic_version", "attempts", "events", "jobs", "nodes", "pools", "queues"}


def _schema_diffs(url: str) -> list:
    engine = create_engine_for(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = create_engine_for(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_a_new_database_has_no_revision(database_url: str) -> None:
    assert current_revision(database_url) is None


def test_the_migrated_schema_matches_the_orm_metadata(database_url: str) -> None:
    upgrade(database_url)
    assert current_revision(database_url) == head_revision()
    assert _schema_diffs(database_url) == []


def test_upgrade_downgrade_upgrade_round_trips(database_url: str) -> None:
    upgrade(database_url)
    assert _tables(database_url) == TABLES

    downgrade(database_url, "base")
    assert current_revision(database_url) is None
    assert _tables(database_url) <= {"alembic_version"}

    upgrade(database_url)
    assert current_revision(database_url) == head_revision()
    assert _schema_diffs(database_url) == []


def test_ensure_schema_is_idempotent(database_url: str) -> None:
    assert ensure_schema(database_url) == head_revision()
    assert ensure_schema(database_url) == head_revision()
    assert _tables(database_url) == TABLES


def test_every_constraint_and_index_is_named_by_the_convention(database_url: str) -> None:
    upgrade(database_url)
    engine = create_engine_for(database_url)
    try:
        inspector = inspect(engine)
        names = {index["name"] for index in inspector.get_indexes("jobs")}
        names |= {constraint["name"] for constraint in inspector.get_unique_constraints("jobs")}
        names |= {key["name"] for key in inspector.get_foreign_keys("attempts")}
    finally:
        engine.dispose()
    assert {
        "ix_jobs_status", "ix_jobs_team_status", "ix_jobs_created_at_id",
        "uq_jobs_kind_team_name", "uq_jobs_team_idempotency_key",
        "fk_attempts_job_id_jobs", "fk_attempts_pool_id_pools",
    } <= names
