"""Building the tree from pool shapes: levels, naming, numbering, and the errors bad shapes get."""

from __future__ import annotations

import itertools

import pytest

from controlplane.domain.errors import InvalidInputError, NotFoundError
from controlplane.topology import (
    Level,
    LinkDefaults,
    LinkOverrides,
    PoolShape,
    Topology,
    build_topology,
    catalog_link_defaults,
    pool_shape_from_spec,
)
from jobspecs import AcceleratorPool


def names(subtrees: list) -> list[str]:
    return [subtree.name for subtree in subtrees]


def test_nodes_fill_racks_and_racks_fill_spines_with_a_partial_last_rack(links: LinkDefaults) -> None:
    topology = build_topology([PoolShape(name="p", accelerator="H100", node_count=10, devices_per_node=8,
                                         nodes_per_rack=4, racks_per_spine=2)], link_defaults=links)

    assert [topology.count(level) for level in Level] == [1, 1, 1, 2, 3, 10, 10, 80]
    spines = topology.descendants(topology.root, Level.SPINE)
    assert names(spines) == ["p-s00", "p-s01"]
    assert names(topology.children(spines[0])) == ["p-r000", "p-r001"]
    assert names(topology.children(spines[1])) == ["p-r002"]
    assert names(topology.children(topology.subtree(Level.RACK, "p-r002"))) == ["p-n0008", "p-n0009"]
    assert topology.capacity(topology.subtree(Level.RACK, "p-r000")) == 32


def test_pools_in_the_same_zone_share_it_and_other_zones_and_regions_get_their_own(cluster: Topology) -> None:
    regions = cluster.children(cluster.root)
    assert names(regions) == ["use1", "euw1"]
    assert names(cluster.children(regions[0])) == ["use1-a", "use1-b"]
    zone_a = cluster.subtree(Level.ZONE, "use1-a")
    assert names(cluster.children(zone_a)) == ["h100-a-s00", "h100-a-s01", "h100-a-s02", "h100-b-s00"]
    assert cluster.capacity(zone_a) == (10 + 4) * 8
    assert cluster.device_count == (10 + 4 + 3 + 2) * 8


def test_nodes_are_named_by_pool_and_index_and_devices_are_numbered_node_by_node(cluster: Topology) -> None:
    assert names(cluster.nodes("h100-b")) == ["h100-b-n0000", "h100-b-n0001", "h100-b-n0002", "h100-b-n0003"]
    device = cluster.device_id("h100-b-n0002", 5)
    assert cluster.device_name(device) == "h100-b-n0002/dev5"
    assert cluster.node_of(device).name == "h100-b-n0002"
    assert cluster.devices_under(cluster.node_of(device)) == range(device - 5, device + 3)
    assert cluster.subtree(Level.DEVICE, "h100-b-n0002/dev5").vertex == cluster.path(device)[-1].vertex


def test_path_runs_from_the_root_to_the_device(cluster: Topology) -> None:
    device = cluster.device_id("h100-a-n0005", 6)

    path = cluster.path(device)

    assert [subtree.level for subtree in path] == list(Level)
    assert names(path) == ["cluster", "use1", "use1-a", "h100-a-s01", "h100-a-r002", "h100-a-n0005",
                           "h100-a-n0005/dom1", "h100-a-n0005/dev6"]
    assert all(cluster.parent(child) == parent for parent, child in itertools.pairwise(path))
    assert cluster.parent(cluster.root) is None


def test_devices_per_domain_splits_each_node_into_domains(cluster: Topology) -> None:
    node = cluster.subtree(Level.NODE, "h100-a-n0000")
    domains = cluster.children(node)
    assert names(domains) == ["h100-a-n0000/dom0", "h100-a-n0000/dom1"]
    assert [cluster.capacity(domain) for domain in domains] == [4, 4]
    assert len(cluster.children(cluster.subtree(Level.NODE, "h100-b-n0000"))) == 1


