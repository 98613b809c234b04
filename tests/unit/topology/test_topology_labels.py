"""Building the tree of a live cluster from its Kubernetes node labels."""

from __future__ import annotations

import pytest

from controlplane.domain.errors import InvalidInputError, NotFoundError
from controlplane.topology import (
    Level,
    LinkDefaults,
    LinkOverrides,
    NodeLabels,
    PoolShape,
    build_topology_from_nodes,
)
from controlplane.topology import labels as keys


def node(name: str, pool: str = "h100", devices: str = "8", **extra: str) -> NodeLabels:
    labels = {keys.POOL: pool, keys.ACCELERATOR: "H100", keys.DEVICES: devices,
              keys.REGION: "use1", keys.ZONE: "use1-a"}
    labels.update({getattr(keys, key.upper()): value for key, value in extra.items()})
    return NodeLabels(name, labels)


def test_the_label_keys_are_the_documented_ones() -> None:
    assert (keys.POOL, keys.ACCELERATOR, keys.REGION, keys.ZONE) == (
        "suanli.dev/pool", "suanli.dev/accelerator", "suanli.dev/region", "suanli.dev/zone")
    assert (keys.SPINE, keys.RACK, keys.CAPACITY_TYPE, keys.DEVICES) == (
        "suanli.dev/spine", "suanli.dev/rack", "suanli.dev/capacity-type", "suanli.dev/devices")


def test_spine_and_rack_labels_place_nodes_in_the_tree(links: LinkDefaults) -> None:
    topology = build_topology_from_nodes([
        node("gpu-1", spine="s1", rack="r1"), node("gpu-2", spine="s1", rack="r2"),
        node("gpu-3", spine="s1", rack="r1"), node("gpu-4", spine="s2", rack="r3"),
    ], link_defaults=links)

    rack_r1 = topology.subtree(Level.RACK, "r1")
    assert [n.name for n in topology.children(rack_r1)] == ["gpu-1", "gpu-3"]
    assert [s.name for s in topology.descendants(topology.root, Level.SPINE)] == ["s1", "s2"]
    first, third = topology.device_id("gpu-1", 0), topology.device_id("gpu-3", 0)
    assert topology.distance(first, third).level is Level.RACK
    assert topology.distance(first, topology.device_id("gpu-2", 0)).level is Level.SPINE
    assert topology.distance(first, topology.device_id("gpu-4", 0)).level is Level.ZONE


def test_a_node_without_rack_is_its_own_rack_and_without_spine_hangs_off_its_zone_spine(
        links: LinkDefaults) -> None:
    topology = build_topology_from_nodes([node("a"), node("b")], link_defaults=links)

    assert topology.node_info("a").rack == "a-rack"
    assert topology.node_info("b").rack == "b-rack"
    assert topology.node_info("a").spine == "use1-a-spine"
    hop = topology.distance(topology.device_id("a", 0), topology.device_id("b", 0))
    assert hop.level is Level.SPINE


def test_region_and_zone_fall_back_to_the_kubernetes_topology_labels(links: LinkDefaults) -> None:
    bare = NodeLabels("k", {keys.POOL: "p", keys.ACCELERATOR: "A100", keys.DEVICES: "4",
                            keys.KUBERNETES_REGION: "us-west-2", keys.KUBERNETES_ZONE: "us-west-2b"})
    unlabelled = NodeLabels("m", {keys.POOL: "q", keys.ACCELERATOR: "A100", keys.DEVICES: "4"})

    topology = build_topology_from_nodes([bare, unlabelled], link_defaults=links)

    assert (topology.node_info("k").region, topology.node_info("k").zone) == ("us-west-2", "us-west-2b")
    assert (topology.node_info("m").region, topology.node_info("m").zone) == ("default", "default/any")
    assert topology.node_info("m").capacity_type == "on-demand"


def test_nodes_of_different_sizes_and_pools_coexist(links: LinkDefaults) -> None:
    topology = build_topology_from_nodes([
        node("big", devices="8"), node("small", pool="other", devices="4", capacity_type="spot"),
    ], link_defaults=links)

    assert topology.device_count == 12
    assert topology.pool("other").capacity_type == "spot"
    assert [n.name for n in topology.nodes("other")] == ["small"]


def test_registered_pool_shapes_give_live_nodes_their_links_and_domains(links: LinkDefaults) -> None:
    shape = PoolShape(name="h100", accelerator="H100", node_count=2, devices_per_node=8, devices_per_domain=4,
                      provider="aws", links=LinkOverrides(node_network_gbytes_per_s=200.0))

    topology = build_topology_from_nodes([node("x"), node("y")], link_defaults=links, pools=[shape])

    assert topology.pool("h100").provider == "aws"
    assert topology.link_model("h100").node.gbytes_per_s == 25.0
    assert len(topology.children(topology.subtree(Level.NODE, "x"))) == 2


@pytest.mark.parametrize(("nodes", "field"), [
    ([NodeLabels("x", {keys.POOL: "p", keys.DEVICES: "8"})], f"nodes[0].labels[{keys.ACCELERATOR!r}]"),
    ([node("x", devices="eight")], f"nodes[0].labels[{keys.DEVICES!r}]"),
    ([node("x", devices="0")], f"nodes[0].labels[{keys.DEVICES!r}]"),
    ([node("x"), node("x")], "nodes[1].name"),
    ([node("x", rack="r1", spine="s1"), node("y", rack="r1", spine="s2")], "nodes[1]"),
    ([node("x"), NodeLabels("y", {**node("y").labels, keys.ACCELERATOR: "A100"})], "nodes[1].labels"),
])
def test_inconsistent_labels_are_refused_naming_the_node(nodes: list[NodeLabels], field: str,
                                                         links: LinkDefaults) -> None:
    with pytest.raises(InvalidInputError) as raised:
        build_topology_from_nodes(nodes, link_defaults=links)

    assert raised.value.field == field


def test_an_uncatalogued_accelerator_label_is_reported_with_the_node(links: LinkDefaults) -> None:
    odd = NodeLabels("x", {keys.POOL: "p", keys.ACCELERATOR: "Unobtainium", keys.DEVICES: "8"})

    with pytest.raises(NotFoundError) as raised:
        build_topology_from_nodes([odd], link_defaults=links)

    assert raised.value.field == f"nodes[0].labels[{keys.ACCELERATOR!r}]"
