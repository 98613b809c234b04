"""Shared test fixtures: databases.

Every database fixture is parametrised over both backends the store supports:

- ``sqlite``: a file in the test's ``tmp_path``;
- ``postgresql`` (marked ``postgres``): a fresh, uniquely named database on the local server
  (``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``, or ``SUANLI_TEST_PG_URL``),
  dropped after the test. If the server is unreachable those tests are skipped with a hint.

Fixtures:
- ``database_url``: an empty database (nothing migrated), for migration tests.
- ``migrated_database_url``: a fresh database at the newest schema. Alembic runs once per test
  session per backend into a template; each test gets a copy (a file copy for SQLite,
  ``CREATE DATABASE ... TEMPLATE`` for PostgreSQL), so tests stay isolated and fast.
- ``db_engine`` / ``session_factory``: an engine and session factory on ``migrated_database_url``.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from controlplane.store.engine import create_engine_for, make_session_factory
from controlplane.store.migrate import ensure_schema

DEFAULT_TEST_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

DATABASE_BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


class _PostgresServer:
    """Creates and drops throwaway databases through the server's maintenance database."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = make_url(admin_url).set(drivername="postgresql+psycopg")
        self._conninfo = self.admin_url.set(drivername="postgresql").render_as_string(hide_password=False)

    def check_reachable(self) -> None:
        with psycopg.connect(self._conninfo, connect_timeout=3, autocommit=True) as connection:
            connection.execute("SELECT 1")

    def create(self, *, template: str | None = None) -> str:
        name = f"suanli_test_{uuid.uuid4().hex[:16]}"
        clause = f' TEMPLATE "{template}"' if template else ""
        with psycopg.connect(self._conninfo, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"{clause}')
        return name

    def drop(self, name: str) -> None:
        with psycopg.connect(self._conninfo, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def url_of(self, name: str) -> str:
        return self.admin_url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_server() -> _PostgresServer:
    """The local PostgreSQL server, or a skip telling how to start it."""
    server = _PostgresServer(os.environ.get("SUANLI_TEST_PG_URL", DEFAULT_TEST_PG_URL))
    try:
        server.check_reachable()
    except psycopg.OperationalError as error:
        where = server.admin_url.render_as_string(hide_password=True)
        pytest.skip(
            f"PostgreSQL not reachable at {where}: start it with `pg_ctlcluster 15 main start` "
            f"or point SUANLI_TEST_PG_URL at a server ({error.__class__.__name__})"
        )
    return server


class _MigratedTemplates:
    """One database per backend migrated to head, made on first use, copied for each test."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._sqlite_template: Path | None = None
        self._postgres_templates: dict[str, tuple[_PostgresServer, str]] = {}

    def sqlite_copy(self, destination: Path) -> str:
        if self._sqlite_template is None:
            template = self._directory / "template.db"
            ensure_schema(f"sqlite:///{template}")
            self._sqlite_template = template
        shutil.copyfile(self._sqlite_template, destination)
        return f"sqlite:///{destination}"

    def postgres_copy(self, server: _PostgresServer) -> str:
        key = str(server.admin_url)
        if key not in self._postgres_templates:
            template = server.create()
            ensure_schema(server.url_of(template))
            self._postgres_templates[key] = (server, template)
        return server.create(template=self._postgres_templates[key][1])

    def drop_all(self) -> None:
        while self._postgres_templates:
            _, (server, template) = self._postgres_templates.popitem()
            server.drop(template)


@pytest.fixture(scope="session")
def _migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_MigratedTemplates]:
    templates = _MigratedTemplates(tmp_path_factory.mktemp("migrated-templates"))
    try:
        yield templates
    finally:
        templates.drop_all()


@pytest.fixture(params=DATABASE_BACKENDS)
def database_backend(request: pytest.FixtureRequest) -> str:
    """``"sqlite"`` or ``"postgresql"``."""
    return str(request.param)


@pytest.fixture
def database_url(database_backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of the current backend, gone after the test."""
    if database_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    server: _PostgresServer = request.getfixturevalue("postgres_server")
    name = server.create()
    try:
        yield server.url_of(name)
    finally:
        server.drop(name)


@pytest.fixture
def migrated_database_url(database_backend: str, request: pytest.FixtureRequest, tmp_path: Path,
                          _migrated_templates: _MigratedTemplates) -> Iterator[str]:
    """A fresh database of the current backend at the newest schema, gone after the test."""
    if database_backend == "sqlite":
        yield _migrated_templates.sqlite_copy(tmp_path / "state.db")
        return
    server: _PostgresServer = request.getfixturevalue("postgres_server")
    name = _migrated_templates.postgres_copy(server)
    try:
        yield server.url_of(name)
    finally:
        server.drop(name)


@pytest.fixture
def db_engine(migrated_database_url: str) -> Iterator[Engine]:
    """An engine on a freshly migrated database."""
    engine = create_engine_for(migrated_database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def session_factory(db_engine: Engine) -> sessionmaker[Session]:
    """Sessions on a freshly migrated database."""
    return make_session_factory(db_engine)
