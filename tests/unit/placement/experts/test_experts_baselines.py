"""The baselines behave as their public descriptions say."""

from __future__ import annotations

import numpy as np

from controlplane.placement.experts import eplb, eplb_global, eplb_hierarchical, greedy_no_replication
from tests.unit.placement.experts.expert_factories import DECODE, PREFILL


def test_eplb_hierarchical_keeps_every_group_on_one_node(dsv3_loads: np.ndarray) -> None:
    plan = eplb_hierarchical(dsv3_loads, **PREFILL)
    assert plan.summary()["max_group_span"] == 1
    assert all(len(device) == 9 for layer in plan.layers for device in layer.devices)


def test_eplb_hierarchical_gives_each_node_the_same_number_of_redundant_slots(dsv3_loads: np.ndarray) -> None:
    layer = eplb_hierarchical(dsv3_loads, **PREFILL).layers[0]
    for node in range(4):
        hosted = [e for device in layer.devices[node * 8:(node + 1) * 8] for e in device]
        assert len(hosted) - len(set(hosted)) == 8  # 72 slots, 64 experts


def test_eplb_global_gives_redundant_slots_to_the_highest_load_per_replica(dsv3_loads: np.ndarray) -> None:
    layer = eplb_global(dsv3_loads, **DECODE).layers[0]
    counts = np.bincount([e for device in layer.devices for e in device], minlength=256)
    assert counts.sum() == 320
    per_replica = dsv3_loads[0] / counts
    # Optimal water-filling: no expert with one replica fewer would stay below the current maximum.
    assert (dsv3_loads[0][counts > 1] / (counts[counts > 1] - 1) >= per_replica.max() - 1e-9).all()


def test_eplb_dispatches_like_the_original(dsv3_loads: np.ndarray) -> None:
    assert eplb(dsv3_loads, **PREFILL).algorithm == "eplb-hierarchical"
    assert eplb(dsv3_loads, **DECODE).algorithm == "eplb-global"


def test_greedy_places_each_expert_once_and_leaves_spare_slots_empty(dsv3_loads: np.ndarray) -> None:
    layer = greedy_no_replication(dsv3_loads, **PREFILL).layers[0]
    hosted = [e for device in layer.devices for e in device]
    assert sorted(hosted) == list(range(256))
    assert max(len(device) for device in layer.devices) <= 9
