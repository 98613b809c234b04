"""Hierarchical best-fit packing of a job's tensor-parallel units into one subtree.

Owns ``Ordering`` (which parallel dimension sits innermost among the units), ``home_subtrees``
(where a job may live) and ``pack`` (which units of that subtree it takes, in rank order).

Algorithm, for ``U = world / tp`` units:

1. *Home*: the deepest level at which a single subtree still holds ``U`` units (node, then
   rack, spine, zone, region; the cluster only across regions), best fit first: the subtree
   with the fewest units that suffices, ties in tree order. Deepest first keeps every group
   under the lowest common switch; best fit leaves the emptiest subtrees whole for the next
   large gang.
2. *Descent*: a subtree that cannot give its share from one child spreads it over children.
   Shares are multiples of the largest *block* of the ordering that the children can supply
   (a block is the unit count of the innermost dimensions: ``cp``, then ``cp × dp``, ...), so
   groups of the inner dimensions never straddle a child. Two strategies: ``fewest`` takes the
   children with the most units first (fewest subtrees crossed); ``tightest`` fills the
   children with the fewest units first (best fit, keeps whole subtrees free). The share that
   a single child can cover goes to the smallest child that covers it.
   A third strategy, ``aligned`` (``pack_aligned``), puts whole blocks first: each block of the
   ordering's largest size goes into the smallest subtree that holds it whole, even when that
   means a higher home (a stage's data-parallel slab in one node, the stages in two racks,
   rather than every slab split over three half-free nodes of one rack). ``pack_first_fit``
   adds first fit's own units as a candidate, so the search never prices worse than first fit.
3. *Rank order*: the units, in tree order, receive the ranks of the ordering (e.g. ordering
   ``(pp, dp)`` puts the stages of one pipeline on consecutive units, so pipelines fill racks
   and data-parallel groups cross them).

The placer evaluates the cost of every (home, ordering, strategy) candidate and keeps the
cheapest; ``fragmentation_key`` breaks ties towards the candidate that leaves the largest
free blocks at every level.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import permutations

import numpy as np
import numpy.typing as npt

from controlplane.perfmodel.shapes import Layout
from controlplane.placement.units import UnitMap
from controlplane.topology.levels import Level

IntArray = npt.NDArray[np.int64]
STRATEGIES = ("fewest", "tightest")
AXES = ("cp", "dp", "pp")


@dataclass(frozen=True)
class Ordering:
    """Parallel dimensions above TP, innermost first, e.g. ``("cp", "dp", "pp")`` (Megatron's)."""

    axes: tuple[str, ...]

    def sizes(self, layout: Layout) -> tuple[int, ...]:
        return tuple(int(getattr(layout, axis)) for axis in self.axes)

    def blocks(self, layout: Layout) -> tuple[int, ...]:
        """Unit counts of the innermost 1, 2, ... dimensions, largest first (always ends in 1)."""
        products = [1]
        for size in self.sizes(layout):
            products.append(products[-1] * size)
        return tuple(sorted(set(products), reverse=True))

    def slot_of_rank_unit(self, layout: Layout) -> IntArray:
        """For each rank unit ``cp + CP·(dp + DP·pp)``, the unit slot (position in tree order)
        it occupies under this ordering."""
        complete = self.axes + tuple(axis for axis in AXES if axis not in self.axes)
        outer_first = tuple(reversed(complete))
        slots = np.arange(layout.cp * layout.dp * layout.pp, dtype=np.int64).reshape(
            tuple(int(getattr(layout, axis)) for axis in outer_first))
        standard = ("pp", "dp", "cp")
        return slots.transpose(tuple(outer_first.index(axis) for axis in standard)).ravel()

    def describe(self) -> str:
        return "tp < " + " < ".join(self.axes)


def orderings(layout: Layout) -> list[Ordering]:
    """Every order of the dimensions of size > 1 (Megatron's order first); one if none."""
    active = tuple(axis for axis in AXES if getattr(layout, axis) > 1)
    ordered = [Ordering(tuple(p)) for p in permutations(active)]
    return ordered or [Ordering(())]


def home_subtrees(units: UnitMap, needed: int, top: Level, limit: int) -> list[int]:
    """Up to ``limit`` candidate homes at the deepest level that has any (module docstring)."""
    for level in reversed([lv for lv in Level if top <= lv <= units.deepest]):
        vertices, _ = units.fitting(level, needed)
        if vertices.size:
            return vertices[:limit].tolist()
    return []


@dataclass(frozen=True)
class Packing:
    """Devices of one candidate in rank order, and the units it takes per unit subtree."""

    devices: IntArray
    taken: dict[int, int]
    home: int
    ordering: Ordering
    strategy: str


def pack(units: UnitMap, layout: Layout, home: int, ordering: Ordering, strategy: str) -> Packing:
    """Take ``world / tp`` units under ``home`` and give them ranks (module docstring)."""
    needed = layout.devices // layout.tp
    shares: list[tuple[IntArray, IntArray]] = []
    _descend(units, home, units.topology.tree.level_of(home), needed, ordering.blocks(layout), strategy, shares)
    return _finish(units, layout, shares, home, ordering, strategy)


def pack_aligned(units: UnitMap, layout: Layout, ordering: Ordering, top: Level) -> Packing | None:
    """Whole blocks first: the ordering's largest block (e.g. the ``dp × cp`` slab of one stage)
    goes into the smallest subtrees that hold it whole, and the home is the lowest subtree
    holding enough such subtrees — even if a lower subtree could hold the job in pieces.
    ``None`` when the ordering has no block between one unit and the whole job."""
    needed = layout.devices // layout.tp
    blocks = ordering.blocks(layout)
    inner = [block for block in blocks if 1 < block < needed]
    if not inner:
        return None
    block = inner[0]
    wanted = needed // block
    tree = units.topology.tree
    for level in reversed([lv for lv in Level if top < lv <= units.deepest]):
        offset = tree.level_offsets[level]
        hosts = units.units[level] // block
        if int(hosts.sum()) < wanted:
            continue
        host_vertices = (np.flatnonzero(hosts) + offset).astype(np.int64)
        host_counts = hosts[host_vertices - offset]
        first_devices = tree.dev_lo[host_vertices]
        for ancestor in reversed(range(top, level)):
            owners = tree.device_ancestors[first_devices, ancestor].astype(np.int64)
            homes, inverse = np.unique(owners, return_inverse=True)
            totals = np.bincount(inverse, weights=host_counts).astype(np.int64)
            fitting = np.flatnonzero(totals >= wanted)
            if not fitting.size:
                continue
            home = int(homes[fitting[np.lexsort((homes[fitting], totals[fitting]))[0]]])
            members = owners == home
            candidates, capacity = host_vertices[members], host_counts[members]
            picks = _choose(capacity, wanted, "fewest")
            shares: list[tuple[IntArray, IntArray]] = []
            for index in sorted(picks):
                _descend(units, int(candidates[index]), level, picks[index] * block, blocks, "fewest", shares)
            return _finish(units, layout, shares, home, ordering, "aligned")
        return None
    return None


def pack_first_fit(units: UnitMap, layout: Layout, ordering: Ordering) -> Packing:
    """The first ``world / tp`` free units in tree order (what first fit would take), ranked by
    ``ordering``: one more candidate, so the search never does worse than first fit."""
    needed = layout.devices // layout.tp
    before = np.cumsum(units.leaf_units) - units.leaf_units
    take = np.clip(needed - before, 0, units.leaf_units)
    chosen = np.flatnonzero(take)
    leaves = units.leaves[chosen]
    tree = units.topology.tree
    if leaves.size == 1:
        home = int(leaves[0])
    else:  # the lowest common ancestor of the first and the last unit subtree (tree order)
        ends = tree.device_ancestors[tree.dev_lo[leaves[[0, -1]]]]
        home = int(ends[0, int(np.count_nonzero(ends[0] == ends[1])) - 1])
    return _finish(units, layout, [(leaves, take[chosen])], home, ordering, "first-fit")


def _finish(units: UnitMap, layout: Layout, shares: list[tuple[IntArray, IntArray]], home: int, ordering: Ordering,
            strategy: str) -> Packing:
    needed = layout.devices // layout.tp
    leaves = np.concatenate([leaf for leaf, _ in shares])
    counts = np.concatenate([count for _, count in shares])
    by_slot = units.take_devices(leaves, counts).reshape(needed, layout.tp)
    devices = by_slot[ordering.slot_of_rank_unit(layout)].ravel()
    taken = dict(zip(leaves.tolist(), counts.tolist(), strict=True))
    return Packing(devices=devices, taken=taken, home=home, ordering=ordering, strategy=strategy)


def _descend(units: UnitMap, vertex: int, level: Level, amount: int, blocks: Sequence[int], strategy: str,
             shares: list[tuple[IntArray, IntArray]]) -> None:
    """Append (unit subtrees, units taken) for ``amount`` units under ``vertex``, tree order."""
    if amount == units.units[level][vertex - units.topology.tree.level_offsets[level]]:
        shares.append(units.leaves_under(vertex))  # the whole subtree: no choice left to make
        return
    if units.is_leaf(vertex):
        shares.append((np.array([vertex], dtype=np.int64), np.array([amount], dtype=np.int64)))
        return
    children, available = units.children_with_units(vertex)
    child_level = Level(level + 1)
    fitting = np.flatnonzero(available >= amount)
    if fitting.size:
        best = fitting[np.argmin(available[fitting])]  # first minimum: tree order breaks ties
        _descend(units, int(children[best]), child_level, amount, blocks, strategy, shares)
        return
    capacity = available
    for block in blocks:
        if block > amount or amount % block:
            continue
        capacity = available // block * block
        if int(capacity.sum()) >= amount:
            break
    picks = _choose(capacity, amount, strategy)
    for index in sorted(picks):
        _descend(units, int(children[index]), child_level, picks[index], blocks, strategy, shares)


def _choose(capacity: IntArray, amount: int, strategy: str) -> dict[int, int]:
    """Child index -> share; shares are taken from ``capacity`` (multiples of one block)."""
    if strategy == "fewest":
        order = np.lexsort((np.arange(capacity.size), -capacity))
    else:
        order = np.lexsort((np.arange(capacity.size), capacity))
    picks: dict[int, int] = {}
    remaining = amount
    usable = [int(i) for i in order if capacity[i] > 0]
    while remaining > 0 and usable:
        covering = [i for i in usable if capacity[i] >= remaining]
        if covering:
            smallest = min(covering, key=lambda i: (int(capacity[i]), i))
            picks[smallest] = remaining
            break
        index = usable.pop(0)
        picks[index] = int(capacity[index])
        remaining -= int(capacity[index])
    return picks


def fragmentation_key(units: UnitMap, packing: Packing) -> tuple[int, ...]:
    """Largest free block (in devices) at each level from region down to node once
    ``packing`` is allocated; compared lexicographically, larger is better."""
    tree = units.topology.tree
    free = units.topology.state.free
    first_devices = tree.dev_lo[np.fromiter(packing.taken, dtype=np.int64)]
    taken_devices = np.fromiter(packing.taken.values(), dtype=np.int64) * units.tp
    key = []
    for level in (Level.REGION, Level.ZONE, Level.SPINE, Level.RACK, Level.NODE):
        lo, hi = tree.block(level)
        owners = tree.device_ancestors[first_devices, level].astype(np.int64)
        touched, inverse = np.unique(owners, return_inverse=True)
        remaining = free[touched].astype(np.int64) - np.bincount(inverse, weights=taken_devices).astype(np.int64)
        block = free[lo:hi]
        untouched_mask = np.ones(hi - lo, dtype=bool)
        untouched_mask[touched - lo] = False
        largest_untouched = int(block[untouched_mask].max()) if untouched_mask.any() else 0
        key.append(max(largest_untouched, int(remaining.max()) if remaining.size else 0))
    return tuple(key)
