"""The seam between admission and placement: put an admitted gang on devices of its chosen pool.

Owns ``GangPlacer`` (what the scheduler calls), ``PlacedGang``, ``PoolPacker`` (a fast,
topology-light placer used by default and at 10,000-node scale) and ``ContractPlacer``, which
adapts any ``controlplane.placement.Placer`` (first-fit, round-robin, topology-aware) to the
seam by restricting its request to the chosen pool.

``PoolPacker`` rules: tensor-parallel groups stay inside a node (a node contributes devices in
multiples of ``tp``); a gang smaller than a node goes to the node whose free devices fit it most
tightly; a larger gang takes the nodes with the most free devices first (whole nodes before
fragments), in tree order on ties, so ranks of one node are consecutive. It reads the topology's
maintained free counters and never changes the topology. Both searches are vectorized over the
pool's nodes (a best-fit ``argmin``; a histogram of the free counts that says how many nodes of
each count the gang takes, then one gather of their free devices), so a 1,024-device gang costs
a handful of NumPy calls, not a loop over 128 nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from controlplane.perfmodel.shapes import Layout
from controlplane.placement.types import Placement, PlacementFailure, PlacementRequest, Placer
from controlplane.scheduling.snapshot import Job, Pool
from controlplane.topology import Level, Topology, TopologyTree


@dataclass(frozen=True, slots=True)
class PlacedGang:
    devices: tuple[int, ...]
    placement: Any = None


class GangPlacer(Protocol):
    def place(self, job: Job, pool: Pool, layout: Layout | None, topology: Topology) -> PlacedGang | str:
        """Devices for every rank of ``job`` on ``pool``, or the reason there are none."""
        ...


@dataclass(frozen=True, slots=True)
class _PoolNodes:
    """The node vertices of one pool and the device ids each of them holds."""

    vertices: npt.NDArray[np.intp]
    span: slice | None
    """The same vertices as a slice when they are contiguous (a view instead of a gather)."""
    dev_lo: npt.NDArray[np.intp]
    dev_hi: npt.NDArray[np.intp]
    first_device: list[int]
    """``dev_lo`` as Python ints (one node at a time is read faster from a list)."""
    device_base: int
    """Vertex id of device 0: device ``d``'s free count is ``free[device_base + d]``."""
    node_size: int | None
    """Devices per node when every node of the pool has the same number, else None."""

    def counts(self, free: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:
        return free[self.span] if self.span is not None else free[self.vertices]


@dataclass
class PoolPacker:
    """Fast placer over the free counters (see the module docstring).

    Vectorized over the nodes of the pool: a gang smaller than a node is one best-fit search
    over the pool's node counters; a larger one reads a histogram of the counters to know how
    many nodes of each free count it takes, then gathers their free devices in one pass,
    whatever the gang size (no per-node Python loop).
    """

    _tree: TopologyTree | None = field(default=None, repr=False)
    _nodes: dict[str, _PoolNodes] = field(default_factory=dict, repr=False)
    """Per pool name, for ``_tree`` only (a packer kept across topologies holds one tree at a time)."""

    def _pool_nodes(self, topology: Topology, pool: str) -> _PoolNodes:
        tree = topology.tree
        if tree is not self._tree:
            self._tree = tree
            self._nodes.clear()
        cached = self._nodes.get(pool)
        if cached is None:
            lo, hi = tree.level_offsets[Level.NODE], tree.level_offsets[Level.NODE + 1]
            index = next(i for i, info in enumerate(tree.pools) if info.name == pool)
            vertices = (np.flatnonzero(tree.vertex_pool[lo:hi] == index) + lo).astype(np.intp)
            contiguous = vertices.size > 0 and int(vertices[-1]) - int(vertices[0]) + 1 == vertices.size
            span = slice(int(vertices[0]), int(vertices[-1]) + 1) if contiguous else None
            dev_lo, dev_hi = tree.dev_lo[vertices].astype(np.intp), tree.dev_hi[vertices].astype(np.intp)
            sizes = np.unique(dev_hi - dev_lo)
            cached = self._nodes[pool] = _PoolNodes(vertices, span, dev_lo, dev_hi, dev_lo.tolist(),
                                                    tree.level_offsets[Level.DEVICE],
                                                    int(sizes[0]) if sizes.size == 1 else None)
        return cached

    def place(self, job: Job, pool: Pool, layout: Layout | None, topology: Topology) -> PlacedGang | str:
        need = job.devices
        free_total = topology.free_devices_in_pool(pool.name)
        if free_total < need:
            return f"{free_total} of the {need} devices are free in {pool.name}"
        group = max(layout.tp if layout is not None else 1, 1)
        nodes = self._pool_nodes(topology, pool.name)
        free = topology.state.free
        counts = nodes.counts(free)
        usable = counts if group == 1 else counts - counts % group
        if need < pool.devices_per_node and usable.size:
            # The first of the tightest nodes (a node below ``need`` wraps around to huge as unsigned).
            slack = usable - need
            best = int((slack.view(np.uint32) if slack.dtype == np.int32 else slack.astype(np.uint64)).argmin())
            if usable[best] >= need:
                return PlacedGang(_take_from_node(free, nodes, best, need))
        picks = _nodes_to_take(np.bincount(usable).tolist(), need)
        if picks is None:
            return (f"{free_total} devices are free in {pool.name} but not {need} in groups of {group} inside "
                    "nodes (fragmented)")
        if len(picks) == 1:
            level, count = picks[0]
            chosen = np.flatnonzero(usable == level)[:count]
            if count == 1:
                return PlacedGang(_take_from_node(free, nodes, int(chosen[0]), need))
            if level == nodes.node_size:  # whole free nodes: their devices in order, the last one cut short
                ids = (nodes.dev_lo[chosen][:, np.newaxis] + np.arange(level, dtype=np.intp)).ravel()[:need]
                return PlacedGang(tuple(ids.tolist()))
            takes = np.full(count, level, dtype=np.intp)
        else:
            chosen = np.concatenate([np.flatnonzero(usable == level)[:count] for level, count in picks])
            takes = np.repeat(np.asarray([level for level, _ in picks], dtype=np.intp), [c for _, c in picks])
        takes[-1] -= int(takes.sum()) - need
        return PlacedGang(_take(free, nodes, chosen, takes))


def _nodes_to_take(histogram: list[int], need: int) -> list[tuple[int, int]] | None:
    """How many nodes of each usable count a gang takes, most free first: ``[(count, nodes), ...]``
    (in the order nodes are taken), or None when all of them together are not enough."""
    picks: list[tuple[int, int]] = []
    remaining = need
    for level in range(len(histogram) - 1, 0, -1):
        available = histogram[level]
        if not available:
            continue
        wanted = -(-remaining // level)
        if wanted <= available:
            picks.append((level, wanted))
            return picks
        picks.append((level, available))
        remaining -= available * level
    return None


def _take_from_node(free: npt.NDArray[np.int32], nodes: _PoolNodes, position: int, count: int) -> tuple[int, ...]:
    """The first ``count`` free devices of one node, ascending."""
    lo, hi = nodes.first_device[position], int(nodes.dev_hi[position])
    mask = free[nodes.device_base + lo:nodes.device_base + hi].tolist()
    return tuple([lo + offset for offset, is_free in enumerate(mask) if is_free][:count])


def _take(free: npt.NDArray[np.int32], nodes: _PoolNodes, chosen: npt.NDArray[np.intp],
          takes: npt.NDArray[np.intp]) -> tuple[int, ...]:
    """The first ``takes[i]`` free devices of node ``chosen[i]``, node after node, ascending in each."""
    lo, hi = nodes.dev_lo[chosen], nodes.dev_hi[chosen]
    sizes = hi - lo
    ends = np.cumsum(sizes)
    # Device id of every slot of every chosen node, node after node.
    slots = np.arange(int(ends[-1]), dtype=np.intp) + np.repeat(lo - (ends - sizes), sizes)
    is_free = free[nodes.device_base + slots] > 0
    # Rank of each free slot within its node (1 for the node's first free device).
    seen = np.cumsum(is_free)
    before = np.concatenate(([0], seen[ends[:-1] - 1]))
    rank = seen - np.repeat(before, sizes)
    return tuple(slots[is_free & (rank <= np.repeat(takes, sizes))].tolist())


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
