"""A 10,000-node, 80,000-device topology builds and answers correctly (timings live in
benchmarks/topology_scale.py, not here)."""

from __future__ import annotations

import numpy as np
import pytest

from controlplane.topology import (
    AcceleratorLinks,
    Level,
    LinkDefaults,
    PoolShape,
    Topology,
    build_topology,
    table_link_defaults,
)

NODES_PER_POOL = 2_500


@pytest.fixture(scope="module")
def large() -> Topology:
    links: LinkDefaults = table_link_defaults({"H100": AcceleratorLinks(450.0, 50.0)})
    pools = [PoolShape(name=f"pool{k}", accelerator="H100", node_count=NODES_PER_POOL, devices_per_node=8,
                       region=f"r{k // 2}", zone=f"r{k // 2}-z{k % 2}") for k in range(4)]
    return build_topology(pools, link_defaults=links)


def test_the_large_tree_has_the_expected_shape(large: Topology) -> None:
    racks_per_pool = NODES_PER_POOL // 4
    spines_per_pool = -(-racks_per_pool // 8)
    assert large.device_count == 80_000
    assert [large.count(level) for level in Level] == [
        1, 2, 4, 4 * spines_per_pool, 4 * racks_per_pool, 10_000, 10_000, 80_000]
    assert large.nodes("pool3")[-1].name == "pool3-n2499"
    assert large.free_devices(large.root) == 80_000


def test_counters_match_a_recount_after_many_allocations_on_the_large_tree(large: Topology) -> None:
    trial = large.snapshot()
    rng = np.random.default_rng(11)
    for job in range(2_000):
        node = trial.tree.at(trial.tree.level_offsets[Level.NODE] + int(rng.integers(0, 10_000)))
        free = trial.free_device_ids(node, limit=int(rng.integers(1, 9)))
        if free:
            trial.allocate(free, owner=f"job-{job}")
    for node_index in rng.choice(10_000, size=50, replace=False):
        trial.mark_node_unavailable(trial.tree.at(trial.tree.level_offsets[Level.NODE] + int(node_index)))
    for job in range(0, 2_000, 3):
        trial.release_owner(f"job-{job}")

    free_mask = np.array([trial.is_free(d) for d in range(0, trial.device_count)], dtype=np.int64)
    ancestors = trial.tree.device_ancestors
    for level in Level:
        lo, hi = trial.tree.block(level)
        recount = np.bincount(ancestors[:, level] - lo, weights=free_mask, minlength=hi - lo)
        assert np.array_equal(trial.state.free[lo:hi], recount.astype(np.int32)), level
        figures = trial.fragmentation(levels=[level])[level]
        assert figures.largest_free_block == int(recount.max())
    assert large.free_devices(large.root) == 80_000


def test_distances_on_the_large_tree_meet_at_the_expected_levels(large: Topology) -> None:
    first = large.device_id("pool0-n0000", 0)
    expectations = {
        large.device_id("pool0-n0000", 7): Level.DOMAIN,
        large.device_id("pool0-n0003", 0): Level.RACK,
        large.device_id("pool0-n0031", 0): Level.SPINE,
        large.device_id("pool0-n0032", 0): Level.ZONE,
        large.device_id("pool1-n0000", 0): Level.REGION,
        large.device_id("pool3-n2499", 7): Level.CLUSTER,
    }
    for other, level in expectations.items():
        assert large.distance(first, other).level is level
    batch = large.distances([first] * len(expectations), list(expectations))
    assert batch.level.tolist() == [int(level) for level in expectations.values()]
