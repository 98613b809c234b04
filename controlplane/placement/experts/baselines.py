"""Baselines for MoE expert placement, written from their public descriptions (no code copied).

- :func:`greedy_no_replication`: no redundant experts; experts sorted by load, each put on the
  least-loaded device that still has a free slot (longest-processing-time-first). Slots beyond the
  expert count stay empty.
- :func:`eplb_hierarchical` / :func:`eplb_global` / :func:`eplb`: DeepSeek's Expert Parallelism
  Load Balancer (github.com/deepseek-ai/EPLB, README "Hierarchical Load Balancing" and "Global
  Load Balancing"). Hierarchical: pack whole expert groups onto nodes so node loads are balanced
  (every node gets the same number of groups), replicate the hottest experts within each node
  (every node gets the same number of slots; each extra replica goes to the expert with the
  highest load per replica), then pack the node's replicas onto its devices (every device gets
  the same number of replicas; heaviest first, onto the lightest device with room). Global: the
  same with one node and one group, i.e. replicate over all slots and pack onto all devices.
  ``eplb`` dispatches like EPLB itself: hierarchical when the node count divides the group
  count, global otherwise. Like the original, packing does not keep two replicas of one expert
  off the same device.
"""

from __future__ import annotations

import time

import numpy as np

from controlplane.domain.errors import InvalidInputError
from controlplane.placement.experts.metrics import EMPTY, layer_metrics, to_lists
from controlplane.placement.experts.model import ClusterShape, ExpertPlan, LayerPlacement, as_loads


def greedy_no_replication(loads: np.ndarray, *, nodes: int, devices_per_node: int, slots_per_device: int,
                          groups: int) -> ExpertPlan:
    """One replica per expert, heaviest first onto the lightest device with a free slot."""
    weights, shape = _prepare(loads, nodes, devices_per_node, slots_per_device, groups)
    started = time.perf_counter()
    layers = weights.shape[0]
    array = np.full((layers, shape.devices, slots_per_device), EMPTY, dtype=np.int64)
    for layer in range(layers):
        device_load = [0.0] * shape.devices
        used = [0] * shape.devices
        for expert in np.argsort(-weights[layer], kind="stable").tolist():
            device = min((d for d in range(shape.devices) if used[d] < slots_per_device),
                         key=device_load.__getitem__)
            array[layer, device, used[device]] = expert
            used[device] += 1
            device_load[device] += float(weights[layer, expert])
    return _plan(weights, array, shape, "greedy-no-replication", started)


def eplb_hierarchical(loads: np.ndarray, *, nodes: int, devices_per_node: int, slots_per_device: int,
                      groups: int) -> ExpertPlan:
    """EPLB's hierarchical policy; needs ``groups`` divisible by ``nodes``."""
    weights, shape = _prepare(loads, nodes, devices_per_node, slots_per_device, groups)
    if groups % nodes:
        raise InvalidInputError(f"EPLB's hierarchical policy needs the group count ({groups}) to be a multiple "
                                f"of the node count ({nodes})", field="groups", hint="use eplb_global")
    if shape.slots_per_node < weights.shape[1] // nodes:
        raise InvalidInputError("a node's slots cannot hold its share of the experts", field="slots_per_device",
                                hint="use eplb_global")
    started = time.perf_counter()
    array = _hierarchical(weights, shape, groups=groups, nodes=nodes)
    return _plan(weights, array, shape, "eplb-hierarchical", started)


def eplb_global(loads: np.ndarray, *, nodes: int, devices_per_node: int, slots_per_device: int,
                groups: int) -> ExpertPlan:
    """EPLB's global policy: replicate and pack ignoring nodes and groups."""
    weights, shape = _prepare(loads, nodes, devices_per_node, slots_per_device, groups)
    started = time.perf_counter()
    array = _hierarchical(weights, shape, groups=1, nodes=1)
    return _plan(weights, array, shape, "eplb-global", started)


def eplb(loads: np.ndarray, *, nodes: int, devices_per_node: int, slots_per_device: int, groups: int) -> ExpertPlan:
    """EPLB as shipped: hierarchical when nodes divide groups, global otherwise."""
    weights, shape = _prepare(loads, nodes, devices_per_node, slots_per_device, groups)
    if groups % nodes == 0 and shape.slots_per_node >= weights.shape[1] // nodes:
        return eplb_hierarchical(weights, nodes=nodes, devices_per_node=devices_per_node,
                                 slots_per_device=slots_per_device, groups=groups)
    return eplb_global(weights, nodes=nodes, devices_per_node=devices_per_node,
                       slots_per_device=slots_per_device, groups=groups)


