"""Re-planning from a current placement: relabelled to keep replicas in place, or a budgeted
migration that never copies more than ``max_moves`` replicas per layer and never loses balance."""

from __future__ import annotations

import numpy as np
import pytest

from controlplane.domain.errors import InvalidInputError
from controlplane.placement.experts import eplb_hierarchical, place_experts
from tests.unit.placement.experts.expert_factories import DECODE, PREFILL, Shape


@pytest.fixture(scope="module")
def drifted(dsv3_loads: np.ndarray) -> np.ndarray:
    """The loads some time later: every expert's share drifts by a lognormal factor."""
    return dsv3_loads * np.random.default_rng(3).lognormal(0.0, 0.3, dsv3_loads.shape)


@pytest.mark.parametrize("shape", [PREFILL, DECODE], ids=["prefill", "decode"])
@pytest.mark.parametrize("budget", [0, 1, 4, 16])
def test_migration_copies_at_most_max_moves_replicas_per_layer(dsv3_loads: np.ndarray, drifted: np.ndarray,
                                                               shape: Shape, budget: int) -> None:
    current = place_experts(dsv3_loads, **shape).devices()
    plan = place_experts(drifted, **shape, current=current, max_moves=budget)
    assert all(layer.metrics.experts_moved is not None for layer in plan.layers)
    assert all(layer.metrics.experts_moved <= budget for layer in plan.layers)  # type: ignore[operator]


@pytest.mark.parametrize("shape", [PREFILL, DECODE], ids=["prefill", "decode"])
def test_migration_never_worsens_balance_and_improves_a_stale_placement(dsv3_loads: np.ndarray,
                                                                        drifted: np.ndarray,
                                                                        shape: Shape) -> None:
    current = place_experts(dsv3_loads, **shape).devices()
    stale = place_experts(drifted, **shape, current=current, max_moves=0)
    moved = place_experts(drifted, **shape, current=current, max_moves=8)
    for before, after in zip(stale.layers, moved.layers, strict=True):
        assert after.metrics.device_max_over_mean <= before.metrics.device_max_over_mean + 1e-12
    assert moved.summary()["device_max_over_mean"] < stale.summary()["device_max_over_mean"]


def test_a_zero_budget_keeps_the_current_placement(dsv3_loads: np.ndarray, drifted: np.ndarray) -> None:
    current = place_experts(dsv3_loads, **PREFILL).devices()
    plan = place_experts(drifted, **PREFILL, current=current, max_moves=0)
    assert [[sorted(d) for d in layer] for layer in plan.devices()] == [[sorted(d) for d in layer] for layer in current]


def test_migration_from_an_eplb_plan_keeps_every_slot_filled(dsv3_loads: np.ndarray) -> None:
    current = eplb_hierarchical(dsv3_loads, **PREFILL).devices()
    plan = place_experts(dsv3_loads, **PREFILL, current=current, max_moves=6)
    for layer in plan.layers:
        assert all(len(device) == PREFILL["slots_per_device"] for device in layer.devices)
        assert {e for device in layer.devices for e in device} == set(range(256))


def test_a_full_replan_is_relabelled_to_keep_replicas_where_they_are(dsv3_loads: np.ndarray) -> None:
    plan = place_experts(dsv3_loads, **PREFILL)
    # The same plan with its nodes listed in reverse order: relabelling recovers it, nothing moves.
    per_node = PREFILL["devices_per_node"]
    shuffled = [[d for node in reversed(range(PREFILL["nodes"])) for d in layer[node * per_node:(node + 1) * per_node]]
                for layer in plan.devices()]
    again = place_experts(dsv3_loads, **PREFILL, current=shuffled)
    assert all(layer.metrics.experts_moved == 0 for layer in again.layers)


def test_max_moves_needs_a_current_placement(dsv3_loads: np.ndarray) -> None:
    with pytest.raises(InvalidInputError) as error:
        place_experts(dsv3_loads, **PREFILL, max_moves=4)
    assert error.value.field == "max_moves"


def test_a_current_placement_of_another_shape_is_refused(dsv3_loads: np.ndarray) -> None:
    current = place_experts(dsv3_loads, **PREFILL).devices()
    with pytest.raises(InvalidInputError) as error:
        place_experts(dsv3_loads, **DECODE, current=current)
    assert error.value.field is not None and error.value.field.startswith("current")
