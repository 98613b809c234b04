"""Ray integration tests share the session's local Ray cluster (``tests/ray_cluster.py``) and
drive it through the contract suite's ``RayHarness``; every test module here is marked slow."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.contract.harness import RayHarness
from tests.ray_cluster import RaySession, local_ray, ray_runtime  # noqa: F401 - fixtures


@pytest.fixture
def ray_harness(local_ray: RaySession) -> Iterator[RayHarness]:  # noqa: F811 - the fixture above
    try:
        yield RayHarness(local_ray.cluster, local_ray.runtime)
    finally:
        local_ray.reset()
