"""The metrics every plan reports, checked on placements small enough to compute by hand."""

from __future__ import annotations

import numpy as np
import pytest

from controlplane.placement.experts import ClusterShape, metrics

# 2 nodes x 2 devices x 2 slots; 4 experts in 2 groups ({0, 1} and {2, 3}).
SHAPE = ClusterShape(nodes=2, devices_per_node=2, slots_per_device=2, groups=2)
LOADS = np.array([[40.0, 20.0, 10.0, 10.0]])


def test_an_experts_tokens_are_split_evenly_across_its_replicas() -> None:
    # Every expert has two replicas: 20, 10, 5 and 5 tokens per replica.
    devices = [[0, 2], [1, 3], [0, 3], [1, 2]]
    # Device loads: 20+5, 10+5, 20+5, 10+5; nodes: 40 and 40.
    (m,) = metrics(LOADS, [devices], SHAPE)
    assert m.device_max_over_mean == pytest.approx(25 / 20)
    assert m.node_max_over_mean == pytest.approx(1.0)
    assert m.replicas_max == 2


def test_group_span_counts_distinct_nodes_hosting_any_expert_of_the_group() -> None:
    devices = [[0, 1], [0, 1], [2, 3], [2, 3]]  # group 0 only on node 0, group 1 only on node 1
    (m,) = metrics(LOADS, [devices], SHAPE)
    assert m.mean_group_span == 1.0
    assert m.max_group_span == 1
    spread = [[0, 2], [1, 3], [0, 2], [1, 3]]  # both groups on both nodes
    (m,) = metrics(LOADS, [spread], SHAPE)
    assert m.mean_group_span == 2.0


def test_node_load_is_the_sum_of_its_devices() -> None:
    devices = [[0, 1], [0, 1], [2, 3], [2, 3]]  # node 0: 60 tokens, node 1: 20 tokens
    (m,) = metrics(LOADS, [devices], SHAPE)
    assert m.node_max_over_mean == pytest.approx(60 / 40)
    assert m.device_max_over_mean == pytest.approx(30 / 20)


def test_moves_count_replicas_copied_onto_devices_and_ignore_slot_order() -> None:
    current = [[0, 1], [0, 1], [2, 3], [2, 3]]
    same_but_reordered = [[1, 0], [0, 1], [3, 2], [2, 3]]
    (m,) = metrics(LOADS, [same_but_reordered], SHAPE, current=[current])
    assert m.experts_moved == 0
    one_overwrite = [[0, 3], [0, 1], [2, 3], [2, 3]]  # device 0: replica of 1 replaced by one of 3
    (m,) = metrics(LOADS, [one_overwrite], SHAPE, current=[current])
    assert m.experts_moved == 1


def test_metrics_are_absent_for_moves_without_a_current_placement() -> None:
    (m,) = metrics(LOADS, [[[0, 1], [0, 1], [2, 3], [2, 3]]], SHAPE)
    assert m.experts_moved is None
