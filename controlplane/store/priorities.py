"""Priority classes and the integers they map to (higher runs first). Pure.

The integer is stored on every job so queue order is an index scan and so a class can later be
re-weighted without touching specs.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from controlplane.domain.errors import InvalidInputError

DEFAULT_PRIORITY_CLASS = "normal"

PRIORITY_BY_CLASS: Mapping[str, int] = MappingProxyType({
    "critical": 1000,      # production inference, incident response
    "high": 100,
    "normal": 0,
    "low": -100,
    "best-effort": -1000,  # runs only on capacity nobody else wants; first to be preempted
})


def priority_for_class(priority_class: str) -> int:
    """The integer priority of ``priority_class``; unknown classes are refused with the known ones."""
    try:
        return PRIORITY_BY_CLASS[priority_class]
    except KeyError:
        known = ", ".join(PRIORITY_BY_CLASS)
        raise InvalidInputError(
            f"unknown priority class {priority_class!r}",
            field="priority_class",
            hint=f"use one of: {known}",
        ) from None
