"""What the topology-aware placer prefers: the lowest common switch, PP neighbours close,
DP off oversubscribed links, best fit that keeps whole subtrees free, one region, the user's
preferred type — and that it says why."""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from controlplane.perfmodel import default_calibration
from controlplane.placement import Placement, PlacementFailure, TopologyAwarePlacer
from controlplane.placement.assemble import CostContext
from controlplane.placement.cost import group_reach, total_cost
from controlplane.topology.levels import Level
from tests.unit.placement.placement_factories import (
    cluster,
    node,
    occupy,
    pool,
    request,
    small_model,
    subtrees_of,
)

placer = TopologyAwarePlacer()


def _placed(result: Placement | PlacementFailure) -> Placement:
    assert isinstance(result, Placement), result
    return result


def test_a_job_that_fits_one_rack_is_placed_in_one_rack() -> None:
    topology = cluster(pool("h100", nodes=8, nodes_per_rack=4))
    occupy(topology, {node("h100", 0): "all"})  # rack 0 keeps 3 free nodes, rack 1 has 4
    result = _placed(placer.place(request(tp=8, pp=2, dp=2), topology))
    assert subtrees_of(result, topology, range(32), Level.RACK) == {"h100-r001"}


def test_pipeline_neighbours_share_a_rack_when_one_has_room() -> None:
    topology = cluster(pool("h100", nodes=6, nodes_per_rack=2, racks_per_spine=4))
    occupy(topology, {node("h100", 1): "all", node("h100", 5): "all"})
    result = _placed(placer.place(request(tp=8, pp=2), topology))
    assert subtrees_of(result, topology, range(16), Level.RACK) == {"h100-r001"}
    assert group_reach(topology, result.devices, result_layout := request(tp=8, pp=2).layout)["pp"] is Level.RACK
    assert result_layout.pp == len(result.stage_accelerators)


def test_pipeline_stages_stay_in_consecutive_order_under_one_spine() -> None:
    topology = cluster(pool("h100", nodes=8, nodes_per_rack=2, racks_per_spine=4))
    result = _placed(placer.place(request(tp=8, pp=4), topology))
    racks = [subtrees_of(result, topology, [stage * 8], Level.RACK).pop() for stage in range(4)]
    crossings = sum(1 for a, b in pairwise(racks) if a != b)
    assert crossings == 1  # two racks of two nodes: one boundary must cross, only one does


def test_data_parallel_groups_avoid_an_oversubscribed_spine() -> None:
    topology = cluster(pool("h100", nodes=8, nodes_per_rack=2, racks_per_spine=2, spine_oversubscription=4.0))
    # each spine keeps two free nodes: the job (4 nodes) must cross spines with something
    occupy(topology, {node("h100", 0): "all", node("h100", 2): "all", node("h100", 4): "all",
                      node("h100", 6): "all"})
    job = request(tp=8, pp=2, dp=2, model=small_model())
    result = _placed(placer.place(job, topology))
    reach = group_reach(topology, result.devices, job.layout)
    assert reach["dp"] >= Level.SPINE, "gradients should not cross the 4:1 spine"
    assert reach["pp"] is Level.ZONE
    swapped = np.asarray(result.devices).reshape(2, 2, 8).transpose(1, 0, 2).ravel()  # DP across spines
    context = CostContext.build(job.layout, small_model(), result.stage_layers, default_calibration())
    assert result.comm_cost_s < total_cost(context.cost(topology, swapped))


def test_best_fit_uses_a_partly_used_node_and_keeps_whole_nodes_free() -> None:
    topology = cluster(pool("h100", nodes=4, nodes_per_rack=2))
    occupy(topology, {node("h100", 1): [0, 1, 2, 3]})
    result = _placed(placer.place(request(tp=4), topology))
    assert set(result.nodes) == {node("h100", 1)}


def test_best_fit_takes_a_node_from_a_partly_used_rack_before_breaking_a_whole_rack() -> None:
    topology = cluster(pool("h100", nodes=4, nodes_per_rack=2))
    occupy(topology, {node("h100", 3): [0, 1, 2, 3]})  # rack 1 is partly used, rack 0 is whole
    result = _placed(placer.place(request(tp=8), topology))
    assert set(result.nodes) == {node("h100", 2)}
    topology.allocate(result.devices, "job")
    assert topology.free_devices(topology.subtree(Level.RACK, "h100-r000")) == 16


