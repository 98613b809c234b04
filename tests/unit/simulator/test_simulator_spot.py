"""Spot traces: both public formats read onto pool nodes, and lost nodes preempt what runs on them."""

from __future__ import annotations

from pathlib import Path

import pytest

from controlplane.domain.errors import InvalidInputError
from controlplane.scheduling import FixedRates, Job, Pool, Scheduler
from controlplane.simulator import (
    Cluster,
    NodeChange,
    Simulation,
    load_spot_trace,
    read_availability_trace,
    read_event_trace,
)
from controlplane.topology import PoolShape

DATA = Path(__file__).resolve().parents[2] / "data" / "spot_traces"


def test_event_traces_map_trace_nodes_onto_pool_nodes_in_order_of_appearance() -> None:
    changes = read_event_trace("0,add,node7\n0,add,node3\n5000,remove,node7\n9000,add,node9\n", pool_nodes=2)
    assert [(c.time, c.node, c.available) for c in changes] == [
        (0.0, 0, False), (0.0, 1, False),  # mapped nodes start unavailable
        (0.0, 0, True), (0.0, 1, True), (5.0, 0, False), (9.0, 0, True)]  # node9 wraps onto node 0


def test_the_bamboo_p3_trace_reads() -> None:
    changes = load_spot_trace(DATA / "bamboo_p3-trace.csv", pool_nodes=32)
    assert changes[-1].time == pytest.approx(40920.0)
    assert any(not c.available for c in changes if c.time > 0)


def test_availability_traces_flip_every_node_when_the_market_flips() -> None:
    text = '{"metadata": {"gap_seconds": 600}, "data": [0, 0, 1, 1, 0]}'
    changes = read_availability_trace(text, pool_nodes=2)
    assert [(c.time, c.node, c.available) for c in changes] == [
        (1200.0, 0, False), (1200.0, 1, False), (2400.0, 0, True), (2400.0, 1, True)]


def test_the_cant_be_late_trace_reads() -> None:
    changes = load_spot_trace(DATA / "cant_be_late_us-west-2a_v100_1.json", pool_nodes=1)
    assert changes and changes[0].available is False


def test_malformed_traces_name_the_line() -> None:
    with pytest.raises(InvalidInputError, match=r"<trace>:2: expected"):
        read_event_trace("0,add,node1\nnonsense\n", pool_nodes=1)
    with pytest.raises(InvalidInputError, match="not an availability trace"):
        read_availability_trace('{"data": [0]}', pool_nodes=1)


def test_a_lost_spot_node_preempts_its_job_which_rolls_back_and_still_completes() -> None:
    spot = Pool(name="spot", accelerator="H100-SXM", devices_per_node=4, capacity_type="spot",
                price_per_device_hour=1.0)
    cluster = Cluster((spot,), (PoolShape(name="spot", accelerator="H100-SXM", node_count=1, devices_per_node=4,
                                          capacity_type="spot"),))
    job = Job(job_id="j", team="t", devices=4, total_steps=7200.0, workload_type="w", checkpoint_interval_s=1000.0,
              restart_overhead_s=0.0)
    outage = [NodeChange(2500.0, 0, False), NodeChange(4000.0, 0, True)]
    result = Simulation(cluster, [job], scheduler=Scheduler(), estimator=FixedRates({("w", "H100-SXM"): 1.0}),
                        spot={"spot": outage}).run()
    (record,) = result.records
    assert record.spot_preemptions == 1
    assert record.lost_steps == pytest.approx(500.0)  # 2,500 steps done, checkpoint at 2,000
    assert record.finished_at == pytest.approx(4000.0 + 7200.0 - 2000.0)
    assert result.violations == []
