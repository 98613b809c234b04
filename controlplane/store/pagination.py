"""Keyset pagination vocabulary: cursors, their opaque text form, and pages. Pure.

A listing is ordered by ``(created_at, id)`` — oldest first, or newest first — and a
:class:`Cursor` is the key of the last row a page returned. The next page starts strictly after
it, so rows inserted while a client walks the pages never shift the pages it has yet to read:
every row that existed when the walk started is returned exactly once.

Clients see the cursor only as an opaque URL-safe string (:func:`encode_cursor`); a string that
does not decode is refused with an :class:`InvalidInputError` naming the ``cursor`` field.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from controlplane.domain.errors import InvalidInputError

T = TypeVar("T")

_ORDER_ASCENDING = "asc"
_ORDER_DESCENDING = "desc"


@dataclass(frozen=True, slots=True)
class Cursor:
    """The ``(created_at, id)`` key of the last row of a page, and the order it was read in."""

    created_at: datetime
    id: str
    newest_first: bool = False


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing; ``next_cursor`` is ``None`` on the last page."""

    items: tuple[T, ...]
    next_cursor: str | None


def encode_cursor(cursor: Cursor) -> str:
    """The opaque text form of ``cursor`` (URL-safe base64 of a small JSON object, unpadded)."""
    payload = {
        "t": cursor.created_at.isoformat(),
        "i": cursor.id,
        "o": _ORDER_DESCENDING if cursor.newest_first else _ORDER_ASCENDING,
    }
    raw = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(text: str) -> Cursor:
    """Parse a string made by :func:`encode_cursor`; anything else raises ``InvalidInputError``."""
    try:
        padded = text + "=" * (-len(text) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        created_at = datetime.fromisoformat(payload["t"])
        row_id = payload["i"]
        order = payload["o"]
        if (created_at.tzinfo is None or not isinstance(row_id, str) or not row_id
                or order not in (_ORDER_ASCENDING, _ORDER_DESCENDING)):
            raise ValueError("cursor fields out of range")
    except (ValueError, TypeError, KeyError, UnicodeError, binascii.Error) as error:
        raise InvalidInputError(
            "malformed pagination cursor",
            field="cursor",
            hint="pass the next_cursor of the previous page unchanged, or omit it to start over",
        ) from error
    return Cursor(created_at=created_at, id=row_id, newest_first=order == _ORDER_DESCENDING)


def check_limit(limit: int) -> int:
    """``limit`` if it is a positive page size, else ``InvalidInputError`` naming ``limit``."""
    if limit < 1:
        raise InvalidInputError(f"page size must be at least 1, got {limit}", field="limit")
    return limit
