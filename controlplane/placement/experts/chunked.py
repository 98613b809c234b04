"""Chunked placement: global replica counts, each group laid out on a contiguous run of nodes.

Used when groups cannot sit whole on nodes (DeepSeek-V3 decode: 320 devices of one slot, 256
experts in 8 groups of 32, so a group needs at least four nodes of 8 slots) or when the
group-aligned strategy cannot balance the load (a single expert hotter than a node's share).

1. *Replica counts* by water-filling over all slots: this minimises the largest load per replica,
   which is exactly the device maximum when a device has one slot.
2. *Group order*: the groups are laid end to end over the slots in node order. The order is
   chosen greedily so that groups end on node boundaries where possible (a group of ``R``
   replicas then touches ``ceil(R / slots_per_node)`` nodes, the least it can), preferring
   hotter groups first among equals.
3. *Replicas to slots*: within its run, a group's replicas are dealt heaviest first across the
   nodes of the run in proportion to each node's share of the run, so nodes get similar mixes of
   heavy and light replicas (node balance), and replicas of one expert land on different nodes
   where they can.
4. *Devices*: a node's replicas are packed onto its devices (see :func:`pack_rows`).

Also here: :func:`place_spread`, the extreme-skew fallback (global counts packed over all devices
at once, then devices grouped onto nodes by their main group).
"""

from __future__ import annotations

import numpy as np

from controlplane.placement.experts.model import ClusterShape
from controlplane.placement.experts.packing import expand_replicas, pack_rows, water_fill


def global_counts(loads: np.ndarray, shape: ClusterShape) -> np.ndarray:
    """Replica counts ``[layers, experts]`` water-filled over all slots (at most one per device)."""
    return water_fill(loads, np.ones(loads.shape, dtype=bool), shape.slots, cap=shape.devices)


def place_chunked(loads: np.ndarray, shape: ClusterShape, counts: np.ndarray | None = None) -> np.ndarray:
    """Placement ``[layers, devices, slots]`` of the chunked strategy (``counts``: precomputed
    :func:`global_counts`)."""
    counts = global_counts(loads, shape) if counts is None else counts
    return lay_out(loads, counts, shape, shape.group_of(loads.shape[1]))


def lay_out(loads: np.ndarray, counts: np.ndarray, shape: ClusterShape, group: np.ndarray) -> np.ndarray:
    """Steps 2–4 for given replica counts ``[layers, experts]`` (each row sums to the slot count)."""
    layers, experts = loads.shape
    per_node = shape.slots_per_node
    group_replicas = counts.reshape(layers, shape.groups, experts // shape.groups).sum(axis=2)
    sequence = np.array([order_groups(row.tolist(), per_node) for row in group_replicas], dtype=np.int64)
    position = np.argsort(sequence, axis=1)  # position of each group in its layer's sequence
    ids = np.tile(np.arange(experts), (layers, 1))
    weights, replica_ids = expand_replicas(counts, loads, ids, shape.slots)
    replica_rank = np.take_along_axis(position, group[replica_ids], axis=1)
    item_order = np.lexsort((replica_ids, -weights, replica_rank), axis=1)

    sequenced = np.take_along_axis(group_replicas, sequence, axis=1)
    ends = np.cumsum(sequenced, axis=1)
    starts = ends - sequenced
    slot = np.arange(shape.slots)
    run = np.stack([np.searchsorted(row, slot, side="right") for row in ends])  # sequence position per slot
    run_start = np.take_along_axis(starts, run, axis=1)
    run_end = np.take_along_axis(ends, run, axis=1)
    node = slot // per_node
    piece_start = np.maximum(run_start, node * per_node)
    piece_end = np.minimum(run_end, (node + 1) * per_node)
    spread = (slot - piece_start + 0.5) / (piece_end - piece_start)
    slot_order = np.lexsort((np.broadcast_to(node, spread.shape), spread, run), axis=1)

    by_slot = np.empty((layers, shape.slots), dtype=np.int64)
    slot_weight = np.empty((layers, shape.slots))
    rows = np.arange(layers)[:, None]
    by_slot[rows, slot_order] = np.take_along_axis(replica_ids, item_order, axis=1)
    slot_weight[rows, slot_order] = np.take_along_axis(weights, item_order, axis=1)
    node_ids = by_slot.reshape(layers * shape.nodes, per_node)
    node_weights = slot_weight.reshape(layers * shape.nodes, per_node)
    device_of = pack_rows(node_weights, node_ids, devices=shape.devices_per_node, slots=shape.slots_per_device)
    placed = np.take_along_axis(node_ids, np.argsort(device_of, axis=1, kind="stable"), axis=1)
    return placed.reshape(layers, shape.devices, shape.slots_per_device)


def order_groups(replicas: list[int], per_node: int) -> list[int]:
    """Greedy order of groups along the nodes: at each step the group that touches no more nodes
    than its minimum from the current offset, ending on a node boundary if possible, most
    replicas first, lowest index on ties."""
    offset = 0
    remaining = list(range(len(replicas)))
    sequence: list[int] = []
    while remaining:
        def cost(g: int, start: int = offset) -> tuple[int, bool, int, int]:
            end = start + replicas[g]
            extra = -(-end // per_node) - -(-replicas[g] // per_node)
            return (extra, end % per_node != 0, -replicas[g], g)

        chosen = min(remaining, key=cost)
        sequence.append(chosen)
        remaining.remove(chosen)
        offset = (offset + replicas[chosen]) % per_node
    return sequence


def place_spread(loads: np.ndarray, shape: ClusterShape, counts: np.ndarray | None = None) -> np.ndarray:
    """Fallback for extreme skew: global replica counts packed over all devices at once (balance
    first, like EPLB's global policy), then devices grouped onto nodes by their main expert group,
    which lowers the group span at no cost in device balance."""
    layers, experts = loads.shape
    counts = global_counts(loads, shape) if counts is None else counts
    ids = np.tile(np.arange(experts), (layers, 1))
    weights, replica_ids = expand_replicas(counts, loads, ids, shape.slots)
    device_of = pack_rows(weights, replica_ids, devices=shape.devices, slots=shape.slots_per_device)
    placed = np.take_along_axis(replica_ids, np.argsort(device_of, axis=1, kind="stable"), axis=1)
    placed = placed.reshape(layers, shape.devices, shape.slots_per_device)
    group = shape.group_of(experts)
    share = np.zeros((layers, shape.devices, shape.groups))
    np.add.at(share, (np.arange(layers)[:, None, None], np.arange(shape.devices)[None, :, None], group[placed]),
              np.take_along_axis(weights, np.argsort(device_of, axis=1, kind="stable"), axis=1)
              .reshape(placed.shape))
    main_group = share.argmax(axis=2)
    order = np.lexsort((-share.max(axis=2), main_group), axis=1)
    return np.take_along_axis(placed, order[:, :, None], axis=1)
