"""Domain errors: what went wrong, in words a user can act on.

Every error the services raise derives from :class:`DomainError`. The API maps each family to
one HTTP status in a single place (``controlplane.api.errors``), and the CLI maps them to exit
codes, so no layer ever needs to know about another's transport.

Vocabulary:
- ``message``: one paragraph saying what is wrong.
- ``field``: the dotted path of the offending input, when there is one.
- ``hint``: how to fix it.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error the control plane raises on purpose."""

    code: str = "error"

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.hint = hint
        self.details = details or {}

    def __str__(self) -> str:
        text = f"{self.field}: {self.message}" if self.field else self.message
        if self.hint:
            text = f"{text} ({self.hint})"
        return text

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        if self.hint:
            body["hint"] = self.hint
        if self.details:
            body["details"] = self.details
        return body


class InvalidInputError(DomainError):
    """The caller sent something that can never succeed as sent (HTTP 400/422, CLI exit 2)."""

    code = "invalid"


class NotFoundError(DomainError):
    """The named entity does not exist (HTTP 404)."""

    code = "not_found"


class ConflictError(DomainError):
    """The request clashes with the current state: duplicate name, reused idempotency key
    with a different body, a change to an immutable field (HTTP 409)."""

    code = "conflict"


class FencedOutError(ConflictError):
    """A write under a lease token that is no longer current: another process took the lease
    (a stale leader must stop writing; HTTP 409 if it ever reached the API)."""

    code = "fenced_out"


class InvalidTransitionError(ConflictError):
    """A status change that the entity's transition table does not allow (HTTP 409)."""

    code = "invalid_transition"

    def __init__(self, entity: str, current: str, target: str, *, allowed: list[str] | None = None) -> None:
        allowed_text = ", ".join(allowed) if allowed else "none (terminal)"
        super().__init__(
            f"{entity} cannot go from {current} to {target}",
            hint=f"allowed next statuses from {current}: {allowed_text}",
            details={"entity": entity, "current": current, "target": target},
        )
        self.entity = entity
        self.current = current
        self.target = target
