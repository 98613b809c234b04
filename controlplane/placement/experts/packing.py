"""The two vectorised kernels of expert placement: replica counts and packing replicas onto devices.

Both work on many independent *rows* at once (a row is one layer, or one node of one layer), so
a 58-layer model is planned with a few dozen NumPy passes rather than thousands of Python steps.

- :func:`water_fill`: give each item one replica, then each spare slot to the item with the
  highest load per replica (this minimises the largest load per replica, the quantity that
  bounds a device's load when it has one slot).
- :func:`pack_rows`: put a row's replicas onto its devices, exactly ``slots`` per device,
  heaviest first onto the lightest device with room that does not already hold the same expert
  (two replicas of one expert on one device would be pointless), then improve by swapping a
  replica of the most loaded device with a lighter one elsewhere while that lowers the maximum.
"""

from __future__ import annotations

import numpy as np

SWAP_ROUNDS = 64
"""Upper bound on swap-refinement rounds (each round fixes at most one swap per row)."""


def water_fill(loads: np.ndarray, valid: np.ndarray, slots: np.ndarray | int, cap: int,
               fixed: np.ndarray | None = None) -> np.ndarray:
    """Replica counts ``[rows, items]``: one per valid item, spare slots to the highest load per replica.

    ``cap`` limits one item's replicas (relaxed only when every item of a row is at the cap).
    Items with a positive ``fixed`` count get exactly that many. Ties go to the lowest item
    index, so the result is deterministic.
    """
    counts = valid.astype(np.int64)
    if fixed is not None:
        counts = np.where(fixed > 0, fixed, counts)
        valid = valid & (fixed <= 0)
    spare = np.broadcast_to(np.asarray(slots, dtype=np.int64), (loads.shape[0],)) - counts.sum(axis=1)
    if np.any(spare < 0):
        raise ValueError("a row has more items than slots")
    rows = np.arange(loads.shape[0])
    ratio = np.where(valid, loads / np.maximum(counts, 1), -np.inf)  # load per replica
    open_ratio = np.where(counts < cap, ratio, -np.inf)  # the same, where another replica is allowed
    for _ in range(int(spare.max(initial=0))):
        active = rows[spare > 0]
        choice = open_ratio[active].argmax(axis=1)
        blocked = ~np.isfinite(open_ratio[active, choice])
        if blocked.any():  # every item of the row is at the cap: relax it
            if not np.isfinite(ratio[active[blocked]].max(initial=-np.inf)):
                raise ValueError("no item can take the spare slots")
            choice[blocked] = ratio[active[blocked]].argmax(axis=1)
        counts[active, choice] += 1
        ratio[active, choice] = loads[active, choice] / counts[active, choice]
        open_ratio[active, choice] = np.where(counts[active, choice] < cap, ratio[active, choice], -np.inf)
        spare[active] -= 1
    return counts


def expand_replicas(counts: np.ndarray, loads: np.ndarray, experts: np.ndarray,
                    width: int) -> tuple[np.ndarray, np.ndarray]:
    """Turn per-item replica counts into ``width`` replicas per row: (weight, expert id) arrays.

    Every row's counts must sum to ``width``. A replica's weight is its item's load / count.
    """
    rows, items = counts.shape
    per_replica = loads / np.maximum(counts, 1)
    row_index = np.repeat(np.arange(rows), counts.sum(axis=1))
    item_index = np.repeat(np.tile(np.arange(items), rows), counts.ravel())
    weights = per_replica[row_index, item_index].reshape(rows, width)
    ids = experts[row_index, item_index].reshape(rows, width)
    return weights, ids


def pack_rows(weights: np.ndarray, experts: np.ndarray, *, devices: int, slots: int) -> np.ndarray:
    """Device (``0..devices-1``) of each replica, ``[rows, devices*slots]``; see the module docstring."""
    rows, width = weights.shape
    if slots == 1:  # one replica per device: any order gives the same device loads
        return np.tile(np.arange(width), (rows, 1))
    order = np.lexsort((experts, -weights), axis=1)
    sorted_w = np.take_along_axis(weights, order, axis=1)
    sorted_e = np.take_along_axis(experts, order, axis=1)
    load = np.zeros((rows, devices))
    fill = np.zeros((rows, devices), dtype=np.int64)
    last = np.full((rows, devices), -1, dtype=np.int64)  # replicas of one expert are adjacent when sorted
    placed = np.empty((rows, width), dtype=np.int64)
    every_row = np.arange(rows)
    for position in range(width):
        expert = sorted_e[:, position]
        room = fill < slots
        allowed = room & (last != expert[:, None])
        allowed = np.where(allowed.any(axis=1)[:, None], allowed, room)
        device = np.where(allowed, load, np.inf).argmin(axis=1)
        placed[:, position] = device
        load[every_row, device] += sorted_w[:, position]
        fill[every_row, device] += 1
        last[every_row, device] = expert
    device_of = np.empty_like(placed)
    np.put_along_axis(device_of, order, placed, axis=1)
    members = np.argsort(device_of, axis=1, kind="stable").reshape(rows, devices, slots)
    _refine_by_swaps(weights, experts, members)
    for device in range(devices):
        np.put_along_axis(device_of, members[:, device, :], device, axis=1)
    return device_of


def _refine_by_swaps(weights: np.ndarray, experts: np.ndarray, members: np.ndarray) -> None:
    """Swap a replica of each row's most loaded device with a lighter one of its least loaded device
    while that lowers the larger of the two loads; ``members [rows, devices, slots]`` (replica
    indices per device) is updated in place."""
    active = np.arange(weights.shape[0])
    slots = members.shape[2]
    for _ in range(SWAP_ROUNDS):
        if active.size == 0:
            return
        items = members[active]
        w = np.take_along_axis(weights[active], items.reshape(active.size, -1), axis=1).reshape(items.shape)
        load = w.sum(axis=2)
        index = np.arange(active.size)
        hot, cold = load.argmax(axis=1), load.argmin(axis=1)
        w_hot, w_cold = w[index, hot], w[index, cold]  # [n, slots]
        e_hot = np.take_along_axis(experts[active], items[index, hot], axis=1)
        e_cold = np.take_along_axis(experts[active], items[index, cold], axis=1)
        clash = (e_hot[:, :, None, None] == e_cold[:, None, None, :]).any(axis=3) | \
            (e_cold[:, None, :, None] == e_hot[:, None, None, :]).any(axis=3)  # [n, slots, slots]
        shift = w_hot[:, :, None] - w_cold[:, None, :]
        worst = np.maximum(load[index, hot][:, None, None] - shift, load[index, cold][:, None, None] + shift)
        worst = np.where((shift > 0) & ~clash, worst, np.inf).reshape(active.size, -1)
        flat = worst.argmin(axis=1)
        improves = worst[index, flat] < load[index, hot] * (1 - 1e-12)
        if not improves.any():
            return
        pick = np.flatnonzero(improves)
        rows = active[pick]
        hot_slot, cold_slot = flat[pick] // slots, flat[pick] % slots
        hot_item = members[rows, hot[pick], hot_slot]
        members[rows, hot[pick], hot_slot] = members[rows, cold[pick], cold_slot]
        members[rows, cold[pick], cold_slot] = hot_item
        active = rows
