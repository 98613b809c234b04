"""Pieces shared by training jobs and inference services: accelerator choice and scheduling.

Owns the accelerator-type selector (``types``: a list of type names or the literal ``"any"``),
priority classes in their order, and the ``Scheduling`` / ``ServingScheduling`` models.

Accelerator type names are *not* checked against the catalog here: that is the control
plane's job (``controlplane/catalog``).  This module only normalises them: surrounding
whitespace is stripped, duplicates and a mix of ``any`` with names are rejected.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from pydantic import AwareDatetime, BeforeValidator, WithJsonSchema

from jobspecs._base import DnsLabel, PositiveFloat, SpecModel, fail

PriorityClass = Literal["critical", "high", "normal", "low", "best-effort"]

#: Priority classes from the most to the least important.
PRIORITY_CLASSES: Final[tuple[PriorityClass, ...]] = ("critical", "high", "normal", "low", "best-effort")

ANY_ACCELERATOR: Final = "any"


def priority_rank(priority_class: PriorityClass) -> int:
    """0 for critical up to 4 for best-effort: lower runs first."""
    return PRIORITY_CLASSES.index(priority_class)


def _normalise_types(value: Any) -> tuple[str, ...] | str:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        fail(
            f"must be a list of accelerator type names or the string 'any' (got {value!r})",
            "e.g. types: [H100, H200] or types: any",
        )
    names: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            fail(
                f"item {index} must be a non-empty accelerator type name (got {item!r})",
                "e.g. types: [H100, H200]",
            )
        names.append(item.strip())
    if not names:
        fail("must not be empty", "list at least one accelerator type, or write types: any")
    lowered = [name.lower() for name in names]
    if ANY_ACCELERATOR in lowered:
        if len(names) > 1:
            fail("'any' cannot be combined with named types", "write either types: any or a list of names")
        return ANY_ACCELERATOR
    duplicates = sorted({name for name in names if lowered.count(name.lower()) > 1})
    if duplicates:
        fail(f"duplicate accelerator types: {', '.join(duplicates)}", "list each type once")
    return tuple(names)


AcceleratorTypes = Annotated[
    tuple[str, ...] | Literal["any"],
    BeforeValidator(_normalise_types),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "enum": [ANY_ACCELERATOR]},
                {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
            ],
            "description": "Accelerator type names in order of preference, or 'any'.",
        }
    ),
]
"""Normalised to a tuple of names, or the string ``"any"``."""


def accepts_type(types: tuple[str, ...] | str, accelerator: str) -> bool:
    """Whether a types selector admits accelerator (names compare case-insensitively)."""
    if types == ANY_ACCELERATOR:
        return True
    return accelerator.lower() in (name.lower() for name in types)


class ServingScheduling(SpecModel):
    """Which queue an inference service is charged to, and its priority."""

    queue: DnsLabel = "default"
    """Queue (of the owning team) the workload is admitted through."""
    priority_class: PriorityClass = "normal"
    """One of critical, high, normal, low, best-effort."""


class Scheduling(SpecModel):
    """Queue, priority, deadline and money limits of a training job."""

    queue: DnsLabel = "default"
    """Queue (of the owning team) the job is admitted through."""
    priority_class: PriorityClass = "normal"
    """One of critical, high, normal, low, best-effort."""
    preemptible: bool = True
    """Whether the scheduler may preempt this job for higher-priority work."""
    deadline: AwareDatetime | None = None
    """Time by which the job should finish (must carry a timezone, e.g. ...Z)."""
    max_dollars_per_hour: PositiveFloat | None = None
    """Upper bound on the job's spend rate."""
    budget_dollars: PositiveFloat | None = None
    """Upper bound on the job's total spend."""

    @property
    def deadline_utc(self) -> datetime | None:
        """The deadline converted to UTC."""
        return None if self.deadline is None else self.deadline.astimezone(UTC)
