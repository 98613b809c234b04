"""Every plan is a valid placement: all experts hosted, every slot filled once, no pointless
duplicates, and the same input always gives the same plan."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controlplane.placement.experts import ExpertPlan, place_experts
from tests.unit.placement.experts.expert_factories import DECODE, PREFILL, SMALL, Shape, lognormal_loads


def assert_valid(plan: ExpertPlan, experts: int, *, nodes: int, devices_per_node: int, slots_per_device: int,
                 groups: int) -> None:
    for layer in plan.layers:
        assert len(layer.devices) == nodes * devices_per_node
        assert all(len(device) == slots_per_device for device in layer.devices), "every slot holds one replica"
        hosted = {expert for device in layer.devices for expert in device}
        assert hosted == set(range(experts)), "every expert has at least one replica"


def duplicates(plan: ExpertPlan) -> int:
    return sum(len(device) - len(set(device)) for layer in plan.layers for device in layer.devices)


@pytest.mark.parametrize("shape", [PREFILL, DECODE], ids=["prefill", "decode"])
def test_every_expert_is_hosted_and_every_slot_filled_on_deepseek_shapes(dsv3_loads: np.ndarray,
                                                                         shape: Shape) -> None:
    plan = place_experts(dsv3_loads, **shape)
    assert_valid(plan, dsv3_loads.shape[1], **shape)


@pytest.mark.parametrize("shape", [PREFILL, DECODE], ids=["prefill", "decode"])
def test_no_device_hosts_two_replicas_of_one_expert_on_deepseek_shapes(dsv3_loads: np.ndarray,
                                                                       shape: Shape) -> None:
    assert duplicates(place_experts(dsv3_loads, **shape)) == 0


@pytest.mark.parametrize("shape", [PREFILL, DECODE], ids=["prefill", "decode"])
def test_the_same_input_gives_the_same_plan(dsv3_loads: np.ndarray, shape: Shape) -> None:
    first = place_experts(dsv3_loads, **shape)
    second = place_experts(dsv3_loads.copy(), **shape)
    assert first.devices() == second.devices()
    assert [layer.metrics for layer in first.layers] == [layer.metrics for layer in second.layers]


def test_a_dominant_expert_is_replicated_and_still_every_slot_is_filled() -> None:
    loads = np.ones((2, 16))
    loads[:, 3] = 200.0  # one expert carries most tokens
    plan = place_experts(loads, nodes=2, devices_per_node=2, slots_per_device=5, groups=4)
    assert_valid(plan, 16, nodes=2, devices_per_node=2, slots_per_device=5, groups=4)
    assert all(sum(device.count(3) for device in layer.devices) == 4 for layer in plan.layers)
    assert duplicates(plan) == 0


def test_zero_loads_still_place_every_expert() -> None:
    plan = place_experts(np.zeros((1, 8)), **SMALL)
    assert_valid(plan, 8, **SMALL)
    assert plan.layers[0].metrics.device_max_over_mean == 1.0


def test_exactly_as_many_slots_as_experts_means_no_replicas() -> None:
    plan = place_experts(lognormal_loads(2, 12, 0.5, seed=1), **SMALL)
    assert all(sorted(e for d in layer.devices for e in d) == list(range(12)) for layer in plan.layers)


@settings(max_examples=30, deadline=None)
@given(nodes=st.integers(1, 4), devices_per_node=st.integers(1, 4), slots_per_device=st.integers(1, 4),
       groups=st.sampled_from([1, 2, 4]), group_size=st.integers(1, 4), sigma=st.floats(0.0, 2.0),
       seed=st.integers(0, 1000))
def test_any_feasible_shape_gives_a_valid_plan(nodes: int, devices_per_node: int, slots_per_device: int,
                                               groups: int, group_size: int, sigma: float, seed: int) -> None:
    experts = groups * group_size
    shape = Shape(nodes=nodes, devices_per_node=devices_per_node, slots_per_device=slots_per_device, groups=groups)
    if nodes * devices_per_node * slots_per_device < experts:
        return
    loads = lognormal_loads(2, experts, sigma, seed)
    plan = place_experts(loads, **shape)
    assert_valid(plan, experts, **shape)
    for layer in plan.layers:
        # A duplicate is only acceptable when some expert has more replicas than there are devices.
        replicas = max(sum(d.count(e) for d in layer.devices) for e in range(experts))
        if replicas <= nodes * devices_per_node:
            assert all(len(set(d)) == len(d) for d in layer.devices)
