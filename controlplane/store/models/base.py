"""The declarative base shared by every ORM model, and the column types they use.

Owns:
- ``Base``: the SQLAlchemy 2 declarative base whose ``MetaData`` carries a naming convention,
  so every index and constraint has a stable, predictable name that Alembic migrations can
  refer to on SQLite and PostgreSQL alike.
- ``UTCDateTime``: a timestamp column that accepts only timezone-aware datetimes, stores them
  in UTC, and always hands back timezone-aware UTC datetimes, even on SQLite (which has no
  timezone-aware type and would otherwise return naive values).
- ``JSONDocument``: portable JSON, stored as ``JSONB`` on PostgreSQL.
- ``new_id()`` / ``utcnow()``: default factories for primary keys and timestamps;
  ``one_of()``: the SQL of an "is one of these values" check constraint.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, MetaData, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID_LENGTH = 36  # a canonical UUID string
NAME_LENGTH = 253  # a DNS subdomain, as Kubernetes object names
SHORT_TEXT = 64  # enums, kinds, providers, accelerator types
HASH_LENGTH = 64  # hex sha256


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC on the way in and on the way out.

    Naive datetimes are refused when written: a naive value is ambiguous, and guessing its zone
    is how off-by-hours bugs are born. SQLite stores the UTC wall-clock time as text (which also
    sorts chronologically); PostgreSQL stores ``timestamptz``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; pass a timezone-aware datetime")
        utc_value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return utc_value.replace(tzinfo=None)
        return utc_value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSONDocument = JSON().with_variant(JSONB(), "postgresql")
EMPTY_JSON = text("'{}'")  # server default of JSON columns added to tables that have rows


def one_of(column: str, values: Iterable[str]) -> str:
    """SQL text of a check constraint that ``column`` holds one of ``values``."""
    quoted = ", ".join("'" + value.replace("'", "''") + "'" for value in values)
    return f"{column} IN ({quoted})"


def new_id() -> str:
    """A fresh random UUID string, the primary key of every entity except events."""
    return str(uuid.uuid4())


def utcnow() -> datetime:
    """The current time as a timezone-aware UTC datetime."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of every Suanli table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    type_annotation_map: dict[Any, Any] = {
        datetime: UTCDateTime(),
    }
