"""Fixtures: a manual clock, and each fake metadata server started on 127.0.0.1 for one test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.metadata_servers import FakeAwsImds, FakeAzureScheduledEvents, FakeGcpMetadata, ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def aws(clock: ManualClock) -> Iterator[FakeAwsImds]:
    with FakeAwsImds(clock=clock) as server:
        yield server


@pytest.fixture
def gcp(clock: ManualClock) -> Iterator[FakeGcpMetadata]:
    with FakeGcpMetadata(clock=clock) as server:
        yield server


@pytest.fixture
def azure(clock: ManualClock) -> Iterator[FakeAzureScheduledEvents]:
    with FakeAzureScheduledEvents(clock=clock) as server:
        yield server
