"""Moving from a current placement towards a new one: relabelling, and budgeted migration.

- :func:`align`: node and device numbers of a fresh plan are arbitrary, so before counting moves
  the plan's nodes are matched to the current nodes (greedily, most shared replicas first) and
  then, within each matched node, its devices to the current devices. Metrics do not change.
- :func:`migrate`: with a budget of ``max_moves`` replica copies per layer, start from the current
  placement and apply, one at a time, the slot overwrite ("on device d, replace a replica of x by
  one of y") that improves balance most: lowest device maximum first, then lowest sum of squared
  device loads. Candidates are the steps towards the aligned target plan plus local moves around
  the most loaded device (another replica of its heaviest expert on a cool device; one of its
  replicas swapped for a light expert). A move is only taken if it lowers one
  of them without raising the maximum, so the result is never less balanced than the current
  placement; an expert's last replica is never overwritten; a device never gets a second replica
  of an expert it already hosts.
"""

from __future__ import annotations

import numpy as np

from controlplane.placement.experts.model import ClusterShape


def align(target: np.ndarray, current: np.ndarray, shape: ClusterShape, experts: int) -> np.ndarray:
    """``target [layers, devices, slots]`` relabelled to share the most replicas with ``current``."""
    result = np.empty_like(target)
    per_node = shape.devices_per_node
    for layer in range(target.shape[0]):
        new_nodes = target[layer].reshape(shape.nodes, per_node * shape.slots_per_device)
        old_nodes = current[layer].reshape(shape.nodes, per_node * shape.slots_per_device)
        node_match = _match(_histograms(new_nodes, experts), _histograms(old_nodes, experts))
        for new_node, old_node in enumerate(node_match):
            new_devices = target[layer, new_node * per_node:(new_node + 1) * per_node]
            old_devices = current[layer, old_node * per_node:(old_node + 1) * per_node]
            device_match = _match(_histograms(new_devices, experts), _histograms(old_devices, experts))
            for new_device, old_device in enumerate(device_match):
                result[layer, old_node * per_node + old_device] = new_devices[new_device]
    return result


def _histograms(rows: np.ndarray, experts: int) -> np.ndarray:
    """Replicas of each expert per row: ``[rows, experts]``."""
    count = rows.shape[0]
    offsets = np.arange(count)[:, None] * experts
    return np.bincount((rows + offsets).ravel(), minlength=count * experts).reshape(count, experts)


def _match(new: np.ndarray, old: np.ndarray) -> list[int]:
    """Greedy one-to-one matching of new rows to old rows by shared replicas (largest first)."""
    overlap = np.minimum(new[:, None, :], old[None, :, :]).sum(axis=2)
    size = overlap.shape[0]
    order = np.lexsort((np.arange(size * size), -overlap.ravel()))
    match = [-1] * size
    taken = [False] * size
    left = size
    for flat in order.tolist():
        row, col = divmod(flat, size)
        if match[row] < 0 and not taken[col]:
            match[row], taken[col] = col, True
            left -= 1
            if left == 0:
                break
    return match


def migrate(loads: np.ndarray, current: np.ndarray, target: np.ndarray, max_moves: int,
            shape: ClusterShape) -> np.ndarray:
    """Budgeted walk from ``current`` towards the (aligned) ``target``; see the module docstring."""
    result = current.copy()
    group = shape.group_of(loads.shape[1])
    for layer in range(current.shape[0]):
        result[layer] = _migrate_layer(loads[layer], current[layer], target[layer], max_moves, group,
                                       shape.devices_per_node)
    return result


