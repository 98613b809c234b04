"""Engines are tuned per backend, and a session scope commits or rolls back as a unit."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from controlplane.domain.errors import InvalidInputError
from controlplane.store import JobRepository, create_engine_for, session_scope
from controlplane.store.engine import SQLITE_BUSY_TIMEOUT_MS


def test_a_sqlite_file_database_gets_its_parent_directory_created(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "state.db"
    engine = create_engine_for(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    finally:
        engine.dispose()
    assert path.exists()


def test_sqlite_connections_enforce_foreign_keys_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_MS
    finally:
        engine.dispose()


def test_an_in_memory_sqlite_database_shares_one_connection() -> None:
    engine = create_engine_for("sqlite://")
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0
    finally:
        engine.dispose()


def test_a_bare_postgresql_url_uses_psycopg_3() -> None:
    engine = create_engine_for("postgresql://someone@127.0.0.1:5432/suanli")
    assert engine.dialect.driver == "psycopg"
    engine.dispose()


@pytest.mark.parametrize("url", ["mysql://root@localhost/suanli", "not a url"])
def test_an_unsupported_url_is_refused_naming_database_url(url: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        create_engine_for(url)
    assert raised.value.field == "database_url"


def test_the_backend_under_test_is_the_one_asked_for(db_engine: Engine, database_backend: str) -> None:
    assert db_engine.dialect.name == database_backend


def test_a_session_scope_commits_when_the_block_succeeds(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        job = JobRepository(session).add(kind="TrainingJob", team="t", name="kept", queue="q", spec={})
    with session_scope(session_factory) as session:
        assert JobRepository(session).get(job.id).name == "kept"


def test_a_session_scope_rolls_back_when_the_block_raises(session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(RuntimeError), session_scope(session_factory) as session:
        JobRepository(session).add(kind="TrainingJob", team="t", name="discarded", queue="q", spec={})
        raise RuntimeError("boom")
    with session_scope(session_factory) as session:
        assert JobRepository(session).find("TrainingJob", "t", "discarded") is None
