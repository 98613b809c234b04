"""Gang admission: all ranks of a job start together on one pool, or none do."""

from __future__ import annotations

from controlplane.perfmodel import Layout
from controlplane.scheduling import Scheduler
from controlplane.scheduling.placing import PoolPacker
from tests.unit.scheduling.scheduling_factories import job, pool, snap, topology

FAST = pool("fast", "FAST")


def test_a_gang_larger_than_the_free_devices_waits_and_holds_nothing() -> None:
    snapshot = snap([job("big", 12), job("holder", 8)], [FAST], {"fast": 4}, now=10,
                    running={"holder": ("fast", 8, 0.0)})
    result = Scheduler("fifo").plan(snapshot)
    assert result.admits() == []
    wait = result.waits()["big"].reason
    assert wait.startswith("waiting: needs 12 FAST devices, largest free block is 8 in pool fast")
    assert snapshot.topology.free_devices_in_pool("fast") == 8  # the snapshot is never changed


def test_a_gang_is_never_split_across_pools() -> None:
    pools = [pool("fast-a", "FAST"), pool("fast-b", "FAST")]
    snapshot = snap([job("big", 8)], pools, {"fast-a": 1, "fast-b": 1})
    result = Scheduler().plan(snapshot)
    assert result.admits() == []
    assert "fast-a: has 4 devices in all; fast-b: has 4 devices in all" in result.waits()["big"].reason


def test_an_admitted_gang_gets_exactly_its_device_count_on_one_pool() -> None:
    snapshot = snap([job("g", 12)], [FAST], {"fast": 4})
    (admit,) = Scheduler().plan(snapshot).admits()
    assert len(admit.devices) == 12 and len(set(admit.devices)) == 12
    assert {snapshot.topology.pool_of(d).name for d in admit.devices} == {"fast"}


def test_tensor_parallel_groups_stay_inside_a_node() -> None:
    topo = topology([FAST], {"fast": 3})
    # leave 2 free devices on node 0 and all 4 on nodes 1 and 2
    topo.allocate([0, 1], "other")
    gang = job("tp4", 8, layout=Layout(tp=4, dp=2))
    placed = PoolPacker().place(gang, FAST, gang.layout, topo)
    assert not isinstance(placed, str)
    nodes = [topo.node_of(d).name for d in placed.devices]
    assert nodes[:4] == [nodes[0]] * 4 and nodes[4:] == [nodes[4]] * 4
    assert 0 not in placed.devices and 2 not in placed.devices


def test_fragmented_free_devices_that_cannot_hold_the_tp_groups_are_refused() -> None:
    topo = topology([FAST], {"fast": 2})
    topo.allocate([0, 1, 4, 5], "other")  # 2 free per node
    gang = job("tp4", 4, layout=Layout(tp=4))
    placed = PoolPacker().place(gang, FAST, gang.layout, topo)
    assert isinstance(placed, str) and "fragmented" in placed


def test_a_small_gang_packs_into_the_tightest_node() -> None:
    topo = topology([FAST], {"fast": 2})
    topo.allocate([0, 1, 2], "other")  # node 0 has 1 free, node 1 has 4
    placed = PoolPacker().place(job("one", 1), FAST, None, topo)
    assert not isinstance(placed, str) and placed.devices == (3,)


def test_jobs_admitted_in_one_round_never_share_a_device() -> None:
    snapshot = snap([job(f"j{i}", 3, submitted_at=i) for i in range(5)], [FAST], {"fast": 4})
    admits = Scheduler().plan(snapshot).admits()
    devices = [d for admit in admits for d in admit.devices]
    assert len(admits) == 5 and len(devices) == len(set(devices)) == 15