def _migrate_layer(loads: np.ndarray, current: np.ndarray, target: np.ndarray, budget: int, group: np.ndarray,
                   per_node: int) -> np.ndarray:
    devices = current.shape[0]
    experts = loads.size
    placed = current.copy()
    hosted = _histograms(placed, experts)  # [devices, experts]
    group_onehot = np.eye(int(group.max()) + 1, dtype=np.int64)[group]  # [experts, groups]
    resolution = PEAK_RESOLUTION * max(float(loads.sum()) / devices, 1e-300)
    differing = np.flatnonzero((np.sort(placed, axis=1) != np.sort(target, axis=1)).any(axis=1))
    steps = {int(d): _steps_on_device(placed[d], target[d]) for d in differing}
    for _ in range(budget):
        counts = hosted.sum(axis=0)
        per_replica = loads / np.maximum(counts, 1)
        device_load = hosted @ per_replica
        device, old, new = _candidates(placed, hosted, steps, per_replica, device_load, counts)
        usable = (counts[old] >= 2) & (hosted[device, new] == 0) & (old != new)
        if not usable.any():
            break
        device, old, new = device[usable], old[usable], new[usable]
        loads_after = _loads_after(hosted, loads, counts, device_load, device, old, new)
        peak = loads_after.max(axis=1)
        spread = (loads_after**2).sum(axis=1)
        node_groups = (hosted.reshape(-1, per_node, experts).sum(axis=1) @ group_onehot)  # [nodes, groups]
        node = device // per_node
        span_change = (node_groups[node, group[new]] == 0).astype(np.int64) \
            - ((node_groups[node, group[old]] == 1) & (group[old] != group[new])).astype(np.int64)
        best = int(np.lexsort((spread, span_change, np.floor(peak / resolution)))[0])
        now_peak, now_spread = device_load.max(), float((device_load**2).sum())
        tiny = 1e-12 * max(now_peak, 1.0)
        if peak[best] > now_peak + tiny or (peak[best] >= now_peak - tiny and spread[best] >= now_spread * (1 - 1e-12)):
            break
        d, x, y = int(device[best]), int(old[best]), int(new[best])
        slot = int(np.flatnonzero(placed[d] == x)[0])
        placed[d, slot] = y
        hosted[d, x] -= 1
        hosted[d, y] += 1
        steps[d] = _steps_on_device(placed[d], target[d])
    return placed


def _steps_on_device(placed: np.ndarray, target: np.ndarray) -> list[tuple[int, int]]:
    """(old, new) overwrites that bring one device's replicas closer to its target."""
    surplus = list(placed.tolist())
    missing: list[int] = []
    for expert in target.tolist():
        if expert in surplus:
            surplus.remove(expert)
        else:
            missing.append(expert)
    return [(old, new) for old in dict.fromkeys(surplus) for new in dict.fromkeys(missing)]


NEIGHBOURS = 16
"""How many of the lightest experts the local moves consider."""

PEAK_RESOLUTION = 1e-3
"""Device maxima closer than this fraction of the mean device load count as equal, so the move
that adds fewer nodes to a group's span wins among them."""


def _candidates(placed: np.ndarray, hosted: np.ndarray, steps: dict[int, list[tuple[int, int]]],
                per_replica: np.ndarray, device_load: np.ndarray,
                counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Slot overwrites (device, old expert, new expert) worth evaluating: every step towards the
    target, plus local moves around the most loaded device: a replica of its heaviest expert over
    any redundant replica elsewhere, and one of its replicas replaced by a light expert."""
    toward = [(d, old, new) for d, pairs in steps.items() for old, new in pairs]
    table = np.array(toward, dtype=np.int64).reshape(-1, 3)
    devices, olds, news = [table[:, 0]], [table[:, 1]], [table[:, 2]]
    hot = int(np.argmax(device_load))
    on_hot = np.flatnonzero(hosted[hot])
    heaviest = int(on_hot[np.argmax(per_replica[on_hot])])
    spare_device, spare_slot = np.nonzero(counts[placed] >= 2)
    devices.append(spare_device)
    olds.append(placed[spare_device, spare_slot])
    news.append(np.full(spare_device.size, heaviest))
    light = np.argsort(per_replica, kind="stable")[:NEIGHBOURS]
    devices.append(np.full(on_hot.size * light.size, hot))
    olds.append(np.repeat(on_hot, light.size))
    news.append(np.tile(light, on_hot.size))
    return np.concatenate(devices), np.concatenate(olds), np.concatenate(news)


def _loads_after(hosted: np.ndarray, loads: np.ndarray, counts: np.ndarray, device_load: np.ndarray,
                 device: np.ndarray, old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Device loads ``[candidates, devices]`` after each candidate overwrite."""
    moves = device.size
    rows = np.arange(moves)
    old_share = loads[old] / counts[old]
    new_share = loads[new] / counts[new]
    old_after = loads[old] / (counts[old] - 1)
    new_after = loads[new] / (counts[new] + 1)
    by_expert = hosted.T.astype(np.float64)  # [experts, devices]: row gathers are contiguous
    hosts_old = by_expert[old]  # [candidates, devices]
    hosts_new = by_expert[new]
    result = device_load[None, :] - hosts_old * old_share[:, None] - hosts_new * new_share[:, None]
    hosts_old[rows, device] -= 1
    hosts_new[rows, device] += 1
    return result + hosts_old * old_after[:, None] + hosts_new * new_after[:, None]
