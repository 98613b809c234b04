"""Invariants every placement keeps, whatever the layout and however fragmented the cluster:
every rank placed exactly once on a free device, TP groups inside one node, groups consistent
with the coordinates, the topology untouched, and the same answer for the same input."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controlplane.placement import (
    FirstFitPlacer,
    Placement,
    PlacementFailure,
    Placer,
    RoundRobinPlacer,
    TopologyAwarePlacer,
)
from controlplane.topology import Topology
from controlplane.topology.levels import Level
from tests.unit.placement.placement_factories import cluster, node, occupy, pool, request, small_model

PLACERS: list[Placer] = [TopologyAwarePlacer(), FirstFitPlacer(), RoundRobinPlacer()]


def _fragmented(seed: int) -> Topology:
    topology = cluster(pool("h100", nodes=12, nodes_per_rack=2, racks_per_spine=2),
                       pool("h100-b", nodes=4, zone="use1-b", nodes_per_rack=4))
    rng = np.random.default_rng(seed)
    taken = {}
    for index in range(12):
        used = int(rng.integers(0, 9))
        if used:
            taken[node("h100", index)] = sorted(rng.choice(8, size=used, replace=False).tolist())
    if taken:
        occupy(topology, taken)
    return topology


def _check_invariants(placement: Placement, topology: Topology) -> None:
    layout_size = placement.world_size
    devices = list(placement.devices)
    assert len(devices) == layout_size
    assert len(set(devices)) == layout_size, "a device holds two ranks"
    assert all(topology.is_free(device) for device in devices), "a rank sits on a device in use"
    assert [c.rank for c in placement.coordinates] == list(range(layout_size))
    for kind, groups in placement.groups.items():
        assert sorted(rank for group in groups for rank in group) == list(range(layout_size)), kind
    for rank, device in enumerate(devices):
        assert topology.node_of(device).name == placement.nodes[rank]
        assert topology.pool_of(device).name == placement.pools[rank]
    assert placement.comm_cost_s >= 0
    assert 0 <= placement.predicted_bubble < 1


layouts = st.sampled_from([(8, 1, 1), (4, 2, 1), (2, 1, 4), (8, 2, 2), (4, 4, 2), (1, 1, 6), (2, 3, 2), (8, 1, 5)])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), shape=layouts, placer_index=st.integers(0, 2))
def test_every_rank_is_placed_once_on_a_free_device(seed: int, shape: tuple[int, int, int], placer_index: int) -> None:
    topology = _fragmented(seed)
    tp, pp, dp = shape
    result = PLACERS[placer_index].place(request(tp=tp, pp=pp, dp=dp), topology)
    if isinstance(result, PlacementFailure):
        assert result.code == "insufficient_devices"
        return
    _check_invariants(result, topology)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), shape=layouts)
def test_tensor_parallel_groups_never_cross_a_node(seed: int, shape: tuple[int, int, int]) -> None:
    topology = _fragmented(seed)
    tp, pp, dp = shape
    for placer in (TopologyAwarePlacer(), FirstFitPlacer(), RoundRobinPlacer()):
        result = placer.place(request(tp=tp, pp=pp, dp=dp), topology)
        if isinstance(result, PlacementFailure):
            continue
        for group in result.groups["tp"]:
            assert len({result.nodes[rank] for rank in group}) == 1, placer


def test_tensor_groups_stay_inside_one_scale_up_domain_when_nodes_have_several() -> None:
    topology = cluster(pool("split", nodes=4, devices_per_domain=4))
    occupy(topology, {node("split", 0): [0, 1, 2, 4, 5]})
    result = TopologyAwarePlacer().place(request(tp=4, dp=3), topology)
    assert isinstance(result, Placement)
    for group in result.groups["tp"]:
        assert len({topology.scaleup_domain_of(result.devices[rank]).name for rank in group}) == 1


def test_placing_never_changes_the_topology() -> None:
    topology = _fragmented(7)
    before = (topology.state.free.copy(), topology.state.owner.copy())
    for placer in PLACERS:
        placer.place(request(tp=8, pp=2, dp=2), topology)
    assert np.array_equal(topology.state.free, before[0])
    assert np.array_equal(topology.state.owner, before[1])


def test_the_same_input_gives_the_same_placement() -> None:
    first = TopologyAwarePlacer().place(request(tp=4, pp=2, dp=3, model=small_model()), _fragmented(11))
    second = TopologyAwarePlacer().place(request(tp=4, pp=2, dp=3, model=small_model()), _fragmented(11))
    assert isinstance(first, Placement)
    assert first == second


def test_the_caller_can_allocate_the_devices_it_gets() -> None:
    topology = _fragmented(3)
    result = TopologyAwarePlacer().place(request(tp=8, pp=2, dp=2), topology)
    assert isinstance(result, Placement)
    topology.allocate(result.devices, owner=result.job_id)
    assert sorted(topology.devices_of(result.job_id)) == sorted(result.devices)


def test_memory_of_the_fullest_stage_fits_the_chosen_devices() -> None:
    from controlplane.catalog import get_accelerator
    from controlplane.perfmodel import as_device, estimate_memory

    topology = cluster(pool("h100", nodes=8))
    job = request(tp=8, pp=4, dp=1, model=small_model(32))
    result = TopologyAwarePlacer().place(job, topology)
    assert isinstance(result, Placement)
    assert sum(result.stage_layers) == 32
    for accelerator in set(result.accelerators):
        assert estimate_memory(small_model(32), job.layout, as_device(get_accelerator(accelerator))).fits
    assert {topology.path(d)[Level.NODE].name for d in result.devices} == set(result.nodes)
