"""Fake cloud metadata servers for tests, plus a settable clock shared by a server and a source.

The servers live in ``controlplane.spot.fake_metadata`` (so ``make demo`` can use them without
pytest); this module re-exports them for tests and adds ``ManualClock``.
"""

from __future__ import annotations

from dataclasses import dataclass

from controlplane.spot.fake_metadata import (
    FakeAwsImds,
    FakeAzureScheduledEvents,
    FakeGcpMetadata,
    FakeMetadataServer,
    RecordedRequest,
)

__all__ = ["FakeAwsImds", "FakeAzureScheduledEvents", "FakeGcpMetadata", "FakeMetadataServer", "ManualClock",
           "RecordedRequest"]


@dataclass
class ManualClock:
    """Epoch seconds that move only when a test says so."""

    now: float = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
