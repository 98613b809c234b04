"""Placement: topology-aware mapping of a job's parallel plan onto the free devices of a cluster.

Owns the placement contract (``types``: ``PlacementRequest``, ``Placement``,
``PlacementFailure``, ``RankCoordinates``, the ``Placer`` protocol and the rank-ordering
convention), the baselines ``FirstFitPlacer`` and ``RoundRobinPlacer`` and the
``TopologyAwarePlacer``. MoE expert placement lives in ``controlplane.placement.experts``.

Pure: no I/O, no clock; placers read a ``Topology`` and never change it.
"""

from controlplane.placement.adapters import request_from_training_job
from controlplane.placement.baselines import FirstFitPlacer, RoundRobinPlacer
from controlplane.placement.eligibility import DeviceLookup, catalog_device_lookup
from controlplane.placement.topology_aware import TopologyAwarePlacer
from controlplane.placement.types import (
    GROUP_KINDS,
    Placement,
    PlacementFailure,
    PlacementRequest,
    Placer,
    RankCoordinates,
)

__all__ = [
    "GROUP_KINDS",
    "DeviceLookup",
    "FirstFitPlacer",
    "Placement",
    "PlacementFailure",
    "PlacementRequest",
    "Placer",
    "RankCoordinates",
    "RoundRobinPlacer",
    "TopologyAwarePlacer",
    "catalog_device_lookup",
    "request_from_training_job",
]
