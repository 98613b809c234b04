"""Workload inputs: Gavel's trace and cluster formats, our generator, and jobspecs files."""

from __future__ import annotations

from pathlib import Path

import pytest

from controlplane.domain.errors import InvalidInputError
from controlplane.perfmodel.throughput import ThroughputTable
from controlplane.simulator import gavel_cluster, gavel_jobs, generate_gavel_jobs, read_gavel_trace
from controlplane.simulator.events import EventQueue

DATA = Path(__file__).resolve().parents[2] / "data" / "gavel"


@pytest.fixture(scope="module")
def table() -> ThroughputTable:
    return ThroughputTable.load_gavel(DATA / "simulation_throughputs.json")


def test_the_small_gavel_trace_reads_into_jobs(table: ThroughputTable) -> None:
    trace = read_gavel_trace((DATA / "traces" / "small_test.trace").read_text())
    jobs = gavel_jobs(trace, table)
    assert len(jobs) == 20
    first = jobs[0]
    assert (first.workload_type, first.devices, first.total_steps, first.submitted_at) == (
        "Transformer (batch size 128)", 2, 346.0, 0.0)


def test_a_malformed_trace_line_is_named() -> None:
    with pytest.raises(InvalidInputError, match=r"t.trace:1: expected 10 TAB-separated fields, got 3"):
        read_gavel_trace("a\tb\tc\n", source="t.trace")


def test_gavel_counts_become_three_pools_of_four_gpu_servers() -> None:
    cluster = gavel_cluster("36:36:36")
    assert [(p.name, p.accelerator, p.devices_per_node) for p in cluster.pools] == [
        ("v100", "V100", 4), ("p100", "P100", 4), ("k80", "K80", 4)]
    assert cluster.devices == 108 and cluster.build_topology().device_count == 108


@pytest.mark.parametrize("counts", ["36:36", "a:b:c", "0:0:0"])
def test_bad_gavel_counts_are_refused(counts: str) -> None:
    with pytest.raises(InvalidInputError):
        gavel_cluster(counts)


def test_the_generator_is_seeded_and_poisson(table: ThroughputTable) -> None:
    jobs = generate_gavel_jobs(400, jobs_per_hour=4.0, table=table, seed=5)
    assert [j.total_steps for j in jobs] == [j.total_steps for j in generate_gavel_jobs(400, jobs_per_hour=4.0,
                                                                                         table=table, seed=5)]
    mean_gap_h = (jobs[-1].submitted_at - jobs[0].submitted_at) / 399 / 3600
    assert 0.2 < mean_gap_h < 0.3
    assert {j.devices for j in jobs} == {1}
    assert {j.devices for j in generate_gavel_jobs(200, jobs_per_hour=4.0, table=table, multi_gpu=True)} <= {1, 2, 4, 8}


def test_events_come_out_by_time_then_in_push_order() -> None:
    queue = EventQueue()
    queue.push(5.0, "tick")
    queue.push(1.0, "arrival", job_id="b")
    queue.push(1.0, "arrival", job_id="a")
    assert [e.job_id for e in queue.pop_until(1.0)] == ["b", "a"]
    assert queue.peek_time() == 5.0
