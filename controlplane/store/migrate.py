"""Schema migrations, driven from code: no ``alembic.ini`` is needed at run time.

The Alembic environment lives in ``controlplane/store/migrations`` inside the package; this
module builds the Alembic ``Config`` pointing there and runs each command in one transaction on
an engine made by :func:`controlplane.store.engine.create_engine_for` (SQLite with foreign keys
off, as batch ALTERs require). On PostgreSQL a transaction-scoped advisory lock makes concurrent
``ensure_schema`` calls (two replicas starting at once) queue instead of racing; on SQLite,
``BEGIN IMMEDIATE`` does the same.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from controlplane.store.engine import create_engine_for

MIGRATIONS_DIRECTORY = Path(__file__).resolve().parent / "migrations"
# Arbitrary constant key of pg_advisory_xact_lock, shared by every Suanli process.
_MIGRATION_LOCK_KEY = 0x5375_616E_6C69


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config whose scripts are the package's migrations (and, if given, ``url``)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIRECTORY))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest revision shipped with this code."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the package ships at least one migration"
    return head


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision``."""
    _run(url, lambda config: command.upgrade(config, revision))


def downgrade(url: str, revision: str) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``"base"`` drops every table)."""
    _run(url, lambda config: command.downgrade(config, revision))


def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at, ``None`` if it was never migrated."""
    engine = create_engine_for(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def ensure_schema(url: str) -> str:
    """Bring the database at ``url`` to the newest schema (a no-op if it is there); return it."""
    upgrade(url, "head")
    revision = current_revision(url)
    assert revision is not None
    return revision


def _run(url: str, action: Callable[[Config], None]) -> None:
    engine = create_engine_for(url, sqlite_foreign_keys=False)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
            config = alembic_config(url)
            config.attributes["connection"] = connection
            action(config)
    finally:
        engine.dispose()
