"""The blob-store contract runs against every tier's store: in-process memory, a local directory,
SeaweedFS over s3fs, and a per-node Ray actor on the session's virtual cluster (marked slow).

Each test gets the store and a fresh key prefix of its own, removed afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from controlplane.checkpoints.blobstore import BlobStore, InProcessMemoryStore
from controlplane.checkpoints.file_stores import FsspecStore, LocalDirStore
from tests.ray_cluster import RaySession, local_ray  # noqa: F401 - fixture
from tests.s3_server import SeaweedS3, seaweedfs  # noqa: F401 - fixture

STORES = [
    pytest.param("memory", id="memory"),
    pytest.param("file", id="file"),
    pytest.param("s3", id="s3"),
    pytest.param("ray", id="ray-node-memory", marks=pytest.mark.slow),
]


@dataclass
class StoreUnderTest:
    store: BlobStore
    prefix: str

    def key(self, relative: str) -> str:
        return f"{self.prefix}{relative}"


@pytest.fixture(params=STORES)
def subject(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreUnderTest]:
    prefix = f"contract-{uuid.uuid4().hex[:8]}/"
    store: BlobStore
    if request.param == "memory":
        store = InProcessMemoryStore("test-node")
    elif request.param == "file":
        store = LocalDirStore(tmp_path / "blobs")
    elif request.param == "s3":
        server: SeaweedS3 = request.getfixturevalue("seaweedfs")
        store = FsspecStore(server.url("contract"), server.storage_options())
    else:
        request.getfixturevalue("local_ray")
        from controlplane.checkpoints.ray_store import RayNodeStores

        store = RayNodeStores().store("aws-h100-0")
    try:
        yield StoreUnderTest(store, prefix)
    finally:
        store.delete_prefix(prefix)
