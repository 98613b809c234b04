"""Alembic migrations build exactly the ORM's schema, and can be undone and redone."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from controlplane.store import AttemptRepository, JobRepository, PoolRepository, session_scope
from controlplane.store.engine import create_engine_for, make_session_factory
from controlplane.store.migrate import current_revision, downgrade, ensure_schema, head_revision, upgrade
from controlplane.store.models import Base

TABLES = {"alembic_version", "attempts", "checkpoints", "events", "intents", "jobs", "leases", "nodes", "pools",
          "queues"}


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


def _constraint_names(url: str) -> dict[str, set[str | None]]:
    engine = create_engine_for(url)
    try:
        inspector = inspect(engine)
        return {
            table: {c["name"] for c in inspector.get_check_constraints(table)}
            | {c["name"] for c in inspector.get_unique_constraints(table)}
            | {i["name"] for i in inspector.get_indexes(table)}
            | {k["name"] for k in inspector.get_foreign_keys(table)}
            for table in sorted(set(inspector.get_table_names()) - {"alembic_version"})
        }
    finally:
        engine.dispose()


def test_migrating_a_database_with_rows_keeps_them_and_every_constraint(database_url: str) -> None:
    upgrade(database_url, "0001")
    constraints_at_0001 = _constraint_names(database_url)
    now = datetime(2025, 1, 1, tzinfo=UTC)
    engine = create_engine_for(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO pools (id, name, provider, accelerator, capacity_type, spec, spec_hash, "
                "created_at, updated_at) VALUES ('p1', 'aws-h100', 'aws', 'H100', 'spot', '{}', 'h', :t, :t)"
            ), {"t": now})
            connection.execute(text(
                "INSERT INTO jobs (id, kind, team, name, queue, priority_class, priority, spec, spec_hash, "
                "status, status_message, restarts, created_at, updated_at) VALUES ('j1', 'TrainingJob', "
                "'nlp', 'llama', 'default', 'normal', 0, '{\"layers\": 80}', 'h', 'RUNNING', '', 0, :t, :t)"
            ), {"t": now})
            connection.execute(text(
                "INSERT INTO attempts (id, job_id, number, status, status_message, pool_id, placement, "
                "request_id, created_at) VALUES ('a1', 'j1', 1, 'RUNNING', '', 'p1', '{}', 'r1', :t)"
            ), {"t": now})
    finally:
        engine.dispose()

    upgrade(database_url)
    assert _schema_diffs(database_url) == []
    engine = create_engine_for(database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            job = JobRepository(session).get("j1")
            assert (job.labels, job.spec) == ({}, {"layers": 80})
            assert PoolRepository(session).get("p1").labels == {}
            assert AttemptRepository(session).get("a1").pool_id == "p1"
            assert AttemptRepository(session).get("a1").progress == {}
    finally:
        engine.dispose()

    downgrade(database_url, "0001")
    assert _constraint_names(database_url) == constraints_at_0001
    upgrade(database_url)
    engine = create_engine_for(database_url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            assert JobRepository(session).get("j1").name == "llama"
            assert AttemptRepository(session).get("a1").job_id == "j1"
    finally:
        engine.dispose()
