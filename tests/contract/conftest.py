"""The contract suite runs every test against each runtime: ``sim`` and ``ray`` (marked slow).

The Ray runtime is the session's shared local cluster (``tests/ray_cluster.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from controlplane.runtime.cluster_definition import DEFAULT_CLUSTER_FILE, load_cluster_definition
from tests.contract.harness import RayHarness, RuntimeHarness, SimHarness
from tests.ray_cluster import RaySession, local_ray, ray_runtime  # noqa: F401 - fixtures

RUNTIMES = [pytest.param("sim", id="sim"), pytest.param("ray", id="ray", marks=pytest.mark.slow)]


@pytest.fixture(params=RUNTIMES)
def harness(request: pytest.FixtureRequest) -> Iterator[RuntimeHarness]:
    """A fresh view on one runtime; for Ray, the shared cluster is reset afterwards."""
    if request.param == "sim":
        yield SimHarness(load_cluster_definition(DEFAULT_CLUSTER_FILE))
        return
    session: RaySession = request.getfixturevalue("local_ray")
    try:
        yield RayHarness(session.cluster, session.runtime)
    finally:
        session.reset()
