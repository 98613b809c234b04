"""Helpers shared by the repositories: conflict translation and keyset filters."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session

from controlplane.domain.errors import ConflictError
from controlplane.store.pagination import Cursor


@contextmanager
def conflict_on_integrity_error(session: Session, message: str, *, field: str | None = None,
                                hint: str | None = None) -> Iterator[None]:
    """Write the block's changes inside a SAVEPOINT; a constraint violation becomes a
    :class:`ConflictError` and leaves the caller's transaction usable."""
    try:
        with session.begin_nested():
            yield
    except IntegrityError as error:
        raise ConflictError(message, field=field, hint=hint) from error


def after_cursor(created_at: InstrumentedAttribute[datetime], row_id: InstrumentedAttribute[str],
                 cursor: Cursor) -> ColumnElement[bool]:
    """Rows strictly after ``cursor`` in ``(created_at, id)`` order (or before, newest first)."""
    if cursor.newest_first:
        return or_(created_at < cursor.created_at,
                   and_(created_at == cursor.created_at, row_id < cursor.id))
    return or_(created_at > cursor.created_at,
               and_(created_at == cursor.created_at, row_id > cursor.id))


def changed(row: Any, values: dict[str, Any]) -> bool:
    """Whether any attribute of ``row`` differs from ``values``."""
    return any(getattr(row, name) != value for name, value in values.items())
