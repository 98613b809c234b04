"""One local Ray cluster per test session, shared by ``tests/contract`` and ``tests/integration/ray``.

The cluster is ``deploy/local/cluster.yaml`` (five virtual nodes in three pools) with one
``RayRuntime`` connected to it. Both are made on first use and kept in the pytest config's
stash, so the two conftests that expose ``local_ray`` share one cluster; they are shut down
when the session ends.

``ray_runtime`` hands each test the shared runtime and, after the test, stops whatever the
test left running, uncordons every node and brings back any node the test removed, so tests
stay independent.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from controlplane.runtime.cluster_definition import DEFAULT_CLUSTER_FILE, load_cluster_definition
from controlplane.runtime.ray import LocalRayCluster, RayRuntime

_SESSION_KEY = pytest.StashKey["RaySession"]()


@dataclass
class RaySession:
    cluster: LocalRayCluster
    runtime: RayRuntime
    log_dir: Path

    def reset(self) -> None:
        """Stop every live attempt, uncordon every node, restore every removed node."""
        observation = self.runtime.observe()
        for attempt in observation.attempts:
            if not attempt.terminal:
                self.runtime.stop(attempt.attempt_id)
        for node in self.cluster.definition.nodes:
            if node.name not in self.cluster.node_names:
                self.cluster.restore_node(node.name)
            self.runtime.uncordon(node.name)


def shared_ray_session(config: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> RaySession:
    session = config.stash.get(_SESSION_KEY, None)
    if session is None:
        definition = load_cluster_definition(DEFAULT_CLUSTER_FILE)
        cluster = LocalRayCluster.start(definition)
        log_dir = tmp_path_factory.mktemp("ray-rank-logs")
        try:
            runtime = RayRuntime(address=cluster.address, log_dir=log_dir, node_loss_grace_s=10.0,
                                 launch_timeout_s=60.0)
        except BaseException:
            cluster.shutdown()
            raise
        session = RaySession(cluster, runtime, log_dir)
        config.stash[_SESSION_KEY] = session

        def shut_down() -> None:
            try:
                runtime.close()
            finally:
                cluster.shutdown()

        config.add_cleanup(shut_down)
    return session


@pytest.fixture(scope="session")
def local_ray(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> RaySession:
    """The session's local Ray cluster and the runtime connected to it."""
    return shared_ray_session(request.config, tmp_path_factory)


@pytest.fixture
def ray_runtime(local_ray: RaySession) -> Iterator[RayRuntime]:
    """The shared runtime, reset after the test."""
    try:
        yield local_ray.runtime
    finally:
        local_ray.reset()
