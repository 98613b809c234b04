"""Suanli's MoE expert placement: balance close to a global plan, groups on few nodes, fast.

:func:`place_experts` plans every layer with one of three strategies:

- *grouped* (:mod:`.grouped`): whole groups on nodes (like EPLB's hierarchical policy), but the
  group-to-node assignment is searched for the fewest transfers, and a few transfers of one
  group's experts between nodes remove the node imbalance that whole groups leave; each node then
  replicates its own hot experts and packs them onto its devices with swap refinement.
- *chunked* (:mod:`.chunked`): global replica counts (minimal largest load per replica) and each
  group laid out on a contiguous run of nodes, ending on node boundaries where possible. Always
  applicable; the only one when groups cannot sit whole on nodes (decode with one slot per device).
- *spread* (:func:`.chunked.place_spread`): global replica counts packed over all devices at
  once, like EPLB's global policy, then devices grouped onto nodes by their main group. The
  fallback for extreme skew.

The first applicable of grouped / chunked is kept for a layer unless its device max/mean exceeds
the layer's lower bound (the larger of 1 and the global water-filled load per replica over the
mean) by more than :data:`SUSPECT_EXCESS`; then all three are compared and, among those within
``2 * tolerance`` of the best balance, the one with the smallest mean group span wins. Finally a
device holding two replicas of one expert (a corner case of tiny shapes) swaps one of them away.

With a ``current`` placement the new plan's nodes and devices are relabelled to keep as many
replicas where they are as possible; with ``max_moves`` as well, only that many replica copies
per layer are made, best balance gain first (:mod:`.incremental`).
"""

from __future__ import annotations

import time

import numpy as np

from controlplane.domain.errors import InvalidInputError
from controlplane.placement.experts.chunked import global_counts, place_chunked, place_spread
from controlplane.placement.experts.grouped import applicable, place_grouped
from controlplane.placement.experts.incremental import align, migrate
from controlplane.placement.experts.metrics import device_loads, group_spans, layer_metrics, to_array, to_lists
from controlplane.placement.experts.model import (
    ClusterShape,
    Devices,
    ExpertPlan,
    LayerPlacement,
    as_loads,
    validate_placement,
)

DEFAULT_TOLERANCE = 0.005
"""Relative node-load deviation accepted before a transfer costs a group another node."""

SUSPECT_EXCESS = 0.03
"""A grouped layer whose device max/mean exceeds its lower bound by more than this is re-planned
with the chunked strategy for comparison."""


def place_experts(loads: np.ndarray | list[list[float]], *, nodes: int, devices_per_node: int,
                  slots_per_device: int, groups: int, current: list[Devices] | None = None,
                  max_moves: int | None = None, tolerance: float = DEFAULT_TOLERANCE) -> ExpertPlan:
    """Place the experts of every layer; see the module docstring.

    ``loads``: ``[layers, experts]`` tokens per expert. ``current``: per layer, the expert ids on
    each device (as returned in :attr:`LayerPlacement.devices`). ``max_moves``: replica copies
    allowed per layer (needs ``current``). ``tolerance``: node-load deviation traded for span.
    Raises :class:`InvalidInputError` naming the offending field.
    """
    weights = as_loads(loads)
    layers, experts = weights.shape
    shape = ClusterShape(nodes=nodes, devices_per_node=devices_per_node, slots_per_device=slots_per_device,
                         groups=groups)
    shape.validate(experts)
    if not 0 <= tolerance < 1:
        raise InvalidInputError(f"must be in [0, 1), got {tolerance}", field="tolerance",
                                hint="a relative node-load deviation such as 0.005")
    if max_moves is not None and (max_moves < 0 or current is None):
        raise InvalidInputError("needs a current placement and a non-negative count", field="max_moves",
                                hint="pass --current PLAN.json with --max-moves M (M >= 0)")
    current_array = None
    if current is not None:
        validate_placement(current, layers=layers, experts=experts, shape=shape, field="current")
        current_array = to_array(current, slots_per_device)

    started = time.perf_counter()
    array, notes = _plan(weights, shape, tolerance)
    _separate_duplicates(weights, array, shape)
    if current_array is not None:
        array = align(array, current_array, shape, experts)
        if max_moves is not None:
            array = migrate(weights, current_array, array, max_moves, shape)
            notes.append(f"incremental: at most {max_moves} replica copies per layer")
    seconds = time.perf_counter() - started
    metrics = layer_metrics(weights, array, shape, current_array)
    placements = [LayerPlacement(devices=devices, metrics=metric)
                  for devices, metric in zip(to_lists(array), metrics, strict=True)]
    return ExpertPlan(shape=shape, layers=placements, algorithm="suanli", seconds=seconds, notes=notes)


