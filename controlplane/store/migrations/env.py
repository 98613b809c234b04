"""Alembic environment: migrates the database whose connection ``controlplane.store.migrate``
passes in ``config.attributes["connection"]`` (or, when run by the ``alembic`` command, the
``sqlalchemy.url`` of the config). SQLite runs in batch mode so ALTERs become table copies."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from controlplane.store.engine import create_engine_for
from controlplane.store.models import Base

config = context.config
target_metadata = Base.metadata


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: set sqlalchemy.url or pass a connection")
    engine = create_engine_for(url, sqlite_foreign_keys=False)
    try:
        with engine.connect() as new_connection:
            _configure_and_run(new_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