def test_an_accelerator_family_domain_size_applies_unless_the_pool_sets_its_own(links: LinkDefaults) -> None:
    topology = build_topology([
        PoolShape(name="family", accelerator="split8", node_count=1, devices_per_node=8),
        PoolShape(name="own", accelerator="split8", node_count=1, devices_per_node=8, devices_per_domain=2),
    ], link_defaults=links)

    assert topology.count(Level.DOMAIN) == 2 + 4


def test_node_info_describes_where_a_node_sits(cluster: Topology) -> None:
    info = cluster.node_info("a100-n0002")

    assert (info.pool, info.accelerator, info.capacity_type) == ("a100", "A100", "spot")
    assert (info.region, info.zone, info.spine, info.rack) == ("use1", "use1-b", "a100-s00", "a100-r000")
    assert len(info.devices) == 8


def test_a_pool_without_a_zone_gets_the_unpinned_zone_of_its_region(links: LinkDefaults) -> None:
    topology = build_topology([PoolShape(name="p", accelerator="H100", node_count=1, devices_per_node=8,
                                         region="us-east-1")], link_defaults=links)

    assert names(topology.descendants(topology.root, Level.ZONE)) == ["us-east-1/any"]


def test_a_pool_with_no_nodes_is_listed_but_adds_no_devices(links: LinkDefaults) -> None:
    topology = build_topology([PoolShape(name="idle", accelerator="H100", node_count=0, devices_per_node=8)],
                              link_defaults=links)

    assert [pool.name for pool in topology.pools] == ["idle"]
    assert topology.device_count == 0
    assert topology.free_devices(topology.root) == 0
    assert topology.fragmentation()[Level.NODE].largest_free_block == 0


def test_lookups_of_unknown_names_and_ids_raise_not_found(cluster: Topology) -> None:
    for level, name in ((Level.NODE, "nope"), (Level.DEVICE, "h100-a-n0000/dev8"),
                        (Level.DOMAIN, "h100-a-n0000/dom2"), (Level.DEVICE, "h100-a-n0000/x1")):
        with pytest.raises(NotFoundError):
            cluster.subtree(level, name)
    with pytest.raises(NotFoundError):
        cluster.node_of(cluster.device_count)
    with pytest.raises(NotFoundError):
        cluster.pool("nope")


@pytest.mark.parametrize(("pools", "field"), [
    ([PoolShape(name="p", accelerator="H100", node_count=1, devices_per_node=8)] * 2, "pools[1].name"),
    ([PoolShape(name="p", accelerator="H100", node_count=1, devices_per_node=8, region="r1", zone="z"),
      PoolShape(name="q", accelerator="H100", node_count=1, devices_per_node=8, region="r2", zone="z")],
     "pools[1].region"),
    ([PoolShape(name="p", accelerator="H100", node_count=1, devices_per_node=8, devices_per_domain=3)],
     "pools[0].devices_per_domain"),
    ([PoolShape(name="p", accelerator="H100", node_count=1, devices_per_node=8, devices_per_domain=4,
                scaleup_level=Level.RACK)], "pools[0].devices_per_domain"),
    ([PoolShape(name="p", accelerator="H100", node_count=1, devices_per_node=8, scaleup_level=Level.NODE)],
     "pools[0].scaleup_level"),
    ([PoolShape(name="p", accelerator="H100", node_count=1, devices_per_node=0)],
     "pools[0].devices_per_node"),
    ([PoolShape(name="p", accelerator="H100", node_count=1, devices_per_node=8,
                links=LinkOverrides(spine_oversubscription=0.5))], "pools[0].links.spine_oversubscription"),
])
def test_bad_pool_shapes_are_refused_naming_the_field(pools: list[PoolShape], field: str,
                                                      links: LinkDefaults) -> None:
    with pytest.raises(InvalidInputError) as raised:
        build_topology(pools, link_defaults=links)

    assert raised.value.field == field


