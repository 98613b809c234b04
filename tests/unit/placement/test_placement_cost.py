"""The communication cost model: slower links cost more, and each group kind pays for its own."""

from __future__ import annotations

import pytest

from controlplane.perfmodel import Layout, default_calibration
from controlplane.placement.assemble import CostContext
from controlplane.placement.cost import reference_model, total_cost, traffic_profile
from controlplane.topology import Topology
from tests.unit.placement.placement_factories import cluster, node, pool, small_model


def _cost(topology: Topology, layout: Layout, devices: list[int]) -> dict[str, float]:
    context = CostContext.build(layout, small_model(), (), default_calibration())
    return context.cost(topology, devices)


def _devices(topology: Topology, name: str, count: int = 8) -> list[int]:
    return list(topology.node_info(name).devices)[:count]


def test_tensor_parallelism_across_nodes_costs_several_times_more_than_inside_one() -> None:
    topology = cluster(pool("h100", nodes=2))
    layout = Layout(tp=8)
    inside = _cost(topology, layout, _devices(topology, node("h100", 0)))["tp"]
    across = _cost(topology, layout, _devices(topology, node("h100", 0), 4) + _devices(topology, node("h100", 1), 4))
    assert across["tp"] > 5 * inside


def test_data_parallel_traffic_over_an_oversubscribed_spine_costs_more_than_inside_a_rack() -> None:
    topology = cluster(pool("h100", nodes=8, nodes_per_rack=2, racks_per_spine=2, spine_oversubscription=4.0))
    layout = Layout(tp=8, dp=2)
    same_rack = _cost(topology, layout, _devices(topology, node("h100", 0)) + _devices(topology, node("h100", 1)))
    same_spine = _cost(topology, layout, _devices(topology, node("h100", 0)) + _devices(topology, node("h100", 2)))
    across = _cost(topology, layout, _devices(topology, node("h100", 0)) + _devices(topology, node("h100", 4)))
    assert same_rack["dp"] <= same_spine["dp"] < across["dp"]
    assert across["dp"] == pytest.approx(4 * same_spine["dp"], rel=0.05)


def test_crossing_zones_is_far_dearer_than_crossing_racks() -> None:
    topology = cluster(pool("a", nodes=2, zone="use1-a"), pool("b", nodes=2, zone="use1-b"))
    layout = Layout(tp=8, pp=2)
    near = _cost(topology, layout, _devices(topology, node("a", 0)) + _devices(topology, node("a", 1)))
    far = _cost(topology, layout, _devices(topology, node("a", 0)) + _devices(topology, node("b", 0)))
    assert far["pp"] > 10 * near["pp"]


def test_every_extra_pipeline_boundary_leaving_a_rack_costs_something() -> None:
    topology = cluster(pool("h100", nodes=4, nodes_per_rack=2))
    layout = Layout(tp=8, pp=4)
    nodes = [_devices(topology, node("h100", i)) for i in range(4)]
    contiguous = _cost(topology, layout, nodes[0] + nodes[1] + nodes[2] + nodes[3])["pp"]
    zigzag = _cost(topology, layout, nodes[0] + nodes[2] + nodes[1] + nodes[3])["pp"]
    assert contiguous < zigzag


def test_expert_all_to_all_inside_a_node_is_cheaper_than_across_nodes() -> None:
    topology = cluster(pool("h100", nodes=2))
    layout = Layout(tp=1, dp=8, ep=8)
    model = reference_model(layout)
    context = CostContext.build(layout, model, (), default_calibration())
    inside = context.cost(topology, _devices(topology, node("h100", 0)))
    across = context.cost(topology, _devices(topology, node("h100", 0), 4) + _devices(topology, node("h100", 1), 4))
    assert 0 < inside["ep"] < across["ep"]


def test_a_single_device_job_communicates_nothing() -> None:
    topology = cluster(pool("h100", nodes=1))
    assert total_cost(_cost(topology, Layout(tp=1), [0])) == 0.0


def test_traffic_grows_with_micro_batches_and_layers() -> None:
    few = traffic_profile(small_model(16), Layout(tp=8, pp=2, micro_batches=4))
    many = traffic_profile(small_model(32), Layout(tp=8, pp=2, micro_batches=8))
    assert many.pp_sends_per_boundary == 2 * few.pp_sends_per_boundary
    assert sum(s.layers for s in many.stages) == 32
    assert many.stages[0].dense_parameters > few.stages[0].dense_parameters
