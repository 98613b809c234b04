"""Fragmentation figures per level on hand-made allocations of a 4-node cluster:
nodes n0..n3 of 8 devices, racks r000 = {n0, n1} and r001 = {n2, n3}, one rack per spine."""

from __future__ import annotations

import pytest

from controlplane.topology import Level, LevelFragmentation, LinkDefaults, PoolShape, Topology, build_topology


@pytest.fixture
def four_nodes(links: LinkDefaults) -> Topology:
    return build_topology([PoolShape(name="p", accelerator="H100", node_count=4, devices_per_node=8,
                                     nodes_per_rack=2, racks_per_spine=1)], link_defaults=links)


def take(topology: Topology, node: str, count: int, owner: str = "job") -> None:
    topology.allocate(topology.free_device_ids(topology.subtree(Level.NODE, node), limit=count), owner)


def test_an_idle_cluster_is_not_fragmented_at_any_level(four_nodes: Topology) -> None:
    figures = four_nodes.fragmentation()

    assert list(figures) == [level for level in Level if level is not Level.DEVICE]
    assert all(figure.fragmentation_index == 0.0 for figure in figures.values())
    assert figures[Level.NODE] == LevelFragmentation(
        Level.NODE, subtrees=4, total_free=32, largest_free_block=8, fully_free_subtrees=4, stranded_free=0,
        fragmentation_index=0.0)
    assert figures[Level.RACK].largest_free_block == 16


def test_partly_used_nodes_strand_their_free_devices_while_whole_nodes_remain(four_nodes: Topology) -> None:
    take(four_nodes, "p-n0000", 6)
    take(four_nodes, "p-n0002", 1)

    figures = four_nodes.fragmentation()

    assert figures[Level.NODE] == LevelFragmentation(
        Level.NODE, subtrees=4, total_free=25, largest_free_block=8, fully_free_subtrees=2, stranded_free=9,
        fragmentation_index=0.0)
    assert figures[Level.RACK] == LevelFragmentation(
        Level.RACK, subtrees=2, total_free=25, largest_free_block=15, fully_free_subtrees=0, stranded_free=25,
        fragmentation_index=1 - 15 / 16)
    assert figures[Level.CLUSTER].largest_free_block == 25
    assert figures[Level.CLUSTER].fragmentation_index == 0.0


def test_one_device_taken_from_every_node_leaves_no_whole_node(four_nodes: Topology) -> None:
    for node in ("p-n0000", "p-n0001", "p-n0002", "p-n0003"):
        take(four_nodes, node, 1)

    node_level = four_nodes.fragmentation(levels=[Level.NODE])[Level.NODE]

    assert (node_level.largest_free_block, node_level.fully_free_subtrees) == (7, 0)
    assert node_level.stranded_free == 28
    assert node_level.fragmentation_index == 1 - 7 / 8


def test_scattered_single_free_devices_are_almost_fully_fragmented(four_nodes: Topology) -> None:
    for node in ("p-n0000", "p-n0001", "p-n0002", "p-n0003"):
        take(four_nodes, node, 7)

    node_level = four_nodes.fragmentation()[Level.NODE]

    assert (node_level.total_free, node_level.largest_free_block) == (4, 1)
    assert node_level.fragmentation_index == 1 - 1 / 4


def test_unavailable_nodes_count_as_not_free(four_nodes: Topology) -> None:
    four_nodes.mark_node_unavailable("p-n0001")

    rack_level = four_nodes.fragmentation()[Level.RACK]

    assert (rack_level.total_free, rack_level.largest_free_block) == (24, 16)
    assert rack_level.fully_free_subtrees == 1


def test_a_full_cluster_has_nothing_free_and_an_index_of_zero(four_nodes: Topology) -> None:
    four_nodes.allocate(range(four_nodes.device_count), owner="everything")

    figures = four_nodes.fragmentation()

    assert all(figure.total_free == 0 and figure.fragmentation_index == 0.0 for figure in figures.values())


def test_fragmentation_can_be_read_for_one_pool(links: LinkDefaults) -> None:
    topology = build_topology([
        PoolShape(name="a", accelerator="H100", node_count=2, devices_per_node=8, zone="z"),
        PoolShape(name="b", accelerator="H100", node_count=2, devices_per_node=8, zone="z"),
    ], link_defaults=links)
    take(topology, "b-n0000", 8)

    figures = topology.fragmentation(pool="b")

    assert (figures[Level.NODE].subtrees, figures[Level.NODE].total_free) == (2, 8)
    assert figures[Level.ZONE].subtrees == 0
    assert topology.fragmentation(pool="a")[Level.NODE].fully_free_subtrees == 2


def test_fragmentation_can_be_read_under_one_subtree(four_nodes: Topology) -> None:
    take(four_nodes, "p-n0002", 3)
    rack = four_nodes.subtree(Level.RACK, "p-r001")

    figures = four_nodes.fragmentation(levels=[Level.RACK, Level.NODE], within=rack)

    assert figures[Level.RACK].subtrees == 1 and figures[Level.RACK].total_free == 13
    assert (figures[Level.NODE].subtrees, figures[Level.NODE].largest_free_block) == (2, 8)
    assert figures[Level.NODE].stranded_free == 5