def test_an_unknown_accelerator_needs_its_bandwidths_stated_in_the_pool(links: LinkDefaults) -> None:
    unknown = PoolShape(name="p", accelerator="MysteryChip", node_count=1, devices_per_node=4)
    with pytest.raises(NotFoundError) as raised:
        build_topology([unknown], link_defaults=links)
    assert raised.value.field == "pools[0].accelerator"

    stated = PoolShape(name="p", accelerator="MysteryChip", node_count=1, devices_per_node=4,
                       links=LinkOverrides(scaleup_gbytes_per_s=100.0, node_network_gbytes_per_s=40.0))
    topology = build_topology([stated], link_defaults=links)
    assert topology.link_model("p").node.gbytes_per_s == 10.0


def pool_spec(**topology: float) -> AcceleratorPool:
    return AcceleratorPool.model_validate({
        "metadata": {"name": "aws-h100"},
        "spec": {"provider": "aws", "region": "us-east-1", "zone": "us-east-1a", "accelerator": "H100",
                 "devicesPerNode": 8, "nodes": {"min": 0, "max": 12}, "capacityType": "spot",
                 "topology": {"nodesPerRack": 3, "racksPerSpine": 2, **topology}},
    })


def test_a_pool_spec_models_its_maximum_node_count_with_its_network_shape(links: LinkDefaults) -> None:
    shape = pool_shape_from_spec(pool_spec())

    assert (shape.name, shape.provider) == ("aws-h100", "aws")
    assert (shape.region, shape.zone) == ("us-east-1", "us-east-1a")
    assert (shape.node_count, shape.devices_per_node, shape.capacity_type) == (12, 8, "spot")
    topology = build_topology([shape], link_defaults=links)
    assert (topology.count(Level.RACK), topology.count(Level.SPINE)) == (4, 2)


def test_pool_spec_bandwidths_are_converted_to_gigabytes_per_second_per_direction(
        links: LinkDefaults) -> None:
    shape = pool_shape_from_spec(pool_spec(intraNodeGBps=900, nodeNetworkGbps=3200, rackUplinkGbps=4800,
                                           spineOversubscription=2.0))

    assert shape.links == LinkOverrides(scaleup_gbytes_per_s=450.0, node_network_gbytes_per_s=400.0,
                                        rack_uplink_gbytes_per_s=600.0, spine_oversubscription=2.0)
    model = build_topology([shape], link_defaults=links).link_model("aws-h100")
    assert (model.device.gbytes_per_s, model.node.gbytes_per_s) == (450.0, 50.0)
    assert model.rack.gbytes_per_s == 600.0 / 24
    assert model.spine.gbytes_per_s == 600.0 / 24 / 2


def test_the_accelerator_catalog_supplies_link_defaults() -> None:
    topology = build_topology([
        PoolShape(name="h100", accelerator="H100", node_count=1, devices_per_node=8),
        PoolShape(name="nvl72", accelerator="GB200", node_count=18, devices_per_node=4, nodes_per_rack=18),
    ], link_defaults=catalog_link_defaults())

    h100 = topology.link_model("h100")
    assert (h100.device.gbytes_per_s, h100.node.gbytes_per_s) == (450.0, 50.0)
    assert topology.pool("nvl72").scaleup_level is Level.RACK
    with pytest.raises(NotFoundError):
        build_topology([PoolShape(name="x", accelerator="no-such-chip", node_count=1, devices_per_node=1)],
                       link_defaults=catalog_link_defaults())


def test_a_handle_from_another_topology_is_refused(links: LinkDefaults) -> None:
    def one_pool(name: str) -> Topology:
        return build_topology([PoolShape(name=name, accelerator="H100", node_count=30, devices_per_node=8)],
                              link_defaults=links)
    mine, other = one_pool("x"), one_pool("y")
    foreign = other.subtree(Level.NODE, "y-n0003")

    assert foreign.vertex == mine.subtree(Level.NODE, "x-n0003").vertex
    with pytest.raises(NotFoundError, match="not in this topology"):
        mine.free_devices(foreign)
