"""Group-aligned placement: whole expert groups on nodes, plus a few targeted transfers for balance.

Used when every node can host its share of whole groups (``groups`` divisible by ``nodes`` and a
node's slots hold its groups' experts). Steps, per layer:

1. *Units*: an expert carrying more than :data:`UNIT_SHARE` of a node's target load is cut into
   equal units (a unit is a share of the expert's tokens that travels as a whole; the units of one
   expert may land on different nodes, which then both host replicas of it). Every other expert is
   one unit.
2. *Groups to nodes*: with at most 4 nodes and few ways to split the groups, every split into
   equal-sized sets is scored by the transfers step 3 will need to bring each node within the
   tolerance (nodes already balanced need none, two nodes whose deviations cancel need one), then
   by the largest deviation left; the best is kept. Larger cases use recursive bisection into
   halves whose group loads match their share of nodes.
3. *Transfers*: while a node is off by more than the tolerance, some units of one group move from
   a heavy node to a light one (a subset of the group's units chosen to match the excess; groups
   already present on the destination first, since moving them costs no span). A heavy and a
   light node whose deviations cancel are settled together. With 4 nodes and 8 groups this costs
   one extra node for about one group in five (mean span ~1.2 instead of EPLB-global's 4).
4. *Per node*: the node's slots go to its units by water-filling (so a node that sent units away
   gains redundancy for its own hot experts; a cut expert gets the same number of replicas per
   unit, so each node's share of its tokens is its share of the units) and the replicas are packed
   onto its devices.
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np

from controlplane.placement.experts.model import ClusterShape
from controlplane.placement.experts.packing import expand_replicas, pack_rows, water_fill

UNIT_SHARE = 0.25
"""An expert heavier than this share of a node's target load is cut into units no heavier than it."""

EXHAUSTIVE_ASSIGNMENTS = 4096
"""Group-to-node assignments (or bisection subsets) are enumerated when there are at most this many."""

TRANSFER_ROUNDS = 4
"""At most this many groups contribute to one transfer."""