def _plan(weights: np.ndarray, shape: ClusterShape, tolerance: float) -> tuple[np.ndarray, list[str]]:
    """Per layer, the candidate with the fewest nodes per group among those balanced within
    ``2 * tolerance`` of the best, and notes saying where a fallback was used."""
    experts = weights.shape[1]
    notes: list[str] = []
    grouped = applicable(shape, experts)
    counts: np.ndarray | None = None
    first: np.ndarray | None = None
    if grouped:
        try:
            first = place_grouped(weights, shape, tolerance=tolerance)
        except ValueError:  # some node cannot hold its units
            notes.append("grouped placement did not fit; chunked used")
            grouped = False
    if first is None:
        counts = global_counts(weights, shape)
        first = place_chunked(weights, shape, counts)
    ratio = _device_ratio(weights, first)
    suspect = np.flatnonzero(ratio > 1 + SUSPECT_EXCESS)
    if suspect.size:
        counts = global_counts(weights, shape) if counts is None else counts
        suspect = suspect[ratio[suspect] > _lower_bound(weights[suspect], counts[suspect], shape) + SUSPECT_EXCESS]
    if suspect.size == 0:
        return first, notes
    assert counts is not None
    subset, subset_counts = weights[suspect], counts[suspect]
    candidates = [first[suspect], place_chunked(subset, shape, subset_counts),
                  place_spread(subset, shape, subset_counts)]
    names = ["grouped" if grouped else "chunked", "chunked", "spread"]
    ratios = np.stack([_device_ratio(subset, c) for c in candidates])  # [candidates, suspects]
    spans = np.stack([group_spans(c, shape, experts).mean(axis=1) for c in candidates])
    acceptable = ratios <= ratios.min(axis=0) + 2 * tolerance
    choice = np.where(acceptable, spans, np.inf).argmin(axis=0)
    for index, name in enumerate(names):
        picked = suspect[choice == index]
        first[picked] = candidates[index][choice == index]
        if index and picked.size:
            notes.append(f"{name} for layers {picked.tolist()} (better balance under this skew)")
    return first, notes


def _separate_duplicates(weights: np.ndarray, array: np.ndarray, shape: ClusterShape) -> None:
    """Where a device holds two replicas of one expert (possible only in corner cases, e.g. a node
    with more slots than its devices times the experts it hosts), swap one of them with the replica
    of most similar load elsewhere (same node first) that creates no new duplicate. In place."""
    per_device = np.sort(array, axis=2)
    layers_with = np.flatnonzero((per_device[:, :, 1:] == per_device[:, :, :-1]).any(axis=(1, 2)))
    experts = weights.shape[1]
    for layer in layers_with.tolist():
        placed = array[layer]
        counts = np.bincount(placed.ravel(), minlength=experts)
        share = weights[layer] / np.maximum(counts, 1)
        node = np.arange(shape.devices) // shape.devices_per_node
        for device in range(shape.devices):
            for slot in range(shape.slots_per_device):
                expert = int(placed[device, slot])
                if np.count_nonzero(placed[device] == expert) < 2:
                    continue
                other = placed  # [devices, slots]: a swap partner must not clash either way
                hosts_expert = (other == expert).any(axis=1)
                partner_on_device = (other[:, :, None] == placed[device][None, None, :]).any(axis=2)
                usable = ~hosts_expert[:, None] & ~partner_on_device
                usable[device] = False
                if not usable.any():
                    continue
                cost = np.where(usable, np.abs(share[other] - share[expert]), np.inf)
                cost = cost + (node != node[device])[:, None] * (np.abs(cost).max(where=usable, initial=0) + 1)
                target_device, target_slot = np.unravel_index(int(np.argmin(cost)), cost.shape)
                placed[device, slot], placed[target_device, target_slot] = placed[target_device, target_slot], expert


def _device_ratio(weights: np.ndarray, array: np.ndarray) -> np.ndarray:
    load = device_loads(weights, array)
    mean = load.mean(axis=1)
    return load.max(axis=1) / np.where(mean > 0, mean, 1.0)


def _lower_bound(weights: np.ndarray, counts: np.ndarray, shape: ClusterShape) -> np.ndarray:
    """Per layer, a lower bound on any placement's device max/mean: 1, or the smallest possible
    largest load per replica (from water-filled ``counts``) over the mean device load."""
    per_replica = (weights / counts).max(axis=1)
    mean = weights.sum(axis=1) / shape.devices
    return np.maximum(1.0, per_replica / np.where(mean > 0, mean, 1.0))
