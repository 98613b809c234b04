"""Engines, session factories and the unit-of-work scope: how the control plane opens its database.

Owns the per-backend connection tuning:

- **SQLite** (the embedded default): the parent directory of a file database is created; every
  connection gets ``foreign_keys=ON`` (SQLite ignores foreign keys otherwise), ``journal_mode=WAL``
  (readers never block the writer), ``synchronous=NORMAL`` and a ``busy_timeout``. SQLAlchemy,
  not the ``sqlite3`` module, emits ``BEGIN IMMEDIATE``: the write lock is taken when the
  transaction starts, so two read-then-write transactions queue on the busy timeout instead of
  failing with "database is locked", and SAVEPOINTs work as documented. ``sqlite://`` (in memory)
  shares one connection, for throwaway use only.
- **PostgreSQL**: ``postgresql+psycopg://`` (a bare ``postgresql://`` is read as psycopg 3), with
  ``pool_pre_ping`` so connections dropped by a restart or a proxy are replaced transparently.

Repositories never commit; the caller's :func:`session_scope` does, once, at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from controlplane.domain.errors import InvalidInputError

SQLITE_BUSY_TIMEOUT_MS = 15_000
_IN_MEMORY = {None, "", ":memory:"}


def create_engine_for(url: str, *, sqlite_foreign_keys: bool = True, echo: bool = False) -> Engine:
    """Build an engine for ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``).

    ``sqlite_foreign_keys=False`` is for migrations only: SQLite's batch ALTER recreates tables,
    and with foreign keys on, dropping the old copy would cascade into the rows that point at it.
    """
    parsed = _parse(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, foreign_keys=sqlite_foreign_keys, echo=echo)
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_pre_ping=True, echo=echo)
    raise InvalidInputError(
        f"unsupported database backend {backend!r} in {parsed.render_as_string(hide_password=True)}",
        field="database_url",
        hint="use sqlite:///path/to/state.db or postgresql+psycopg://user@host:5432/dbname",
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine`` whose loaded objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit if the block succeeds, roll back if it raises, always close."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _parse(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError as error:
        raise InvalidInputError(
            f"not a database URL: {error}",
            field="database_url",
            hint="use sqlite:///path/to/state.db or postgresql+psycopg://user@host:5432/dbname",
        ) from error


def _sqlite_engine(url: URL, *, foreign_keys: bool, echo: bool) -> Engine:
    in_memory = url.database in _IN_MEMORY
    options: dict[str, Any] = {"echo": echo, "connect_args": {"check_same_thread": False}}
    if in_memory:
        options["poolclass"] = StaticPool
    else:
        assert url.database is not None
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        options["pool_pre_ping"] = True
    engine = create_engine(url, **options)

    @event.listens_for(engine, "connect")
    def _tune_connection(dbapi_connection: Any, _record: Any) -> None:
        # Stop the sqlite3 module from issuing its own BEGIN; see _begin_immediately.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin_immediately(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
