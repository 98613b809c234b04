"""Shared fixtures of the topology tests: a fixed link table and a small two-region cluster.

Link figures (GB/s per device, one direction) are round numbers so expected hops can be
computed by hand: H100 scale-up 450 / NIC 50, A100 scale-up 300 / NIC 25, GB200 scale-up 900 /
NIC 50 with a 72-device (rack-scale) domain, and "split8" scale-up 200 with 4-device domains.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from controlplane.topology import (
    AcceleratorLinks,
    LinkDefaults,
    PoolShape,
    Topology,
    build_topology,
    table_link_defaults,
)

LINKS: LinkDefaults = table_link_defaults({
    "H100": AcceleratorLinks(scaleup_gbytes_per_s=450.0, scaleout_gbytes_per_s=50.0),
    "A100": AcceleratorLinks(scaleup_gbytes_per_s=300.0, scaleout_gbytes_per_s=25.0),
    "GB200": AcceleratorLinks(scaleup_gbytes_per_s=900.0, scaleout_gbytes_per_s=50.0, domain_devices=72),
    "split8": AcceleratorLinks(scaleup_gbytes_per_s=200.0, scaleout_gbytes_per_s=25.0, domain_devices=4),
})


def small_cluster_pools() -> list[PoolShape]:
    """Two H100 pools sharing zone use1-a, an A100 pool in use1-b, an H100 pool in eu-west."""
    return [
        PoolShape(name="h100-a", accelerator="H100", node_count=10, devices_per_node=8, region="use1",
                  zone="use1-a", nodes_per_rack=2, racks_per_spine=2, devices_per_domain=4),
        PoolShape(name="h100-b", accelerator="H100", node_count=4, devices_per_node=8, region="use1",
                  zone="use1-a", nodes_per_rack=2, racks_per_spine=2),
        PoolShape(name="a100", accelerator="A100", node_count=3, devices_per_node=8, region="use1",
                  zone="use1-b", nodes_per_rack=4, capacity_type="spot"),
        PoolShape(name="eu", accelerator="H100", node_count=2, devices_per_node=8, region="euw1",
                  zone="euw1-a"),
    ]


@pytest.fixture
def cluster() -> Topology:
    return build_topology(small_cluster_pools(), link_defaults=LINKS)


@pytest.fixture
def links() -> LinkDefaults:
    return LINKS


@pytest.fixture(scope="session")
def make_cluster() -> Callable[[], Topology]:
    """Builds a fresh copy of the small cluster (for tests that need many, e.g. property tests)."""
    return lambda: build_topology(small_cluster_pools(), link_defaults=LINKS)
