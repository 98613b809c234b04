"""The seam between admission and placement: put an admitted gang on devices of its chosen pool.

Owns ``GangPlacer`` (what the scheduler calls), ``PlacedGang``, ``PoolPacker`` (a fast,
topology-light placer used by default and at 10,000-node scale) and ``ContractPlacer``, which
adapts any ``controlplane.placement.Placer`` (first-fit, round-robin, topology-aware) to the
seam by restricting its request to the chosen pool.

``PoolPacker`` rules: tensor-parallel groups stay inside a node (a node contributes devices in
multiples of ``tp``); a gang smaller than a node goes to the node whose free devices fit it most
tightly; a larger gang takes the nodes with the most free devices first (whole nodes before
fragments), in tree order on ties, so ranks of one node are consecutive. It reads the topology's
maintained free counters and never changes the topology.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from controlplane.perfmodel.shapes import Layout
from controlplane.placement.types import Placement, PlacementFailure, PlacementRequest, Placer
from controlplane.scheduling.snapshot import Job, Pool
from controlplane.topology import Level, Topology


@dataclass(frozen=True, slots=True)
class PlacedGang:
    devices: tuple[int, ...]
    placement: Any = None


class GangPlacer(Protocol):
    def place(self, job: Job, pool: Pool, layout: Layout | None, topology: Topology) -> PlacedGang | str:
        """Devices for every rank of ``job`` on ``pool``, or the reason there are none."""
        ...


@dataclass
class PoolPacker:
    """Fast placer over the free counters (see the module docstring)."""

    _nodes: dict[tuple[int, str], npt.NDArray[np.intp]] = field(default_factory=dict, repr=False)

    def _pool_nodes(self, topology: Topology, pool: str) -> npt.NDArray[np.intp]:
        key = (id(topology.tree), pool)
        cached = self._nodes.get(key)
        if cached is None:
            tree = topology.tree
            lo, hi = tree.level_offsets[Level.NODE], tree.level_offsets[Level.NODE + 1]
            index = next(i for i, info in enumerate(tree.pools) if info.name == pool)
            cached = (np.flatnonzero(tree.vertex_pool[lo:hi] == index) + lo).astype(np.intp)
            self._nodes[key] = cached
        return cached

    def place(self, job: Job, pool: Pool, layout: Layout | None, topology: Topology) -> PlacedGang | str:
        need = job.devices
        free_total = topology.free_devices_in_pool(pool.name)
        if free_total < need:
            return f"{free_total} of the {need} devices are free in {pool.name}"
        group = max(layout.tp if layout is not None else 1, 1)
        nodes = self._pool_nodes(topology, pool.name)
        counts = topology.state.free[nodes]
        usable = counts - counts % group
        if need < pool.devices_per_node:
            fitting = np.flatnonzero(usable >= need)
            if fitting.size:
                best = fitting[int(np.argmin(usable[fitting]))]  # the first of the tightest
                return PlacedGang(self._take(topology, [int(nodes[best])], [need]))
        order = np.argsort(-usable, kind="stable")
        cumulative = np.cumsum(usable[order])
        if cumulative.size == 0 or cumulative[-1] < need:
            return (f"{free_total} devices are free in {pool.name} but not {need} in groups of {group} inside "
                    "nodes (fragmented)")
        last = int(np.searchsorted(cumulative, need))
        chosen = order[:last + 1]
        takes = usable[chosen].astype(np.int64)
        takes[-1] = need - (int(cumulative[last - 1]) if last else 0)
        return PlacedGang(self._take(topology, nodes[chosen].tolist(), takes.tolist()))

    @staticmethod
    def _take(topology: Topology, node_vertices: list[int], counts: list[int]) -> tuple[int, ...]:
        tree, free = topology.tree, topology.state.free
        base = tree.level_offsets[Level.DEVICE]
        devices: list[int] = []
        for vertex, count in zip(node_vertices, counts, strict=True):
            lo, hi = int(tree.dev_lo[vertex]), int(tree.dev_hi[vertex])
            ids = np.flatnonzero(free[base + lo:base + hi])[:count] + lo
            devices.extend(ids.tolist())
        return tuple(devices)


@dataclass
class ContractPlacer:
    """Any ``controlplane.placement.Placer``, asked to place on the scheduler's chosen pool."""

    placer: Placer

    def place(self, job: Job, pool: Pool, layout: Layout | None, topology: Topology) -> PlacedGang | str:
        request = PlacementRequest(job_id=job.job_id, layout=layout or Layout(dp=job.devices), model=job.model,
                                   allowed_accelerators=(pool.accelerator,), pools=(pool.name,),
                                   min_memory_gib=job.min_memory_gib)
        answer: Placement | PlacementFailure = self.placer.place(request, topology)
        if isinstance(answer, PlacementFailure):
            return answer.reason
        return PlacedGang(tuple(answer.devices), answer)