def applicable(shape: ClusterShape, experts: int) -> bool:
    """Whether whole groups fit on nodes with the same number of groups per node."""
    if shape.groups % shape.nodes:
        return False
    return (shape.groups // shape.nodes) * (experts // shape.groups) <= shape.slots_per_node


def place_grouped(loads: np.ndarray, shape: ClusterShape, *, tolerance: float) -> np.ndarray:
    """Placement ``[layers, devices, slots]`` of the group-aligned strategy.

    ``tolerance`` is the relative node-load deviation below which no transfer is made.
    """
    layers, experts = loads.shape
    group_size = experts // shape.groups
    group_loads = loads.reshape(layers, shape.groups, group_size).sum(axis=2)
    group_node = _assign_groups(group_loads, shape.nodes, tolerance)
    unit_rows: list[UnitRow] = []
    for layer in range(layers):
        unit_expert, unit_load = _units(loads[layer], shape)
        unit_node = group_node[layer][unit_expert // group_size]
        _transfer(unit_expert // group_size, unit_load, unit_node, shape, tolerance=tolerance)
        unit_rows.append(_merge_units(unit_expert, unit_load, unit_node, shape))
    return _fill_nodes(unit_rows, shape, experts)


UnitRow = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""One layer's hosted items: (expert id, load, node, fixed replica count or 0 for free)."""


def _merge_units(unit_expert: np.ndarray, unit_load: np.ndarray, unit_node: np.ndarray,
                 shape: ClusterShape) -> UnitRow:
    """Merge the units of one expert on one node, and fix the replica count of every expert that
    was cut into units: the same count per unit, so each node's share of the expert's tokens is
    its share of the units (replicas of a few units per node then still fit on distinct devices)."""
    units_of = np.bincount(unit_expert)
    if units_of.max(initial=0) <= 1:
        return unit_expert, unit_load, unit_node, np.zeros(unit_expert.size, dtype=np.int64)
    experts = units_of.size
    key = unit_node * experts + unit_expert
    keys, first, per_key = np.unique(key, return_index=True, return_counts=True)
    merged_load = np.bincount(np.searchsorted(keys, key), weights=unit_load)
    merged_expert = keys % experts
    merged_node = keys // experts
    device_mean = unit_load.sum() / shape.devices
    split = np.flatnonzero(units_of > 1)
    per_unit = np.zeros(experts, dtype=np.int64)
    for expert in split.tolist():
        mine = merged_expert == expert
        unit = float(unit_load[first[mine][0]])
        wanted = max(1, math.ceil(unit / (device_mean / 2) - 1e-9))
        per_unit[expert] = max(1, min(wanted, shape.devices_per_node // int(per_key[mine].max())))
    free_units = np.bincount(merged_node[units_of[merged_expert] == 1], minlength=shape.nodes)
    while True:  # fewer replicas per unit until every node's slots suffice (one per unit always does)
        fixed = np.where(units_of[merged_expert] > 1, per_key * per_unit[merged_expert], 0)
        used = free_units + np.bincount(merged_node, weights=fixed, minlength=shape.nodes)
        over = int(np.argmax(used))
        if used[over] <= shape.slots_per_node:
            return merged_expert, merged_load, merged_node, fixed
        on_node = merged_expert[(merged_node == over) & (fixed > 0)]
        if on_node.size == 0 or per_unit[on_node].max() <= 1:
            return merged_expert, merged_load, merged_node, fixed
        per_unit[on_node[np.argmax(per_unit[on_node])]] -= 1


def _units(expert_loads: np.ndarray, shape: ClusterShape) -> tuple[np.ndarray, np.ndarray]:
    """(expert id, load) of each unit, heaviest first; heavy experts are cut into equal units."""
    target = expert_loads.sum() / shape.nodes
    limit = max(target * UNIT_SHARE, 1e-300)
    pieces = np.maximum(1, np.ceil(expert_loads / limit - 1e-9)).astype(np.int64)
    pieces = np.minimum(pieces, shape.nodes)
    unit_expert = np.repeat(np.arange(expert_loads.size), pieces)
    unit_load = np.repeat(expert_loads / pieces, pieces)
    order = np.lexsort((unit_expert, -unit_load))
    return unit_expert[order], unit_load[order]


def _assign_groups(group_loads: np.ndarray, nodes: int, tolerance: float) -> np.ndarray:
    """Node of each group, ``[layers, groups]``, the same number of groups per node.

    Small cases (at most 4 nodes and :data:`EXHAUSTIVE_ASSIGNMENTS` ways) are searched exhaustively
    for the fewest transfers :func:`_transfer` will need (then the smallest deviation left);
    larger ones by recursive bisection into halves of matching group loads.
    """
    groups = group_loads.shape[1]
    partitions = _partitions(groups, nodes) if nodes <= 4 else None
    if partitions is None:
        return _bisect_groups(group_loads, nodes)
    node_target = group_loads.sum(axis=1, keepdims=True) / nodes  # [layers, 1]
    node_loads = np.stack([np.where(partitions[None, :, :] == node, group_loads[:, None, :], 0.0).sum(axis=2)
                           for node in range(nodes)], axis=2)  # [layers, assignments, nodes]
    safe_target = np.where(node_target > 0, node_target, 1.0)[:, :, None]
    deviation = (node_loads - node_target[:, :, None]) / safe_target
    score = _predicted_transfers(deviation, tolerance)
    off = np.abs(deviation)
    left_over = np.where(off > tolerance, 0.0, off).max(axis=2)
    best = (score + 0.5 * np.minimum(left_over / max(tolerance, 1e-12), 1.0)).argmin(axis=1)
    return partitions[best]


def _partitions(groups: int, nodes: int) -> np.ndarray | None:
    """Every way to split ``groups`` into ``nodes`` unlabelled blocks of equal size, as node indices
    ``[ways, groups]``; None when there are more than :data:`EXHAUSTIVE_ASSIGNMENTS`."""
    size = groups // nodes
    ways = math.factorial(groups) // (math.factorial(size) ** nodes * math.factorial(nodes))
    if ways > EXHAUSTIVE_ASSIGNMENTS:
        return None
    result: list[list[int]] = []

    def extend(assigned: list[int], node: int) -> None:
        free = [g for g in range(groups) if assigned[g] < 0]
        if not free:
            result.append(list(assigned))
            return
        head, rest = free[0], free[1:]
        for others in combinations(rest, size - 1):
            for g in (head, *others):
                assigned[g] = node
            extend(assigned, node + 1)
            for g in (head, *others):
                assigned[g] = -1

    extend([-1] * groups, 0)
    return np.array(result, dtype=np.int64)


def _predicted_transfers(deviation: np.ndarray, tolerance: float) -> np.ndarray:
    """Transfers needed to bring every node within ``tolerance``, for up to 4 nodes: the nodes
    minus the most blocks that already sum to the target (balanced nodes alone, then cancelling
    pairs, then everything else together)."""
    nodes = deviation.shape[-1]
    off = np.abs(deviation) > tolerance
    unbalanced = off.sum(axis=-1)
    transfers = np.maximum(unbalanced - 1, 0)
    if nodes == 4:
        d = deviation
        pairs = [((0, 1), (2, 3)), ((0, 2), (1, 3)), ((0, 3), (1, 2))]
        matched = np.zeros(unbalanced.shape, dtype=bool)
        for (a, b), (c, e) in pairs:
            matched |= (np.abs(d[..., a] + d[..., b]) <= tolerance) & (np.abs(d[..., c] + d[..., e]) <= tolerance)
        transfers = np.where((unbalanced == 4) & matched, 2, transfers)
    return transfers


def _bisect_groups(group_loads: np.ndarray, nodes: int) -> np.ndarray:
    """Recursive bisection: halves of the nodes get sets of groups whose loads match their share."""
    layers, groups = group_loads.shape
    group_node = np.empty((layers, groups), dtype=np.int64)
    pending = [(0, nodes, np.tile(np.arange(groups), (layers, 1)))]
    while pending:
        first, end, members = pending.pop()
        count = end - first
        if count == 1:
            group_node[np.arange(layers)[:, None], members] = first
            continue
        middle = first + count // 2
        left_size = members.shape[1] * (count // 2) // count
        values = np.take_along_axis(group_loads, members, axis=1)
        target = values.sum(axis=1) * (count // 2) / count
        if math.comb(values.shape[1], left_size) <= EXHAUSTIVE_ASSIGNMENTS:
            subsets = np.array(list(combinations(range(values.shape[1]), left_size)), dtype=np.int64)
            best = np.abs(values[:, subsets].sum(axis=2) - target[:, None]).argmin(axis=1)
            chosen = np.zeros(values.shape, dtype=bool)
            chosen[np.arange(layers)[:, None], subsets[best]] = True
        else:
            chosen = _greedy_subset(values, left_size, target)
        ordered = np.take_along_axis(members, np.argsort(~chosen, axis=1, kind="stable"), axis=1)
        pending.append((first, middle, ordered[:, :left_size]))
        pending.append((middle, end, ordered[:, left_size:]))
    return group_node


def _greedy_subset(values: np.ndarray, size: int, target: np.ndarray) -> np.ndarray:
    rows, items = values.shape
    mask = np.zeros((rows, items), dtype=bool)
    for row in range(rows):
        left_sum = right_sum = 0.0
        left_room, right_room = size, items - size
        total = float(values[row].sum())
        left_target = float(target[row])
        for item in np.argsort(-values[row], kind="stable").tolist():
            left_gap = left_target - left_sum
            right_gap = total - left_target - right_sum
            if right_room == 0 or (left_room > 0 and left_gap >= right_gap):
                mask[row, item], left_sum, left_room = True, left_sum + values[row, item], left_room - 1
            else:
                right_sum, right_room = right_sum + values[row, item], right_room - 1
    for _ in range(items):
        excess = (values * mask).sum(axis=1) - target  # [rows]
        delta = values[:, :, None] - values[:, None, :]  # swap out i (chosen) for j (not chosen)
        after = np.abs(excess[:, None, None] - delta)
        after = np.where(mask[:, :, None] & ~mask[:, None, :], after, np.inf)
        flat = after.reshape(rows, -1).argmin(axis=1)
        better = after.reshape(rows, -1)[np.arange(rows), flat] < np.abs(excess) * (1 - 1e-12)
        if not better.any():
            break
        pick = np.flatnonzero(better)
        mask[pick, flat[pick] // items] = False
        mask[pick, flat[pick] % items] = True
    return mask


def _transfer(unit_group: np.ndarray, unit_load: np.ndarray, unit_node: np.ndarray, shape: ClusterShape, *,
              tolerance: float) -> None:
    """Move units between nodes (``unit_node`` in place) until every node is within ``tolerance``
    of the mean load, or no move helps. A heavy and a light node whose deviations cancel are
    settled by one transfer; otherwise the heaviest node sends to the lightest."""
    node_load = np.bincount(unit_node, weights=unit_load, minlength=shape.nodes)
    target = float(node_load.sum()) / shape.nodes
    limit = tolerance * target
    groups = unit_group.tolist()
    weights = unit_load.tolist()
    where = unit_node.tolist()
    failed: set[tuple[int, int]] = set()
    for _ in range(2 * shape.nodes):
        deviation = node_load - target
        heavy = [n for n in range(shape.nodes) if deviation[n] > limit]
        light = [n for n in range(shape.nodes) if deviation[n] < -limit]
        options = [(h, li) for h in heavy for li in light if (h, li) not in failed]
        if not options:
            break
        source, destination = min(options, key=lambda p: (abs(deviation[p[0]] + deviation[p[1]]), p))
        if abs(deviation[source] + deviation[destination]) <= limit:
            amount = (deviation[source] - deviation[destination]) / 2
        else:
            source, destination = max(options, key=lambda p: (deviation[p[0]] - deviation[p[1]], -p[0], -p[1]))
            amount = min(deviation[source], -deviation[destination])
        shifted = _move(groups, weights, where, source, destination, float(amount), shape.slots_per_node,
                        tolerance=limit)
        if shifted <= 0:
            failed.add((source, destination))
        node_load[source] -= shifted
        node_load[destination] += shifted
    unit_node[:] = where


def _move(groups: list[int], weights: list[float], where: list[int], source: int, destination: int,
          amount: float, room_limit: int, *, tolerance: float) -> float:
    """Move about ``amount`` of load from ``source`` to ``destination`` (``where`` is updated), one
    group's units at a time, preferring groups already on the destination. Units are indexed
    heaviest first. Returns the load moved."""
    remaining = amount
    moved_total = 0.0
    for _ in range(TRANSFER_ROUNDS):
        room = room_limit - where.count(destination)
        if remaining <= tolerance or room <= 0:
            break
        present = {groups[u] for u, node in enumerate(where) if node == destination}
        by_group: dict[int, list[int]] = {}
        for unit, node in enumerate(where):
            if node == source:
                by_group.setdefault(groups[unit], []).append(unit)
        best: tuple[tuple[bool, int, float], list[int], float] | None = None
        for group in sorted(by_group):
            chosen, moved = _subset_near(by_group[group], weights, remaining, room)
            if not chosen:
                continue
            residual = abs(remaining - moved)
            key = (residual > tolerance, 0 if group in present else 1, residual)
            if best is None or key < best[0]:
                best = (key, chosen, moved)
        if best is None or best[0][2] >= remaining:
            break
        for unit in best[1]:
            where[unit] = destination
        remaining -= best[2]
        moved_total += best[2]
        if remaining < 0:
            break
    return moved_total


def _subset_near(units: list[int], weights: list[float], amount: float, room: int) -> tuple[list[int], float]:
    """At most ``room`` of ``units`` (heaviest first) whose load sums near ``amount``: heaviest
    first while it fits, then the one unit that best overshoots. Returns (units, their load)."""
    chosen: list[int] = []
    skipped: list[int] = []
    total = 0.0
    for unit in units:
        if len(chosen) < room and total + weights[unit] <= amount:
            chosen.append(unit)
            total += weights[unit]
        else:
            skipped.append(unit)
    if len(chosen) < room and skipped:
        over = min(skipped, key=lambda u: abs(amount - total - weights[u]))
        if abs(amount - total - weights[over]) < amount - total:
            chosen.append(over)
            total += weights[over]
    return chosen, total


def _fill_nodes(unit_rows: list[UnitRow], shape: ClusterShape, experts: int) -> np.ndarray:
    """Water-fill each node's slots over its units and pack the replicas onto its devices."""
    layers = len(unit_rows)
    rows = layers * shape.nodes
    row_of = np.concatenate([layer * shape.nodes + row[2] for layer, row in enumerate(unit_rows)])
    all_ids = np.concatenate([row[0] for row in unit_rows])
    all_loads = np.concatenate([row[1] for row in unit_rows])
    all_fixed = np.concatenate([row[3] for row in unit_rows])
    order = np.argsort(row_of, kind="stable")
    sizes = np.bincount(row_of, minlength=rows)
    used = np.bincount(row_of, weights=np.maximum(all_fixed, 1), minlength=rows)
    if used.max() > shape.slots_per_node:
        raise ValueError("a node hosts more units than it has slots")
    position = np.arange(order.size) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    width = int(sizes.max())
    loads = np.zeros((rows, width))
    ids = np.zeros((rows, width), dtype=np.int64)
    valid = np.zeros((rows, width), dtype=bool)
    fixed = np.zeros((rows, width), dtype=np.int64)
    loads[row_of[order], position] = all_loads[order]
    ids[row_of[order], position] = all_ids[order]
    valid[row_of[order], position] = True
    fixed[row_of[order], position] = all_fixed[order]
    counts = water_fill(loads, valid, shape.slots_per_node, cap=shape.devices_per_node, fixed=fixed)
    weights, replica_ids = expand_replicas(counts, loads, ids, shape.slots_per_node)
    device_of = pack_rows(weights, replica_ids, devices=shape.devices_per_node, slots=shape.slots_per_device)
    placed = np.take_along_axis(replica_ids, np.argsort(device_of, axis=1, kind="stable"), axis=1)
    return placed.reshape(layers, shape.devices, shape.slots_per_device)
