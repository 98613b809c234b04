"""Turning node labels into ``NodeObservation``s, the same way for every runtime.

A node belongs to Suanli when it carries ``suanli.dev/pool`` and ``suanli.dev/accelerator``
labels; its name is ``suanli.dev/node`` (falling back to the runtime's own node id). Zone and
region fall back to the well-known Kubernetes labels, as in ``controlplane.topology.labels``.
"""

from __future__ import annotations

from collections.abc import Mapping

from controlplane.runtime.cluster_definition import NODE_LABEL, VirtualNode
from controlplane.runtime.types import NodeObservation
from controlplane.topology import labels as label_keys


def is_suanli_node(labels: Mapping[str, str]) -> bool:
    return bool(labels.get(label_keys.POOL)) and bool(labels.get(label_keys.ACCELERATOR))


def node_name(labels: Mapping[str, str], fallback: str) -> str:
    return labels.get(NODE_LABEL) or fallback


def observe_labelled_node(labels: Mapping[str, str], *, fallback_name: str, devices: int, alive: bool,
                          cordoned: bool, devices_in_use: int = 0) -> NodeObservation:
    """The observation of a node described by ``labels`` (which must pass ``is_suanli_node``)."""
    return NodeObservation(
        name=node_name(labels, fallback_name),
        pool=labels[label_keys.POOL],
        accelerator=labels[label_keys.ACCELERATOR],
        devices=devices,
        labels=dict(labels),
        alive=alive,
        cordoned=cordoned,
        capacity_type=labels.get(label_keys.CAPACITY_TYPE) or "on-demand",
        zone=labels.get(label_keys.ZONE) or labels.get(label_keys.KUBERNETES_ZONE),
        rack=labels.get(label_keys.RACK),
        region=labels.get(label_keys.REGION) or labels.get(label_keys.KUBERNETES_REGION),
        devices_in_use=devices_in_use,
    )


def observe_virtual_node(node: VirtualNode, *, alive: bool, cordoned: bool, devices_in_use: int = 0) -> NodeObservation:
    return observe_labelled_node(node.labels(), fallback_name=node.name, devices=node.devices, alive=alive,
                                 cordoned=cordoned, devices_in_use=devices_in_use)
