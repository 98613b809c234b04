"""Inputs that can never work are refused with an error naming the field and the fix."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from controlplane.domain.errors import InvalidInputError
from controlplane.placement.experts import eplb_hierarchical, loads_from_dict, place_experts, plan_from_dict
from controlplane.placement.experts.model import ClusterShape
from tests.unit.placement.experts.expert_factories import PREFILL, SMALL


def refused(call: Any, **kwargs: Any) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as error:
        call(**kwargs)
    assert error.value.hint, "every refusal says how to fix it"
    return error.value


def test_fewer_slots_than_experts_is_refused() -> None:
    error = refused(place_experts, loads=np.ones((1, 16)), nodes=1, devices_per_node=2, slots_per_device=2, groups=4)
    assert error.field == "slots_per_device"
    assert "16 experts" in error.message


def test_experts_not_divisible_into_groups_is_refused() -> None:
    error = refused(place_experts, loads=np.ones((1, 10)), **{**SMALL, "groups": 4})
    assert error.field == "groups"


@pytest.mark.parametrize("name", ["nodes", "devices_per_node", "slots_per_device", "groups"])
def test_non_positive_counts_are_refused(name: str) -> None:
    error = refused(place_experts, loads=np.ones((1, 8)), **{**SMALL, name: 0})
    assert error.field == name


@pytest.mark.parametrize("loads", [[], [[]], [[1.0, 2.0], [1.0]], [[1.0, -2.0]], [[1.0, float("nan")]],
                                   [["a", "b"]], "loads"], ids=["empty", "no-experts", "ragged", "negative",
                                                                "nan", "strings", "not-a-list"])
def test_malformed_loads_are_refused(loads: Any) -> None:
    error = refused(place_experts, loads=loads, **SMALL)
    assert error.field == "loads"


def test_a_loads_document_needs_a_loads_key() -> None:
    assert refused(loads_from_dict, document={"load": [[1.0]]}).field == "loads"
    assert loads_from_dict({"loads": [[1.0, 2.0]]}).shape == (1, 2)


def test_a_negative_tolerance_is_refused() -> None:
    assert refused(place_experts, loads=np.ones((1, 8)), **SMALL, tolerance=-0.1).field == "tolerance"


def test_a_current_plan_missing_an_expert_is_refused() -> None:
    shape = ClusterShape(**SMALL)
    devices = [[0, 1, 2], [3, 4, 5], [6, 0, 1], [2, 3, 4]]  # expert 7 has no replica
    error = refused(plan_from_dict, document={"layers": [{"devices": devices}]}, layers=1, experts=8, shape=shape)
    assert error.field == "current.layers[0].devices"
    assert "[7]" in error.message


@pytest.mark.parametrize("document", [{"layers": "x"}, {"layers": [{"devices": [[0, 1, 2]]}]}, [],
                                      {"layers": [{"devices": [[0, 1], [2, 3], [4, 5], [6, 7]]}]},
                                      {"layers": [{"devices": [[0, 1, 9], [2, 3, 4], [5, 6, 7], [0, 1, 2]]}]}],
                         ids=["not-a-list", "too-few-devices", "not-an-object", "too-few-slots", "unknown-expert"])
def test_a_malformed_current_plan_is_refused(document: Any) -> None:
    error = refused(plan_from_dict, document=document, layers=1, experts=8, shape=ClusterShape(**SMALL))
    assert error.field is not None and error.field.startswith("current")


def test_eplbs_hierarchical_policy_refuses_groups_not_divisible_by_nodes() -> None:
    error = refused(eplb_hierarchical, loads=np.ones((1, 256)), **{**PREFILL, "nodes": 3, "slots_per_device": 11})
    assert error.field == "groups"
