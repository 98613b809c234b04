"""The ``Queue`` kind: a team's quota and its share of borrowed capacity.

Owns ``Quotas``, ``Borrowing``, ``QueueSpec`` and the envelope ``Queue``.  A queue belongs to
the team in ``metadata.team``; workloads name it in ``spec.scheduling.queue``.

Vocabulary: *normalized units* are H100-equivalents (the catalog converts other types);
*borrowing* lets a queue use idle quota of other queues in the same *cohort*, and *weight*
is its share when several queues compete for idle capacity.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from jobspecs._base import DnsLabel, Name, NonNegativeFloat, NonNegativeInt, PositiveFloat, SpecModel
from jobspecs.envelope import ApiVersion, Metadata, Status


class Quotas(SpecModel):
    """Guaranteed capacity of a queue."""

    devices: dict[Name, NonNegativeInt] = Field(default_factory=dict)
    """Accelerator type -> guaranteed device count."""
    normalized_units: NonNegativeFloat | None = None
    """Guaranteed capacity in H100-equivalents, across all types."""
    dollars_per_day: NonNegativeFloat | None = None
    """Spending limit per day."""


class Borrowing(SpecModel):
    """Whether, and how much, a queue may use beyond its quota."""

    enabled: bool = True
    """Whether idle capacity of the cohort may be borrowed."""
    max_devices: dict[Name, NonNegativeInt] | None = None
    """Accelerator type -> most devices borrowed at once."""
    max_normalized_units: NonNegativeFloat | None = None
    """Most H100-equivalents borrowed at once."""


class QueueSpec(SpecModel):
    """Desired state of a queue."""

    quotas: Quotas = Quotas()
    """Guaranteed capacity."""
    borrowing: Borrowing = Borrowing()
    """Borrowing policy."""
    weight: PositiveFloat = 1.0
    """Fair-share weight against other queues."""
    cohort: DnsLabel | None = None
    """Queues of one cohort lend each other idle quota."""


class Queue(SpecModel):
    """A queue: envelope plus QueueSpec."""

    api_version: ApiVersion = "suanli.dev/v1alpha1"
    kind: Literal["Queue"] = "Queue"
    metadata: Metadata
    spec: QueueSpec = QueueSpec()
    status: Status = None

    @property
    def team(self) -> str:
        return self.metadata.team
