"""Metrics of expert placements, shared by Suanli's planner and every baseline.

A placement is handled here as an integer array ``[layers, devices, slots]`` of expert ids, with
``-1`` marking an empty slot (only the no-replication baseline leaves slots empty). Definitions
(see :mod:`controlplane.placement.experts.model`): an expert's load is split evenly across its
replicas; device and node ratios are max / mean over all devices (nodes); a group's span is the
number of distinct nodes hosting a replica of any of its experts; moves count replicas copied onto
a device relative to the current placement.
"""

from __future__ import annotations

import numpy as np

from controlplane.placement.experts.model import ClusterShape, Devices, ExpertMetrics

EMPTY = -1


def to_array(placements: list[Devices], slots_per_device: int) -> np.ndarray:
    """Ragged per-layer device lists → ``[layers, devices, slots]`` padded with :data:`EMPTY`."""
    layers = len(placements)
    devices = len(placements[0]) if placements else 0
    array = np.full((layers, devices, slots_per_device), EMPTY, dtype=np.int64)
    for layer, devs in enumerate(placements):
        for device, experts in enumerate(devs):
            array[layer, device, : len(experts)] = experts
    return array


def to_lists(array: np.ndarray) -> list[Devices]:
    """``[layers, devices, slots]`` → per-layer device lists (empty slots dropped, ids sorted)."""
    return [[sorted(int(e) for e in device if e != EMPTY) for device in layer] for layer in array]


def replica_counts(array: np.ndarray, experts: int) -> np.ndarray:
    """Replicas of each expert per layer: ``[layers, experts]``."""
    layers = array.shape[0]
    flat = array.reshape(layers, -1)
    valid = flat != EMPTY
    offsets = np.arange(layers)[:, None] * experts
    return np.bincount((flat + offsets)[valid], minlength=layers * experts).reshape(layers, experts)


def device_loads(loads: np.ndarray, array: np.ndarray) -> np.ndarray:
    """Tokens each device serves, ``[layers, devices]``, with loads split evenly across replicas."""
    layers, experts = loads.shape
    counts = replica_counts(array, experts)
    per_replica = np.where(counts > 0, loads / np.maximum(counts, 1), 0.0)
    per_replica = np.concatenate([per_replica, np.zeros((layers, 1))], axis=1)  # column -1 = empty slot
    index = np.where(array == EMPTY, experts, array)
    return np.take_along_axis(per_replica, index.reshape(layers, -1), axis=1).reshape(array.shape).sum(axis=2)


def group_spans(array: np.ndarray, shape: ClusterShape, experts: int) -> np.ndarray:
    """Nodes spanned by each group, ``[layers, groups]``."""
    layers, devices, _ = array.shape
    group = np.append(shape.group_of(experts), -1)
    index = np.where(array == EMPTY, experts, array)
    slot_group = group[index]  # [layers, devices, slots]
    node = np.broadcast_to((np.arange(devices) // shape.devices_per_node)[None, :, None], array.shape)
    valid = slot_group >= 0
    layer = np.broadcast_to(np.arange(layers)[:, None, None], array.shape)
    present = np.zeros((layers, shape.groups, shape.nodes), dtype=bool)
    present[layer[valid], slot_group[valid], node[valid]] = True
    return present.sum(axis=2)


def moves(new: np.ndarray, current: np.ndarray, experts: int) -> np.ndarray:
    """Replicas copied onto devices to go from ``current`` to ``new``, per layer: ``[layers]``."""
    return (_device_histograms(new, experts) - _device_histograms(current, experts)).clip(min=0).sum(axis=(1, 2))


def _device_histograms(array: np.ndarray, experts: int) -> np.ndarray:
    layers, devices, _ = array.shape
    index = np.where(array == EMPTY, experts, array)
    offsets = (np.arange(layers)[:, None, None] * devices + np.arange(devices)[None, :, None]) * (experts + 1)
    counts = np.bincount((index + offsets).ravel(), minlength=layers * devices * (experts + 1))
    return counts.reshape(layers, devices, experts + 1)[:, :, :experts]


def layer_metrics(loads: np.ndarray, array: np.ndarray, shape: ClusterShape,
                  current: np.ndarray | None = None) -> list[ExpertMetrics]:
    """The metrics of every layer of a placement (``current`` adds the moves)."""
    experts = loads.shape[1]
    dev = device_loads(loads, array)
    node = dev.reshape(dev.shape[0], shape.nodes, shape.devices_per_node).sum(axis=2)
    dev_ratio = _max_over_mean(dev)
    node_ratio = _max_over_mean(node)
    spans = group_spans(array, shape, experts)
    counts = replica_counts(array, experts)
    moved = moves(array, current, experts) if current is not None else None
    return [ExpertMetrics(device_max_over_mean=float(dev_ratio[i]), node_max_over_mean=float(node_ratio[i]),
                          mean_group_span=float(spans[i].mean()), max_group_span=int(spans[i].max()),
                          replicas_max=int(counts[i].max()),
                          experts_moved=None if moved is None else int(moved[i]))
            for i in range(loads.shape[0])]


def metrics(loads: np.ndarray, placements: list[Devices], shape: ClusterShape,
            current: list[Devices] | None = None) -> list[ExpertMetrics]:
    """Public entry point: the metrics of per-layer device lists (ragged lists allowed)."""
    array = to_array(placements, shape.slots_per_device)
    cur = to_array(current, shape.slots_per_device) if current is not None else None
    return layer_metrics(np.asarray(loads, dtype=np.float64), array, shape, cur)


def _max_over_mean(values: np.ndarray) -> np.ndarray:
    mean = values.mean(axis=1)
    return np.where(mean > 0, values.max(axis=1) / np.where(mean > 0, mean, 1.0), 1.0)
