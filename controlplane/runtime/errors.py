"""Errors a runtime raises on purpose.

Malformed launch specs raise ``InvalidInputError`` (they can never succeed as sent). A launch
that is well formed but cannot run on the cluster as it is now raises ``LaunchRejected``:
unknown or dead node, cordoned node, not enough free devices. Reusing a request id for a
different spec raises ``ConflictError``. All are ``DomainError``s, so the API and CLI map them
without knowing about runtimes.
"""

from __future__ import annotations

from typing import Any

from controlplane.domain.errors import ConflictError


class LaunchRejected(ConflictError):
    """The cluster, as it is now, cannot run this launch; nothing was started."""

    code = "launch_rejected"

    def __init__(self, message: str, *, field: str | None = None, hint: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
        super().__init__(message, field=field, hint=hint, details=details)
