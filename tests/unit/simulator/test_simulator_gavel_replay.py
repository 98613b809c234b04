"""The simulator replays Gavel's small trace end to end under every policy, keeping every invariant."""

from __future__ import annotations

from pathlib import Path

import pytest

from controlplane.perfmodel.throughput import ThroughputTable
from controlplane.scheduling import Job, Scheduler
from controlplane.simulator import (
    Simulation,
    SimulationResult,
    gavel_cluster,
    generate_gavel_jobs,
    load_inputs,
    simulate,
)
from controlplane.simulator.setup import estimator_for

DATA = Path(__file__).resolve().parents[2] / "data" / "gavel"
TRACE = DATA / "traces" / "small_test.trace"
THROUGHPUTS = DATA / "simulation_throughputs.json"


@pytest.fixture(scope="module")
def replays() -> dict[str, SimulationResult]:
    # 2 V100 + 2 P100 + 2 K80 for 20 jobs of 1-2 GPUs: jobs queue, so policies differ
    inputs = load_inputs(cluster="2:2:2", jobs=TRACE, throughputs=THROUGHPUTS)
    return {policy: simulate(inputs, policy) for policy in ("suanli", "fifo", "las", "cheapest")}


@pytest.mark.parametrize("policy", ["suanli", "fifo", "las", "cheapest"])
def test_every_job_of_the_trace_completes(replays: dict[str, SimulationResult], policy: str) -> None:
    result = replays[policy]
    assert result.summary.jobs == result.summary.completed == 20


@pytest.mark.parametrize("policy", ["suanli", "fifo", "las", "cheapest"])
def test_no_invariant_is_broken(replays: dict[str, SimulationResult], policy: str) -> None:
    # no device held twice, gangs exactly their size, no pool over capacity, JCT >= isolated runtime
    assert replays[policy].violations == []


@pytest.mark.parametrize("policy", ["suanli", "fifo", "las", "cheapest"])
def test_jct_is_never_below_the_isolated_runtime(replays: dict[str, SimulationResult], policy: str) -> None:
    for record in replays[policy].records:
        assert record.jct_s is not None and record.jct_s >= record.isolated_s - 1e-6
        assert record.queueing_s is not None and record.queueing_s >= 0


def test_the_summary_reports_the_figures_the_issue_asks_for(replays: dict[str, SimulationResult]) -> None:
    summary = replays["suanli"].summary.to_dict()
    for key in ("avg_jct_h", "p50_jct_h", "p99_jct_h", "makespan_h", "utilization", "cost", "preemptions",
                "round_ms_p50", "round_ms_p99"):
        assert key in summary
    assert 0 < summary["utilization"] <= 1


def test_heterogeneity_awareness_beats_the_agnostic_baseline_on_gavel_style_arrivals() -> None:
    table = ThroughputTable.load_gavel(THROUGHPUTS)
    jobs = generate_gavel_jobs(40, jobs_per_hour=1.0, table=table, seed=3)
    cluster = gavel_cluster("12:12:12")
    jct = {policy: Simulation(cluster, jobs, scheduler=Scheduler(policy), estimator=estimator_for(table)).run()
           .summary.avg_jct_h for policy in ("suanli", "las")}
    assert jct["suanli"] < jct["las"]


def test_a_replay_is_deterministic() -> None:
    inputs = load_inputs(cluster="2:2:2", jobs=TRACE, throughputs=THROUGHPUTS)
    first = [r.to_dict() for r in simulate(inputs, "suanli").records]
    second = [r.to_dict() for r in simulate(inputs, "suanli").records]
    assert first == second


def test_a_job_that_fits_nowhere_ends_the_run_instead_of_spinning() -> None:
    table = ThroughputTable.load_gavel(THROUGHPUTS)
    jobs = [Job(job_id="huge", team="t", devices=64, total_steps=10.0, workload_type="ResNet-18 (batch size 32)")]
    result = Simulation(gavel_cluster("4:0:0"), jobs, scheduler=Scheduler(), estimator=estimator_for(table)).run()
    assert result.summary.completed == 0
    assert "cannot run on any pool" in result.wait_reasons["huge"]
