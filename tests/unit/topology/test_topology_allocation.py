"""Allocation, release and node availability keep the free count of every subtree exact, refuse
conflicting requests without changing anything, and never touch other snapshots."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controlplane.domain.errors import ConflictError, InvalidInputError
from controlplane.topology import Level, Topology


def recount(topology: Topology) -> dict[int, int]:
    """Free devices per vertex, counted from scratch device by device."""
    counts: dict[int, int] = {}
    for device in range(topology.device_count):
        node = topology.node_of(device)
        if topology.owner_of(device) is None and topology.is_node_available(node):
            for subtree in topology.path(device):
                counts[subtree.vertex] = counts.get(subtree.vertex, 0) + 1
    return counts


def assert_counters_exact(topology: Topology) -> None:
    expected = recount(topology)
    for level in Level:
        lo, hi = topology.tree.block(level)
        for vertex in range(lo, hi):
            assert topology.free_devices(topology.tree.at(vertex)) == expected.get(vertex, 0)
    for pool in topology.pools:
        free_in_pool = sum(1 for device in range(topology.device_count)
                           if topology.is_free(device) and topology.pool_of(device) == pool)
        assert topology.free_devices_in_pool(pool.name) == free_in_pool


def test_a_fresh_topology_has_every_device_free(cluster: Topology) -> None:
    assert cluster.free_devices(cluster.root) == cluster.device_count
    assert cluster.free_devices(cluster.subtree(Level.NODE, "a100-n0001")) == 8


def test_allocating_lowers_the_free_count_of_every_ancestor(cluster: Topology) -> None:
    node = cluster.subtree(Level.NODE, "h100-a-n0003")
    devices = cluster.free_device_ids(node, limit=3)

    cluster.allocate(devices, owner="job-1")

    for subtree in cluster.path(devices[0])[:-2]:
        assert cluster.free_devices(subtree) == cluster.capacity(subtree) - 3
    assert cluster.free_device_ids(node) == [devices[-1] + k for k in range(1, 6)]
    assert [cluster.owner_of(device) for device in devices] == ["job-1"] * 3
    assert cluster.devices_of("job-1") == devices
    assert_counters_exact(cluster)


def test_releasing_gives_the_devices_back(cluster: Topology) -> None:
    cluster.allocate([0, 1, 2], owner="job-1")

    cluster.release([0, 2])

    assert cluster.free_devices(cluster.root) == cluster.device_count - 1
    assert cluster.owner_of(0) is None and cluster.owner_of(1) == "job-1"
    assert_counters_exact(cluster)


def test_a_device_cannot_be_allocated_twice_and_the_failed_request_changes_nothing(cluster: Topology) -> None:
    cluster.allocate([4, 5], owner="job-1")

    with pytest.raises(ConflictError) as raised:
        cluster.allocate([3, 4, 6], owner="job-2")

    assert "h100-a-n0000/dev4" in str(raised.value) and "job-1" in str(raised.value)
    assert raised.value.details["owner"] == "job-1"
    assert [cluster.owner_of(device) for device in (3, 4, 6)] == [None, "job-1", None]
    assert cluster.free_devices(cluster.root) == cluster.device_count - 2
    assert cluster.devices_of("job-2") == []


def test_a_request_naming_a_device_twice_or_an_unknown_device_is_invalid(cluster: Topology) -> None:
    with pytest.raises(InvalidInputError, match="listed twice"):
        cluster.allocate([1, 1], owner="job-1")
    with pytest.raises(InvalidInputError):
        cluster.allocate([0], owner="")
    with pytest.raises(Exception, match="not in this topology"):
        cluster.allocate([cluster.device_count], owner="job-1")
    assert cluster.free_devices(cluster.root) == cluster.device_count


def test_releasing_a_device_nobody_holds_is_refused(cluster: Topology) -> None:
    cluster.allocate([0], owner="job-1")

    with pytest.raises(ConflictError, match="not allocated"):
        cluster.release([0, 1])

    assert cluster.owner_of(0) == "job-1"


def test_releasing_an_owner_returns_all_its_devices_and_repeating_it_is_harmless(cluster: Topology) -> None:
    cluster.allocate([0, 1], owner="job-1")
    cluster.allocate([10, 40], owner="job-1")
    cluster.allocate([2], owner="job-2")

    assert cluster.release_owner("job-1") == [0, 1, 10, 40]
    assert cluster.release_owner("job-1") == []
    assert cluster.owners() == ["job-2"]
    assert_counters_exact(cluster)


def test_an_unavailable_node_has_no_free_devices_and_cannot_be_allocated(cluster: Topology) -> None:
    node = cluster.subtree(Level.NODE, "h100-b-n0001")
    held = cluster.free_device_ids(node, limit=2)
    cluster.allocate(held, owner="job-1")
    rack_before = cluster.free_devices(cluster.parent(node))  # type: ignore[arg-type]

    assert cluster.mark_node_unavailable("h100-b-n0001") is True

    assert cluster.free_devices(node) == 0
    assert cluster.free_devices(cluster.parent(node)) == rack_before - 6  # type: ignore[arg-type]
    assert [cluster.owner_of(device) for device in held] == ["job-1", "job-1"]
    with pytest.raises(ConflictError, match="unavailable node h100-b-n0001"):
        cluster.allocate([held[-1] + 1], owner="job-2")
    assert cluster.unavailable_nodes() == [node]
    assert_counters_exact(cluster)


def test_devices_released_on_an_unavailable_node_become_free_only_when_it_returns(cluster: Topology) -> None:
    node = cluster.subtree(Level.NODE, "a100-n0000")
    cluster.allocate(cluster.free_device_ids(node, limit=3), owner="job-1")
    cluster.mark_node_unavailable(node)

    cluster.release_owner("job-1")
    assert cluster.free_devices(node) == 0

    assert cluster.mark_node_available(node) is True
    assert cluster.free_devices(node) == 8
    assert cluster.mark_node_available(node) is False
    assert_counters_exact(cluster)


def test_marking_a_node_unavailable_twice_changes_nothing_the_second_time(cluster: Topology) -> None:
    assert cluster.mark_node_unavailable("eu-n0000") is True
    assert cluster.mark_node_unavailable("eu-n0000") is False
    assert cluster.free_devices(cluster.root) == cluster.device_count - 8


def test_only_nodes_can_be_marked_unavailable(cluster: Topology) -> None:
    with pytest.raises(InvalidInputError, match="not a node"):
        cluster.mark_node_unavailable(cluster.subtree(Level.RACK, "eu-r000"))


def test_free_device_ids_lists_free_devices_in_id_order_up_to_a_limit(cluster: Topology) -> None:
    rack = cluster.subtree(Level.RACK, "h100-a-r000")
    cluster.allocate([1, 3, 8], owner="job-1")

    assert cluster.free_device_ids(rack, limit=4) == [0, 2, 4, 5]
    assert len(cluster.free_device_ids(rack)) == 16 - 3


def test_subtrees_with_free_devices_come_smallest_sufficient_block_first(cluster: Topology) -> None:
    zone = cluster.subtree(Level.ZONE, "use1-a")
    cluster.allocate(range(0, 6), owner="job-1")     # h100-a-n0000: 2 left
    cluster.allocate(range(8, 12), owner="job-2")    # h100-a-n0001: 4 left

    fits = cluster.subtrees_with_free(Level.NODE, 2, within=zone, limit=3)

    assert [node.name for node in fits] == ["h100-a-n0000", "h100-a-n0001", "h100-a-n0002"]
    assert [node.name for node in cluster.subtrees_with_free(Level.NODE, 3, within=zone, limit=1)] == [
        "h100-a-n0001"]
    assert cluster.subtrees_with_free(Level.RACK, 100) == []


def test_free_devices_are_counted_per_pool_even_where_pools_share_a_zone(cluster: Topology) -> None:
    cluster.allocate(cluster.free_device_ids(cluster.subtree(Level.NODE, "h100-b-n0000"), limit=5), "job-1")
    cluster.mark_node_unavailable("h100-a-n0009")

    assert cluster.free_devices_in_pool("h100-b") == 4 * 8 - 5
    assert cluster.free_devices_in_pool("h100-a") == 10 * 8 - 8
    assert cluster.free_devices(cluster.subtree(Level.ZONE, "use1-a")) == 14 * 8 - 13


def test_subtrees_can_be_searched_within_one_pool(cluster: Topology) -> None:
    cluster.allocate(range(0, 6), owner="job-1")

    nodes = cluster.subtrees_with_free(Level.NODE, 1, pool="h100-a", limit=2)
    racks = cluster.subtrees_with_free(Level.RACK, 16, pool="h100-b")

    assert [node.name for node in nodes] == ["h100-a-n0000", "h100-a-n0001"]
    assert [rack.name for rack in racks] == ["h100-b-r000", "h100-b-r001"]
    assert cluster.subtrees_with_free(Level.ZONE, 1, pool="h100-b") == []


def test_a_snapshot_is_independent_of_the_topology_it_was_taken_from(cluster: Topology) -> None:
    cluster.allocate([0], owner="job-1")
    trial = cluster.snapshot()

    trial.allocate([1, 2], owner="job-2")
    trial.release_owner("job-1")
    trial.mark_node_unavailable("eu-n0001")

    assert cluster.owner_of(0) == "job-1" and cluster.owner_of(1) is None
    assert cluster.free_devices(cluster.root) == cluster.device_count - 1
    assert cluster.is_node_available("eu-n0001")
    assert trial.free_devices(trial.root) == cluster.device_count - 2 - 8
    assert trial.tree is cluster.tree


OPERATIONS = st.lists(st.tuples(st.sampled_from(["allocate", "release", "release_owner", "down", "up"]),
                                st.lists(st.integers(0, 151), min_size=1, max_size=6, unique=True),
                                st.sampled_from(["a", "b", "c"])), max_size=25)


@settings(max_examples=60, deadline=None)
@given(OPERATIONS)
def test_counters_stay_exact_under_any_sequence_of_changes(
        make_cluster: Callable[[], Topology], operations: list[tuple[str, list[int], str]]) -> None:
    topology = make_cluster()
    for action, devices, owner in operations:
        node = topology.node_of(devices[0])
        try:
            if action == "allocate":
                topology.allocate(devices, owner)
            elif action == "release":
                topology.release(devices)
            elif action == "release_owner":
                topology.release_owner(owner)
            elif action == "down":
                topology.mark_node_unavailable(node)
            else:
                topology.mark_node_available(node)
        except ConflictError:
            pass
    assert_counters_exact(topology)
    free_mask = np.array([topology.is_free(device) for device in range(topology.device_count)])
    assert topology.free_devices(topology.root) == int(free_mask.sum())
