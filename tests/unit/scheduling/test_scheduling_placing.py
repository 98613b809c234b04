"""The pool packer: where the devices of an admitted gang go inside its pool.

The rules (``controlplane.scheduling.placing``), written out here node by node as the reference
the vectorized packer must match on any free state.
"""

from __future__ import annotations

import random

from controlplane.perfmodel import Layout
from controlplane.scheduling import Job
from controlplane.scheduling.placing import PlacedGang, PoolPacker
from controlplane.topology import Level, Topology
from tests.unit.scheduling.scheduling_factories import job, pool, topology

EIGHT = pool("eight", "FAST", devices_per_node=8)
OTHER = pool("other", "SLOW", devices_per_node=8)


def reference_place(gang: Job, pool_name: str, devices_per_node: int, tp: int,
                    topo: Topology) -> tuple[int, ...] | None:
    """The packing rules, one node at a time: a gang smaller than a node goes to the first of the
    nodes whose usable free devices fit it most tightly; a larger one takes the nodes with the
    most usable free devices first (tree order on ties), the first free devices of each, until
    it has all its ranks. Usable: whole tensor-parallel groups of ``tp`` devices."""
    nodes = topo.nodes(pool_name)
    free = [topo.free_device_ids(node) for node in nodes]
    usable = [len(ids) - len(ids) % tp for ids in free]
    need = gang.devices
    if need < devices_per_node:
        fitting = [i for i, count in enumerate(usable) if count >= need]
        if fitting:
            best = min(fitting, key=lambda i: (usable[i], i))
            return tuple(free[best][:need])
    order = sorted(range(len(nodes)), key=lambda i: (-usable[i], i))
    taken: list[int] = []
    for i in order:
        if len(taken) == need or not usable[i]:
            break
        taken.extend(free[i][:min(usable[i], need - len(taken))])
    return tuple(taken) if len(taken) == need else None


def devices(placed: PlacedGang | str) -> tuple[int, ...]:
    assert not isinstance(placed, str), placed
    return placed.devices


def test_a_gang_smaller_than_a_node_goes_to_the_first_of_the_tightest_nodes() -> None:
    topo = topology([EIGHT], {"eight": 4})
    topo.allocate(range(0, 5), "a")    # node 0: 3 free
    topo.allocate(range(8, 13), "b")   # node 1: 3 free
    topo.allocate(range(16, 18), "c")  # node 2: 6 free
    assert devices(PoolPacker().place(job("j", 3), EIGHT, None, topo)) == (5, 6, 7)
    assert devices(PoolPacker().place(job("j", 4), EIGHT, None, topo)) == (18, 19, 20, 21)


def test_a_multi_node_gang_takes_whole_free_nodes_in_tree_order_and_cuts_the_last_one_short() -> None:
    topo = topology([EIGHT], {"eight": 4})
    topo.allocate([0], "a")  # node 0 is no longer whole
    assert devices(PoolPacker().place(job("j", 20), EIGHT, None, topo)) == (*range(8, 24), 24, 25, 26, 27)


def test_a_multi_node_gang_uses_the_fullest_nodes_first_and_the_first_free_devices_of_each() -> None:
    topo = topology([EIGHT], {"eight": 3})
    topo.allocate([0, 2, 4, 6], "a")  # node 0: 4 free, every other device
    topo.allocate([8, 9], "b")        # node 1: 6 free
    topo.allocate([16, 17, 18], "c")  # node 2: 5 free
    assert devices(PoolPacker().place(job("j", 13), EIGHT, None, topo)) == (
        10, 11, 12, 13, 14, 15, 19, 20, 21, 22, 23, 1, 3)


def test_tensor_parallel_groups_count_only_whole_groups_of_a_node() -> None:
    topo = topology([EIGHT], {"eight": 2})
    topo.allocate([0, 1, 2], "a")  # node 0: 5 free, one group of 4
    gang = job("tp", 8, layout=Layout(tp=4, dp=2))
    assert devices(PoolPacker().place(gang, EIGHT, gang.layout, topo)) == tuple(range(8, 16))
    gang = job("tp", 12, layout=Layout(tp=4, dp=3))
    assert devices(PoolPacker().place(gang, EIGHT, gang.layout, topo)) == (*range(8, 16), 3, 4, 5, 6)


def test_a_pool_without_enough_devices_in_whole_groups_is_refused_with_the_reason() -> None:
    topo = topology([EIGHT], {"eight": 2})
    topo.allocate([0, 1, 2, 8, 9, 10], "a")  # 5 free per node, one group of 4 each
    gang = job("tp", 8, layout=Layout(tp=4, dp=2))
    assert devices(PoolPacker().place(gang, EIGHT, gang.layout, topo)) == (3, 4, 5, 6, 11, 12, 13, 14)
    gang = job("tp", 10, layout=Layout(tp=2, dp=5))
    placed = PoolPacker().place(gang, EIGHT, gang.layout, topo)
    assert placed == "10 devices are free in eight but not 10 in groups of 2 inside nodes (fragmented)"
    assert PoolPacker().place(job("j", 11), EIGHT, None, topo) == "10 of the 11 devices are free in eight"


def test_the_packer_matches_the_node_by_node_rules_on_random_free_states() -> None:
    rng = random.Random(5)
    packer = PoolPacker()  # one packer across topologies, as a long-lived scheduler has
    for _ in range(120):
        per_node = rng.choice([2, 4, 8])
        pools = [pool("eight", "FAST", devices_per_node=per_node), pool("other", "SLOW", devices_per_node=per_node)]
        topo = topology(pools, {"eight": rng.randint(1, 12), "other": rng.randint(1, 12)})
        taken = rng.sample(range(topo.device_count), rng.randint(0, topo.device_count))
        if taken:
            topo.allocate(taken, "others")
        for step in range(8):
            target = rng.choice(pools)
            tp = rng.choice([1, 2] if per_node >= 2 else [1])
            size = max(rng.choice([1, 2, 3, 4, 6, 8, 12, 16, 24]) // tp, 1) * tp
            gang = job(f"g{step}", size, layout=Layout(tp=tp, dp=size // tp) if tp > 1 else None)
            expected = reference_place(gang, target.name, per_node, tp, topo)
            placed = packer.place(gang, target, gang.layout, topo)
            if expected is None:
                assert isinstance(placed, str)
                continue
            assert devices(placed) == expected
            assert {topo.pool_of(d).name for d in expected} == {target.name}
            topo.allocate(expected, gang.job_id)


def test_the_packer_never_changes_the_topology() -> None:
    topo = topology([EIGHT, OTHER], {"eight": 3, "other": 3})
    before = topo.state.free.copy()
    for size in (1, 5, 8, 17):
        PoolPacker().place(job("j", size), EIGHT, None, topo)
    assert (topo.state.free == before).all()
    assert topo.free_devices(topo.root) == 48 and topo.count(Level.NODE) == 6