def test_a_job_never_spans_regions_unless_allowed() -> None:
    topology = cluster(pool("us", nodes=2, region="use1"), pool("eu", nodes=2, region="euw1"))
    refused = placer.place(request(tp=8, dp=3), topology)
    assert isinstance(refused, PlacementFailure)
    assert refused.code == "cross_region"
    allowed = _placed(placer.place(request(tp=8, dp=3, allow_cross_region=True), topology))
    assert set(allowed.pools) == {"us", "eu"}


def test_a_job_that_fits_one_region_stays_there_even_when_crossing_is_allowed() -> None:
    topology = cluster(pool("us", nodes=2, region="use1"), pool("eu", nodes=2, region="euw1"))
    result = _placed(placer.place(request(tp=8, dp=2, allow_cross_region=True), topology))
    assert len(set(result.pools)) == 1


def test_the_preferred_type_with_room_wins() -> None:
    topology = cluster(pool("h100", nodes=2), pool("a100", accelerator="A100-80GB", nodes=2, zone="use1-b"))
    preferred = _placed(placer.place(request(tp=8, allowed_accelerators=("A100-80GB", "H100-SXM")), topology))
    assert set(preferred.accelerators) == {"A100-80GB"}
    occupy(topology, {node("a100", 0): "all", node("a100", 1): [0]})
    fallback = _placed(placer.place(request(tp=8, dp=2, allowed_accelerators=("A100-80GB", "H100-SXM")),
                                    topology))
    assert set(fallback.accelerators) == {"H100-SXM"}


def test_pool_aliases_are_compared_by_canonical_name() -> None:
    topology = cluster(pool("h100", accelerator="H100", nodes=1))
    result = _placed(placer.place(request(tp=8, allowed_accelerators=("H100-SXM",)), topology))
    assert result.accelerators == ("H100-SXM",) * 8


def test_requested_pools_restrict_the_placement() -> None:
    topology = cluster(pool("first", nodes=2), pool("second", nodes=2, zone="use1-b"))
    result = _placed(placer.place(request(tp=8, pools=("second",)), topology))
    assert set(result.pools) == {"second"}


def test_the_placement_explains_itself() -> None:
    topology = cluster(pool("h100", nodes=8))
    result = _placed(placer.place(request(tp=8, pp=2, dp=2, model=small_model()), topology))
    text = "\n".join(result.reasons)
    for expected in ("H100-SXM", "home:", "rank nesting", "groups stay within", "memory:", "free blocks"):
        assert expected in text
    assert result.placer == "topology-aware"
    assert set(result.comm_breakdown_s) <= {"tp", "cp", "pp", "dp", "edp", "ep"}
    assert abs(sum(result.comm_breakdown_s.values()) - result.comm_cost_s) < 1e-12


def test_expert_parallel_groups_stay_inside_a_node_when_they_fit() -> None:
    from controlplane.perfmodel import ModelShape, MoEShape

    moe = ModelShape(layers=16, hidden_size=4096, attention_heads=32, sequence_length=4096, ffn_hidden_size=14336,
                     moe=MoEShape(experts=8, top_k=2, expert_hidden_size=14336), name="moe")
    topology = cluster(pool("h100", nodes=8))
    job = request(tp=1, pp=2, dp=16, ep=8, model=moe, micro_batches=4)
    result = _placed(placer.place(job, topology))
    assert group_reach(topology, result.devices, job.layout)["ep"] >= Level.NODE
    assert result.comm_breakdown_s["ep"] > 0


def test_to_dict_carries_every_rank_and_group() -> None:
    topology = cluster(pool("h100", nodes=2))
    result = _placed(placer.place(request(tp=4, dp=4), topology))
    data = result.to_dict()
    assert data["world_size"] == 16
    assert len(data["devices"]) == len(data["nodes"]) == len(data["coordinates"]) == 16
    assert data["groups"]["tp"][0] == [0, 1, 2, 3]


def test_whole_data_parallel_slabs_in_one_node_beat_a_closer_home_that_splits_them() -> None:
    topology = cluster(pool("h100", nodes=8, nodes_per_rack=2, racks_per_spine=2))
    occupy(topology, {node("h100", 1): "all", node("h100", 2): [0], node("h100", 3): [0],
                      node("h100", 4): "all", node("h100", 5): "all", node("h100", 6): "all"})
    # spine 0 could hold the whole job (4 + 3 + 3 groups of 2), but only in pieces
    job = request(tp=2, pp=2, dp=4, model=small_model())
    result = _placed(placer.place(job, topology))
    assert set(result.nodes) == {node("h100", 0), node("h100", 7)}
    assert group_reach(topology, result.devices, job.layout)["dp"] >= Level.NODE
