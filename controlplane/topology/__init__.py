"""The cluster as a tree: cluster → region → zone → spine → rack → node → scale-up domain → device.

Owns the static tree (``TopologyTree``, arrays built by ``build_topology`` from pool shapes or
by ``build_topology_from_nodes`` from live node labels), the per-level link model (bandwidth
and latency of every uplink, ``LinkModel``), distance queries (``Hop``), and the free-capacity
state (``FreeState``) with incremental counters per subtree, allocation, node availability and
fragmentation figures. Placement and scheduling build on ``Topology`` and its ``snapshot()``.

Pure model code: no I/O, no clock. The accelerator figures come in through an injected
``LinkDefaults`` lookup (``catalog_link_defaults`` reads the accelerator catalog).
"""

from controlplane.topology.builder import NodePlacement, build_topology, build_topology_from_nodes
from controlplane.topology.catalog_links import catalog_link_defaults
from controlplane.topology.fragmentation import LevelFragmentation
from controlplane.topology.labels import NodeLabels
from controlplane.topology.levels import Hop, Level, LinkModel, LinkSpec
from controlplane.topology.links import (
    AcceleratorLinks,
    FabricDefaults,
    LinkDefaults,
    LinkOverrides,
    table_link_defaults,
)
from controlplane.topology.shapes import PoolShape, pool_shape_from_spec
from controlplane.topology.state import FreeState
from controlplane.topology.topology import Topology
from controlplane.topology.tree import HopArrays, NodeInfo, PoolInfo, Subtree, TopologyTree

__all__ = [
    "AcceleratorLinks",
    "FabricDefaults",
    "FreeState",
    "Hop",
    "HopArrays",
    "Level",
    "LevelFragmentation",
    "LinkDefaults",
    "LinkModel",
    "LinkOverrides",
    "LinkSpec",
    "NodeInfo",
    "NodeLabels",
    "NodePlacement",
    "PoolInfo",
    "PoolShape",
    "Subtree",
    "Topology",
    "TopologyTree",
    "build_topology",
    "build_topology_from_nodes",
    "catalog_link_defaults",
    "pool_shape_from_spec",
    "table_link_defaults",
]
