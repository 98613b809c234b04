"""Distance between two devices: the level where their paths meet, the slowest link on the way,
and the latency of the way, for every level of the tree."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from controlplane.topology import (
    FabricDefaults,
    Hop,
    Level,
    LinkDefaults,
    LinkOverrides,
    LinkSpec,
    PoolShape,
    Topology,
    build_topology,
)

# Fabric defaults every expected figure below uses: host link 64 GB/s / 1 µs between domains,
# scale-up 1 µs, NIC 2 µs, rack and spine switch 1 µs each, cross-zone 3.125 GB/s / 250 µs,
# cross-region 0.625 GB/s / 15,000 µs (per side).
FABRIC = FabricDefaults()


def test_the_fabric_defaults_are_the_documented_ones() -> None:
    assert FABRIC.host_link == LinkSpec(64.0, 1.0)
    assert FABRIC.cross_zone == LinkSpec(3.125, 250.0)
    assert FABRIC.cross_region == LinkSpec(0.625, 15_000.0)
    assert (FABRIC.scaleup_latency_us, FABRIC.nic_latency_us, FABRIC.rack_latency_us,
            FABRIC.spine_latency_us) == (1.0, 2.0, 1.0, 1.0)


@pytest.mark.parametrize(("other", "expected"), [
    ("h100-a-n0000/dev1", Hop(Level.DOMAIN, 450.0, 2.0, scaleup=True)),
    ("h100-a-n0000/dev4", Hop(Level.NODE, 64.0, 4.0, scaleup=False)),
    ("h100-a-n0001/dev0", Hop(Level.RACK, 50.0, 8.0, scaleup=False)),
    ("h100-a-n0002/dev0", Hop(Level.SPINE, 50.0, 10.0, scaleup=False)),
    ("h100-a-n0004/dev0", Hop(Level.ZONE, 50.0, 12.0, scaleup=False)),
    ("h100-b-n0000/dev0", Hop(Level.ZONE, 50.0, 12.0, scaleup=False)),
    ("a100-n0000/dev0", Hop(Level.REGION, 3.125, 2 * (1 + 1 + 2 + 1 + 1 + 250), scaleup=False)),
    ("eu-n0000/dev0", Hop(Level.CLUSTER, 0.625, 2 * (1 + 1 + 2 + 1 + 1 + 250 + 15_000), scaleup=False)),
])
def test_distance_at_every_level_of_the_tree(cluster: Topology, other: str, expected: Hop) -> None:
    start = cluster.device_id("h100-a-n0000", 0)
    end_id = cluster.device_by_name(other)

    assert cluster.distance(start, end_id) == expected
    assert cluster.distance(end_id, start) == expected


def test_farther_levels_never_have_more_bandwidth_or_less_latency(cluster: Topology) -> None:
    start = cluster.device_id("h100-a-n0000", 0)
    hops = sorted((cluster.distance(start, other) for other in range(cluster.device_count)),
                  key=lambda hop: -hop.level)
    for nearer, farther in itertools.pairwise(hops):
        assert farther.bandwidth_gbytes_per_s <= nearer.bandwidth_gbytes_per_s
        assert farther.latency_us >= nearer.latency_us


def test_a_device_is_at_zero_distance_from_itself(cluster: Topology) -> None:
    assert cluster.distance(7, 7) == Hop(Level.DEVICE, math.inf, 0.0, scaleup=True)


def test_the_slower_pool_is_the_bottleneck_between_two_pools(links: LinkDefaults) -> None:
    topology = build_topology([
        PoolShape(name="fast", accelerator="H100", node_count=1, devices_per_node=8, zone="z"),
        PoolShape(name="slow", accelerator="A100", node_count=1, devices_per_node=8, zone="z"),
    ], link_defaults=links)

    hop = topology.distance(topology.device_id("fast-n0000", 0), topology.device_id("slow-n0000", 0))

    assert (hop.level, hop.bandwidth_gbytes_per_s) == (Level.ZONE, 25.0)


def test_a_rack_scale_domain_joins_nodes_of_a_rack_at_scale_up_speed(links: LinkDefaults) -> None:
    topology = build_topology([PoolShape(name="nvl", accelerator="GB200", node_count=36, devices_per_node=4,
                                         nodes_per_rack=18)], link_defaults=links)
    first = topology.device_id("nvl-n0000", 0)

    same_rack = topology.distance(first, topology.device_id("nvl-n0017", 3))
    next_rack = topology.distance(first, topology.device_id("nvl-n0018", 0))

    assert same_rack == Hop(Level.RACK, 900.0, 6.0, scaleup=True)
    assert next_rack.level is Level.SPINE
    assert (next_rack.bandwidth_gbytes_per_s, next_rack.scaleup) == (50.0, False)
    domain = topology.scaleup_domain_of(first)
    assert (domain.level, topology.capacity(domain)) == (Level.RACK, 72)


def test_the_scale_up_domain_of_an_ordinary_device_is_its_node_domain(cluster: Topology) -> None:
    device = cluster.device_id("h100-a-n0003", 5)
    assert cluster.scaleup_domain_of(device).name == "h100-a-n0003/dom1"


def test_oversubscribed_spines_and_thin_rack_uplinks_lower_the_bandwidth_across_them(
        links: LinkDefaults) -> None:
    thin = LinkOverrides(rack_uplink_gbytes_per_s=400.0, spine_oversubscription=4.0)
    shape = PoolShape(name="p", accelerator="H100", node_count=8, devices_per_node=8, nodes_per_rack=2,
                      racks_per_spine=2, links=thin)
    topology = build_topology([shape], link_defaults=links)
    first = topology.device_id("p-n0000", 0)

    assert topology.distance(first, topology.device_id("p-n0002", 0)).bandwidth_gbytes_per_s == 25.0
    assert topology.distance(first, topology.device_id("p-n0004", 0)).bandwidth_gbytes_per_s == 25.0 / 4


def test_vectorised_distances_agree_with_single_queries(cluster: Topology) -> None:
    rng = np.random.default_rng(7)
    a = rng.integers(0, cluster.device_count, size=300)
    b = rng.integers(0, cluster.device_count, size=300)

    batch = cluster.distances(a, b)

    for index, (x, y) in enumerate(zip(a.tolist(), b.tolist(), strict=True)):
        hop = cluster.distance(x, y)
        assert batch.level[index] == hop.level
        assert batch.bandwidth_gbytes_per_s[index] == hop.bandwidth_gbytes_per_s
        assert batch.latency_us[index] == hop.latency_us
        assert batch.scaleup[index] == hop.scaleup


def test_the_distance_matrix_is_symmetric_and_matches_single_queries(cluster: Topology) -> None:
    devices = [0, 5, 9, 40, 90, 130, 150]

    matrix = cluster.distance_matrix(devices)

    assert matrix.level.shape == (7, 7)
    assert (matrix.latency_us == matrix.latency_us.T).all()
    for i, x in enumerate(devices):
        for j, y in enumerate(devices):
            assert matrix.level[i, j] == cluster.distance(x, y).level
            assert matrix.bandwidth_gbytes_per_s[i, j] == cluster.distance(x, y).bandwidth_gbytes_per_s
