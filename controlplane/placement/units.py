"""Free capacity counted in *units*: whole tensor-parallel groups that fit one scale-up subtree.

Owns ``UnitMap``: for a set of pools and a tensor-parallel width ``tp``, how many TP groups
each subtree can still host, read from the topology's free counters.

Vocabulary:
- *unit*: ``tp`` free devices inside one *unit subtree*.
- *unit level* of a pool: the lowest level whose subtrees hold ``tp`` devices: the intra-node
  domain (NVLink/HCCS/xGMI island) when ``tp`` fits one, else the node (``tp`` spans domains
  over the host link, never the network), else — only for rack-scale pools (GB200 NVL72,
  TPU slices) — the rack. A pool whose nodes are too small and whose scale-up domain is not
  the rack cannot host the job's TP groups at all.
- ``units[level][i]``: units under the ``i``-th subtree of ``level`` (sum over its unit
  subtrees of ``free // tp``), for every level from the root down to the deepest unit level.

Cost: one pass over the unit subtrees of the chosen pools plus one ``bincount`` per level —
O(#domains), never O(#devices) — so a 10,000-node cluster is counted in about a millisecond.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from controlplane.topology.levels import Level
from controlplane.topology.topology import Topology

IntArray = npt.NDArray[np.int64]
UNIT_LEVELS = (Level.DOMAIN, Level.NODE, Level.RACK)


@dataclass(frozen=True)
class PoolUnits:
    """Unit level of one pool, or why it has none."""

    pool: int
    level: Level | None
    refusal: str | None = None


def unit_level(topology: Topology, pool: int, tp: int) -> PoolUnits:
    """The unit level of ``pool`` for TP groups of ``tp`` devices (module docstring)."""
    tree = topology.tree
    info = tree.pools[pool]
    for level in UNIT_LEVELS:
        lo, hi = tree.block(level)
        mask = tree.vertex_pool[lo:hi] == pool
        if not mask.any():
            return PoolUnits(pool, None, f"pool {info.name} has no nodes")
        smallest = int(tree.capacity[lo:hi][mask].min())
        if tp <= smallest:
            return PoolUnits(pool, level)
        if level is Level.NODE and info.scaleup_level is not Level.RACK:
            return PoolUnits(pool, None, f"pool {info.name}: tp={tp} exceeds the {smallest} devices of a node "
                                         f"and its scale-up domain ends at the node")
    return PoolUnits(pool, None, f"pool {info.name}: tp={tp} exceeds its rack-scale domain")


class UnitMap:
    """Units per subtree for TP groups of ``tp`` devices over some pools (module docstring)."""

    def __init__(self, topology: Topology, pools: Sequence[PoolUnits], tp: int) -> None:
        tree = topology.tree
        self.topology = topology
        self.tp = tp
        self.deepest = max((p.level for p in pools if p.level is not None), default=Level.NODE)
        self.leaf_level = {p.pool: p.level for p in pools if p.level is not None}
        free = topology.state.free
        leaves: list[IntArray] = []
        leaf_units: list[IntArray] = []
        leaf_levels: list[IntArray] = []
        for pool in pools:
            if pool.level is None:
                continue
            lo, hi = tree.block(pool.level)
            vertices = lo + np.flatnonzero(tree.vertex_pool[lo:hi] == pool.pool).astype(np.int64)
            leaves.append(vertices)
            leaf_units.append(free[vertices].astype(np.int64) // tp)
            leaf_levels.append(np.full(vertices.size, int(pool.level), dtype=np.int64))
        all_leaves = np.concatenate(leaves) if leaves else np.zeros(0, dtype=np.int64)
        order = np.argsort(all_leaves, kind="stable")
        self.leaves = all_leaves[order]
        """Unit subtrees, ascending vertex id (tree order)."""
        self.leaf_units = (np.concatenate(leaf_units) if leaf_units else np.zeros(0, dtype=np.int64))[order]
        levels_of_leaves = (np.concatenate(leaf_levels) if leaf_levels else np.zeros(0, dtype=np.int64))[order]
        self._leaf_levels = [int(level) for level in np.unique(levels_of_leaves)]
        first_device = tree.dev_lo[self.leaves]
        self.units: dict[Level, IntArray] = {}
        for level in Level:
            if level > self.deepest:
                break
            lo, hi = tree.block(level)
            below = levels_of_leaves >= level
            owners = tree.device_ancestors[first_device[below], level].astype(np.int64) - lo
            self.units[level] = np.bincount(owners, weights=self.leaf_units[below],
                                            minlength=hi - lo).astype(np.int64)

    @property
    def total(self) -> int:
        return int(self.units[Level.CLUSTER][0])

    def units_of(self, vertex: int) -> int:
        level = self.topology.tree.level_of(vertex)
        return int(self.units[level][vertex - self.topology.tree.level_offsets[level]])

    def is_leaf(self, vertex: int) -> bool:
        tree = self.topology.tree
        pool = int(tree.vertex_pool[vertex])
        return pool >= 0 and self.leaf_level.get(pool) is tree.level_of(vertex)

    def children_with_units(self, vertex: int) -> tuple[IntArray, IntArray]:
        """(child vertex ids, their units) for the children of ``vertex`` holding any units."""
        tree = self.topology.tree
        lo, hi = int(tree.child_lo[vertex]), int(tree.child_hi[vertex])
        if hi <= lo:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        level = tree.level_of(lo)
        offset = tree.level_offsets[level]
        units = self.units[level][lo - offset:hi - offset]
        keep = np.flatnonzero(units > 0)
        return (lo + keep).astype(np.int64), units[keep]

    def fitting(self, level: Level, amount: int) -> tuple[IntArray, IntArray]:
        """(vertex ids, units) of the subtrees at ``level`` with at least ``amount`` units, best
        fit first: fewest units, then the fewest free devices in the parent, the grandparent and
        so on (a partly used rack before a whole one), then tree order."""
        tree = self.topology.tree
        units = self.units[level]
        candidates = np.flatnonzero(units >= amount)
        vertices = candidates.astype(np.int64) + tree.level_offsets[level]
        first_devices = tree.dev_lo[vertices]
        keys: list[IntArray] = [vertices]
        for ancestor in range(Level.REGION, level):
            keys.append(self.topology.state.free[tree.device_ancestors[first_devices, ancestor]].astype(np.int64))
        keys.append(units[candidates])
        order = np.lexsort(tuple(keys))
        return vertices[order], units[candidates][order]

    def leaves_under(self, vertex: int) -> tuple[IntArray, IntArray]:
        """(unit subtrees, their units) under ``vertex`` holding any units, in tree order."""
        tree = self.topology.tree
        first, last = int(tree.dev_lo[vertex]), int(tree.dev_hi[vertex]) - 1
        found: list[IntArray] = []
        counts: list[IntArray] = []
        for level in self._leaf_levels:
            lo = int(tree.device_ancestors[first, level])
            hi = int(tree.device_ancestors[last, level]) + 1
            start, stop = np.searchsorted(self.leaves, [lo, hi])
            units = self.leaf_units[start:stop]
            keep = units > 0
            found.append(self.leaves[start:stop][keep])
            counts.append(units[keep])
        if len(found) == 1:
            return found[0], counts[0]
        return np.concatenate(found), np.concatenate(counts)

    def take_devices(self, leaves: IntArray, counts: IntArray) -> IntArray:
        """The devices of the first ``counts[i]`` units (ascending free ids) of each unit
        subtree ``leaves[i]``, concatenated in the given order."""
        tree = self.topology.tree
        base = tree.level_offsets[Level.DEVICE]
        starts = tree.dev_lo[leaves].astype(np.int64)
        sizes = tree.dev_hi[leaves].astype(np.int64) - starts
        offsets = np.cumsum(sizes) - sizes
        owner = np.repeat(np.arange(leaves.size, dtype=np.int64), sizes)
        ids = np.repeat(starts - offsets, sizes) + np.arange(int(sizes.sum()), dtype=np.int64)
        free = self.topology.state.free[base + ids] > 0
        ids, owner = ids[free], owner[free]
        first_of_owner = np.searchsorted(owner, np.arange(leaves.size, dtype=np.int64))
        position = np.arange(ids.size, dtype=np.int64) - first_of_owner[owner]
        return ids[position < counts[owner] * self.tp]
