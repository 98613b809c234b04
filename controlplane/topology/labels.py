"""Kubernetes node labels Suanli reads to place a live node in the tree, and ``NodeLabels``.

A node carries ``suanli.dev/pool``, ``suanli.dev/accelerator`` and ``suanli.dev/devices``
(required), and optionally region, zone, spine, rack and capacity type. Region and zone fall
back to the well-known ``topology.kubernetes.io/region`` / ``zone`` labels, then to
``"default"``. A node without a rack label is its own rack (``<node>-rack``); a node without a
spine label hangs off one spine per zone (``<zone>-spine``). Rack and spine names are global:
the same rack label under two spines is an error, the same spine label under two zones too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

POOL = "suanli.dev/pool"
ACCELERATOR = "suanli.dev/accelerator"
REGION = "suanli.dev/region"
ZONE = "suanli.dev/zone"
SPINE = "suanli.dev/spine"
RACK = "suanli.dev/rack"
CAPACITY_TYPE = "suanli.dev/capacity-type"
DEVICES = "suanli.dev/devices"

KUBERNETES_REGION = "topology.kubernetes.io/region"
KUBERNETES_ZONE = "topology.kubernetes.io/zone"

REQUIRED = (POOL, ACCELERATOR, DEVICES)
RACK_FALLBACK_SUFFIX = "-rack"
SPINE_FALLBACK_SUFFIX = "-spine"


@dataclass(frozen=True, slots=True)
class NodeLabels:
    """A live node as the cluster reports it: its name and its labels."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)

    def get(self, key: str, default: str | None = None) -> str | None:
        value = self.labels.get(key)
        return value if value else default


def rack_fallback(node_name: str) -> str:
    return f"{node_name}{RACK_FALLBACK_SUFFIX}"


def spine_fallback(zone: str) -> str:
    return f"{zone}{SPINE_FALLBACK_SUFFIX}"
