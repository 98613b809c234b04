"""``LocalRayCluster``: a cluster definition realized as Ray virtual nodes on this machine.

A head with no accelerators (it hosts Suanli's hub actor) plus one Ray node per
``VirtualNode``, each with the node's ``suanli.dev/*`` labels and its ``accelerator:<TYPE>``
resource, started one after another (parallel starts fail or are slower). Light settings keep
it cheap on a laptop: no dashboard, no usage stats, no token auth, a small object store, fast
health checks (a hard-killed node is declared dead in ~2-3 s instead of ~13 s) and a private,
short ``RAY_TMPDIR``.

The cluster's lifecycle is separate from the runtime's: start the cluster, then connect a
``RayRuntime(address=cluster.address)``. ``remove_node`` and ``restore_node`` simulate losing
a node and getting one with the same labels back.

Ray reads its settings from environment variables of the processes it starts, so ``start``
sets ``RAY_AUTH_MODE``, ``RAY_USAGE_STATS_ENABLED``, ``RAY_TMPDIR`` and ``RAY_DEDUP_LOGS`` in
this process's environment.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import ray
from ray.cluster_utils import Cluster

from controlplane.domain.errors import NotFoundError
from controlplane.runtime.cluster_definition import (
    DEFAULT_CLUSTER_FILE,
    ClusterDefinition,
    VirtualNode,
    load_cluster_definition,
)

HEAD_ROLE_LABEL = "suanli.dev/role"
OBJECT_STORE_BYTES = 78 << 20
SYSTEM_CONFIG: dict[str, Any] = {
    "enable_metrics_collection": False,
    "enable_worker_prestart": False,
    "prestart_worker_first_driver": False,
    "health_check_period_ms": 1000,
    "health_check_timeout_ms": 1000,
    "health_check_failure_threshold": 3,
}


def light_ray_environment(temp_dir: str) -> dict[str, str]:
    """The environment variables that make a local Ray cluster light and isolated."""
    return {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0", "RAY_TMPDIR": temp_dir,
            "RAY_DEDUP_LOGS": "0"}


class LocalRayCluster:
    """A running local cluster; build it with ``LocalRayCluster.start``."""

    def __init__(self, definition: ClusterDefinition, cluster: Cluster, temp_dir: Path, owns_temp_dir: bool) -> None:
        self.definition = definition
        self._cluster = cluster
        self._temp_dir = temp_dir
        self._owns_temp_dir = owns_temp_dir
        self._nodes: dict[str, Any] = {}

    @classmethod
    def start(cls, definition: ClusterDefinition | str | Path = DEFAULT_CLUSTER_FILE, *,
              temp_dir: str | Path | None = None) -> LocalRayCluster:
        """Start the head and every node of ``definition`` (a definition or a YAML path)."""
        if not isinstance(definition, ClusterDefinition):
            definition = load_cluster_definition(definition)
        owns_temp_dir = temp_dir is None
        root = Path(temp_dir) if temp_dir is not None else Path(tempfile.mkdtemp(prefix="sray-", dir="/tmp"))
        root.mkdir(parents=True, exist_ok=True)
        os.environ.update(light_ray_environment(str(root)))
        cluster = Cluster(initialize_head=True, head_node_args={
            "num_cpus": definition.head_cpus,
            "include_dashboard": False,
            "object_store_memory": OBJECT_STORE_BYTES,
            "labels": {HEAD_ROLE_LABEL: "head"},
            "_system_config": SYSTEM_CONFIG,
        })
        local = cls(definition, cluster, root, owns_temp_dir)
        try:
            for node in definition.nodes:
                local._add(node)
            cluster.wait_for_nodes()
        except BaseException:
            local.shutdown()
            raise
        return local

    @property
    def address(self) -> str:
        """The GCS address to pass to ``RayRuntime(address=...)`` or ``ray.init``."""
        return str(self._cluster.address)

    @property
    def temp_dir(self) -> Path:
        """The cluster's ``RAY_TMPDIR`` (sessions, sockets and Ray's own logs live under it)."""
        return self._temp_dir

    @property
    def node_names(self) -> tuple[str, ...]:
        """The nodes currently up, in definition order."""
        return tuple(node.name for node in self.definition.nodes if node.name in self._nodes)

    def remove_node(self, name: str, *, graceful: bool = True) -> None:
        """Take the node away (``graceful=False`` kills its processes without warning)."""
        node = self._nodes.pop(self._known(name).name, None)
        if node is None:
            raise NotFoundError(f"node {name!r} is not running", hint="restore_node brings it back")
        self._cluster.remove_node(node, allow_graceful=graceful)

    def restore_node(self, name: str) -> None:
        """Start a node with the same name, labels and resources again (a no-op if it runs)."""
        node = self._known(name)
        if node.name not in self._nodes:
            self._add(node)

    def shutdown(self) -> None:
        """Stop every node and the head; remove the temporary directory if this cluster made it."""
        if ray.is_initialized():
            ray.shutdown()
        self._cluster.shutdown()
        self._nodes.clear()
        if self._owns_temp_dir:
            shutil.rmtree(self._temp_dir, ignore_errors=True)

    def __enter__(self) -> LocalRayCluster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def _known(self, name: str) -> VirtualNode:
        try:
            return self.definition.node(name)
        except Exception as error:
            raise NotFoundError(str(error)) from error

    def _add(self, node: VirtualNode) -> None:
        self._nodes[node.name] = self._cluster.add_node(
            num_cpus=node.cpus, resources=node.resources(), labels=node.labels(),
            object_store_memory=OBJECT_STORE_BYTES)