def _prepare(loads: np.ndarray, nodes: int, devices_per_node: int, slots_per_device: int,
             groups: int) -> tuple[np.ndarray, ClusterShape]:
    weights = as_loads(loads)
    shape = ClusterShape(nodes=nodes, devices_per_node=devices_per_node, slots_per_device=slots_per_device,
                         groups=groups)
    shape.validate(weights.shape[1])
    return weights, shape


def _plan(weights: np.ndarray, array: np.ndarray, shape: ClusterShape, name: str, started: float) -> ExpertPlan:
    seconds = time.perf_counter() - started
    layers = [LayerPlacement(devices=devices, metrics=metric)
              for devices, metric in zip(to_lists(array), layer_metrics(weights, array, shape), strict=True)]
    return ExpertPlan(shape=shape, layers=layers, algorithm=name, seconds=seconds)


def _hierarchical(weights: np.ndarray, shape: ClusterShape, *, groups: int, nodes: int) -> np.ndarray:
    """The three EPLB steps; ``groups=1, nodes=1`` is the global policy."""
    layers, experts = weights.shape
    group_size = experts // groups
    devices_per_pack = shape.devices // nodes
    slots_per_pack = shape.slots // nodes
    experts_per_pack = experts // nodes
    # Step 1: whole groups onto nodes, the same number of groups per node.
    group_loads = weights.reshape(layers, groups, group_size).sum(axis=2)
    group_node = _balanced_packing(group_loads, nodes)
    # The experts of each node, in node order: [layers, nodes, experts_per_pack].
    node_experts = np.empty((layers, nodes, experts_per_pack), dtype=np.int64)
    for layer in range(layers):
        for node in range(nodes):
            members = np.flatnonzero(group_node[layer] == node)
            node_experts[layer, node] = (members[:, None] * group_size + np.arange(group_size)).ravel()
    rows = node_experts.reshape(layers * nodes, experts_per_pack)
    row_loads = np.take_along_axis(np.repeat(weights, nodes, axis=0), rows, axis=1)
    # Step 2: replicate within each node.
    replica_of, counts = _replicate(row_loads, slots_per_pack)
    replica_loads = np.take_along_axis(row_loads / counts, replica_of, axis=1)
    # Step 3: replicas onto the node's devices, the same number per device.
    replica_device = _balanced_packing(replica_loads, devices_per_pack)
    array = np.empty((layers * nodes, devices_per_pack, shape.slots_per_device), dtype=np.int64)
    fill = np.zeros((layers * nodes, devices_per_pack), dtype=np.int64)
    for row in range(layers * nodes):
        for replica, device in enumerate(replica_device[row].tolist()):
            array[row, device, fill[row, device]] = rows[row, replica_of[row, replica]]
            fill[row, device] += 1
    return array.reshape(layers, shape.devices, shape.slots_per_device)


def _replicate(row_loads: np.ndarray, slots: int) -> tuple[np.ndarray, np.ndarray]:
    """One replica each, then each extra slot to the item with the highest load per replica.
    Returns the item of each replica ``[rows, slots]`` and the replica counts ``[rows, items]``."""
    rows, items = row_loads.shape
    counts = np.ones((rows, items), dtype=np.int64)
    replica_of = np.empty((rows, slots), dtype=np.int64)
    replica_of[:, :items] = np.arange(items)
    every_row = np.arange(rows)
    for slot in range(items, slots):
        hottest = np.argmax(row_loads / counts, axis=1)
        replica_of[:, slot] = hottest
        counts[every_row, hottest] += 1
    return replica_of, counts


def _balanced_packing(item_loads: np.ndarray, packs: int) -> np.ndarray:
    """Items (per row) into ``packs`` packs of equal item count: heaviest first onto the lightest
    pack that still has room. Returns the pack of each item."""
    rows, items = item_loads.shape
    per_pack = items // packs
    if per_pack == 1:
        return np.tile(np.arange(items), (rows, 1))
    result = np.empty((rows, items), dtype=np.int64)
    for row in range(rows):
        pack_load = [0.0] * packs
        pack_size = [0] * packs
        loads_row = item_loads[row].tolist()
        for item in np.argsort(-item_loads[row], kind="stable").tolist():
            pack = min((p for p in range(packs) if pack_size[p] < per_pack), key=pack_load.__getitem__)
            result[row, item] = pack
            pack_load[pack] += loads_row[item]
            pack_size[pack] += 1
    return result
