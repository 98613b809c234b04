"""When a job cannot be placed, the failure says why in a code and in words."""

from __future__ import annotations

import pytest

from controlplane.placement import FirstFitPlacer, PlacementFailure, Placer, RoundRobinPlacer, TopologyAwarePlacer
from tests.unit.placement.placement_factories import big_model, cluster, node, occupy, pool, request, small_model

PLACERS = [TopologyAwarePlacer(), FirstFitPlacer(), RoundRobinPlacer()]


def _failure(placer: Placer, *args: object, **kwargs: object) -> PlacementFailure:
    result = placer.place(*args, **kwargs)  # type: ignore[arg-type]
    assert isinstance(result, PlacementFailure), result
    return result


@pytest.mark.parametrize("placer", PLACERS, ids=lambda p: p.name)
def test_not_enough_free_devices(placer: Placer) -> None:
    topology = cluster(pool("h100", nodes=2))
    occupy(topology, {node("h100", 0): [0]})
    failure = _failure(placer, request(tp=8, dp=2), topology)
    assert failure.code == "insufficient_devices"
    assert "not enough free devices" in failure.reason
    assert any("1 of the 2" in line for line in failure.details)


def test_scattered_free_devices_do_not_make_a_tensor_parallel_group() -> None:
    topology = cluster(pool("h100", nodes=2))
    occupy(topology, {node("h100", 0): [0, 1, 2, 3], node("h100", 1): [0, 1, 2, 3]})  # 8 free, 4 per node
    failure = _failure(TopologyAwarePlacer(), request(tp=8), topology)
    assert failure.code == "insufficient_devices"


@pytest.mark.parametrize("placer", PLACERS, ids=lambda p: p.name)
def test_memory_that_does_not_fit_is_refused_with_the_figures(placer: Placer) -> None:
    topology = cluster(pool("h100", nodes=4))
    failure = _failure(placer, request(tp=1, dp=8, model=big_model()), topology)
    assert failure.code == "memory"
    assert any("GiB" in line for line in failure.details)


@pytest.mark.parametrize("placer", PLACERS, ids=lambda p: p.name)
def test_no_pool_of_an_allowed_type(placer: Placer) -> None:
    topology = cluster(pool("h100", nodes=2))
    failure = _failure(placer, request(tp=8, allowed_accelerators=("MI300X",)), topology)
    assert failure.code == "no_allowed_type"
    assert any("not an allowed type" in line for line in failure.details)


def test_devices_below_the_minimum_memory_are_not_allowed() -> None:
    topology = cluster(pool("a100", accelerator="A100-40GB", nodes=2))
    failure = _failure(TopologyAwarePlacer(), request(tp=8, min_memory_gib=80), topology)
    assert failure.code == "no_allowed_type"
    assert any("40 GiB" in line for line in failure.details)


def test_tensor_parallelism_wider_than_a_node() -> None:
    topology = cluster(pool("h100", nodes=4))
    failure = _failure(TopologyAwarePlacer(), request(tp=16), topology)
    assert failure.code == "tensor_parallel_too_wide"
    assert any("exceeds the 8 devices of a node" in line for line in failure.details)


def test_a_layout_that_cannot_split_the_model_is_invalid() -> None:
    topology = cluster(pool("h100", nodes=4))
    failure = _failure(TopologyAwarePlacer(), request(tp=8, pp=64, model=small_model(32)), topology)
    assert failure.code == "invalid"


def test_unknown_requested_pools_are_invalid() -> None:
    topology = cluster(pool("h100", nodes=4))
    failure = _failure(TopologyAwarePlacer(), request(tp=8, pools=("nope",)), topology)
    assert failure.code == "invalid"
    assert "nope" in failure.reason


def test_failures_serialise() -> None:
    topology = cluster(pool("h100", nodes=1))
    failure = _failure(TopologyAwarePlacer(), request(tp=8, dp=2, job_id="big"), topology)
    assert failure.to_dict()["job_id"] == "big"
    assert failure.to_dict()["code"] == "insufficient_devices"
