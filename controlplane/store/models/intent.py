"""ORM row of an intent: a side effect the controller decided on, recorded before it is applied.

The controller writes the intent (with the state change it implies) in one transaction, then
calls the runtime, then marks the intent applied. A controller that dies in between finds the
intent still ``pending`` after restart and applies it again; the runtime is idempotent by
``request_id``, so nothing happens twice.

Vocabulary:
- ``kind``: ``launch``, ``stop``, ``checkpoint``, ``cordon`` or ``uncordon``.
- ``request_id``: the idempotency key handed to the runtime (unique).
- ``payload``: what the runtime call needs (e.g. the launch spec), as JSON.
- ``state``: ``pending`` until applied; then ``applied`` or ``failed`` (with ``error``), or
  ``superseded`` when a later decision made it moot (a stop for an attempt that already ended).
- ``lease_token``: the fencing token of the lease under which it was recorded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from controlplane.store.models.base import ID_LENGTH, NAME_LENGTH, SHORT_TEXT, Base, JSONDocument, new_id, one_of

INTENT_KINDS = ("launch", "stop", "checkpoint", "cordon", "uncordon")
INTENT_STATES = ("pending", "applied", "failed", "superseded")


class IntentRow(Base):
    __tablename__ = "intents"
    __table_args__ = (
        Index(None, "state", "created_at"),
        CheckConstraint(one_of("kind", INTENT_KINDS), name="kind_known"),
        CheckConstraint(one_of("state", INTENT_STATES), name="state_known"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)
    request_id: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    kind: Mapped[str] = mapped_column(String(SHORT_TEXT))
    job_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    attempt_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    state: Mapped[str] = mapped_column(String(SHORT_TEXT))
    lease_token: Mapped[int]
    created_at: Mapped[datetime]
    applied_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
