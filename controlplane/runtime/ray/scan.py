"""What the Ray cluster says about its nodes, reduced to Suanli's view (``ClusterScan``).

A Ray node is a Suanli node when it carries the ``suanli.dev/pool`` and
``suanli.dev/accelerator`` labels (the head and foreign nodes are ignored). Its devices are its
``accelerator:<TYPE>`` resource, else its ``suanli.dev/devices`` label, else its GPUs. Ray keeps
dead nodes in its table; a name that is both dead and alive (a node that came back) is alive.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ray

from controlplane.runtime.cluster_definition import NODE_LABEL, accelerator_resource
from controlplane.runtime.nodes import is_suanli_node, node_name
from controlplane.topology import labels as label_keys

RAY_NODE_ID_LABEL = "ray.io/node-id"


@dataclass(frozen=True, slots=True)
class RayNode:
    ray_node_id: str
    name: str
    labels: Mapping[str, str]
    devices: int
    alive: bool
    address: str

    @property
    def selector(self) -> dict[str, str]:
        """The label selector that pins a bundle to this node."""
        if NODE_LABEL in self.labels:
            return {NODE_LABEL: self.name}
        return {RAY_NODE_ID_LABEL: self.ray_node_id}


@dataclass(frozen=True, slots=True)
class ClusterScan:
    nodes: Mapping[str, RayNode]
    """By name; the alive incarnation when there is one."""
    alive_ids: frozenset[str]
    names_by_id: Mapping[str, str]

    def node_alive(self, name: str) -> bool:
        node = self.nodes.get(name)
        return node is not None and node.alive


def devices_of(labels: Mapping[str, str], resources: Mapping[str, float]) -> int:
    accelerator = labels.get(label_keys.ACCELERATOR, "")
    if accelerator_resource(accelerator) in resources:
        return int(resources[accelerator_resource(accelerator)])
    declared = labels.get(label_keys.DEVICES, "")
    if declared.isdigit():
        return int(declared)
    return int(resources.get("GPU", 0))


def scan_from_table(table: list[dict[str, Any]]) -> ClusterScan:
    nodes: dict[str, RayNode] = {}
    names_by_id: dict[str, str] = {}
    alive_ids: set[str] = set()
    for entry in table:
        labels = {str(key): str(value) for key, value in (entry.get("Labels") or {}).items()}
        node_id = str(entry["NodeID"])
        alive = bool(entry.get("Alive"))
        if alive:
            alive_ids.add(node_id)
        if not is_suanli_node(labels):
            continue
        node = RayNode(ray_node_id=node_id, name=node_name(labels, node_id), labels=labels,
                       devices=devices_of(labels, entry.get("Resources") or {}), alive=alive,
                       address=str(entry.get("NodeManagerAddress", "")))
        names_by_id[node_id] = node.name
        if node.name not in nodes or (alive and not nodes[node.name].alive):
            nodes[node.name] = node
    return ClusterScan(nodes=nodes, alive_ids=frozenset(alive_ids), names_by_id=names_by_id)


def scan_cluster() -> ClusterScan:
    return scan_from_table(ray.nodes())
