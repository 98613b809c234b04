"""The Ray runtime: ranks as Ray actors pinned by label to the planned nodes (see ``runtime``),
and ``LocalRayCluster``, a cluster definition realized as Ray virtual nodes on one machine."""

from controlplane.runtime.ray.local_cluster import LocalRayCluster
from controlplane.runtime.ray.runtime import RayRuntime

__all__ = ["LocalRayCluster", "RayRuntime"]
