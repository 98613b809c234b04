"""What the simulated runtime adds to the contract: exact virtual timing, scripted workloads,
scheduled preemptions, determinism. (The contract itself is checked in ``tests/contract``.)"""

from __future__ import annotations

import pytest

from controlplane.checkpoints.manifest import checkpoint_id
from controlplane.runtime import LaunchSpec, Observation, RankSpec
from controlplane.runtime.cluster_definition import DEFAULT_CLUSTER_FILE, load_cluster_definition
from controlplane.runtime.sim import SimFailure, SimRuntime, SimWorkload

DEFINITION = load_cluster_definition(DEFAULT_CLUSTER_FILE)
NODE_A, NODE_B = DEFINITION.nodes[0].name, DEFINITION.nodes[2].name


def spec(attempt: str = "a1", *nodes: str, checkpoint_uri: str | None = None) -> LaunchSpec:
    nodes = nodes or (NODE_A, NODE_B)
    return LaunchSpec(attempt_id=attempt, request_id=f"req-{attempt}", job_id="job", entrypoint="pkg.mod:main",
                      ranks=tuple(RankSpec(rank, node) for rank, node in enumerate(nodes)),
                      checkpoint_uri=checkpoint_uri)


def runtime(**workload: object) -> SimRuntime:
    return SimRuntime(DEFINITION, workload=SimWorkload(**workload), start_time=100.0)  # type: ignore[arg-type]


def test_steps_are_reported_at_exact_virtual_times_after_start_up() -> None:
    sim = runtime(step_seconds=2.0, startup_seconds=5.0, total_steps=3, tokens_per_step=64)
    sim.launch(spec())

    sim.advance(4.0)
    assert sim.observe().attempt("a1").state == "launching"  # type: ignore[union-attr]
    sim.advance(100.0)
    observation = sim.observe()

    attempt = observation.attempt("a1")
    assert attempt is not None and attempt.state == "succeeded"
    assert (attempt.started_at, attempt.ended_at) == (105.0, 111.0)
    assert [(r.step, r.time, r.tokens) for r in observation.step_reports] == [(1, 107.0, 64), (2, 109.0, 64),
                                                                             (3, 111.0, 64)]
    assert observation.step_reports[0].loss > observation.step_reports[-1].loss  # type: ignore[operator]


def test_a_resumed_attempt_continues_from_its_start_step() -> None:
    sim = runtime(step_seconds=1.0, total_steps=12, start_step=10)
    sim.launch(spec())

    sim.advance(60.0)

    assert [report.step for report in sim.observe().step_reports] == [11, 12]


def test_a_scripted_failure_strikes_during_its_step() -> None:
    sim = runtime(step_seconds=1.0, failure=SimFailure(rank=1, at_step=3, message="OOM: out of HBM"))
    sim.launch(spec())

    sim.advance(10.0)
    observation = sim.observe()

    attempt = observation.attempt("a1")
    assert attempt is not None and (attempt.state, attempt.ended_at) == ("failed", 103.0)
    assert attempt.reason == "rank 1 failed: OOM: out of HBM"
    assert attempt.ranks[1].log_tail[-1] == "OOM: out of HBM"
    assert [report.step for report in observation.step_reports] == [1, 2]


def test_checkpoints_are_committed_every_n_steps_and_on_request_after_their_cost() -> None:
    sim = runtime(step_seconds=1.0, checkpoint_every_steps=5, checkpoint_seconds=3.0, checkpoint_bytes=10)
    sim.launch(spec(checkpoint_uri="s3://ckpt/job"))

    sim.advance(6.5)
    sim.request_checkpoint("a1")
    sim.advance(2.0)
    assert [c.step for c in sim.observe().checkpoint_commits] == [5]
    sim.advance(1.0)

    commits = sim.observe().checkpoint_commits
    tag = checkpoint_id(0, "a1").rsplit("-", 1)[-1]
    assert [(c.step, c.time, c.uri) for c in commits] == [(5, 105.0, f"s3://ckpt/job/step-0000000005-{tag}"),
                                                          (6, 109.5, f"s3://ckpt/job/step-0000000006-{tag}")]


def test_a_graceful_stop_ends_at_the_next_step_boundary() -> None:
    sim = runtime(step_seconds=10.0)
    sim.launch(spec())
    sim.advance(12.0)

    sim.stop("a1", grace_s=60.0)
    sim.advance(7.0)
    assert sim.observe().attempt("a1").state == "stopping"  # type: ignore[union-attr]
    sim.advance(1.0)
    attempt = sim.observe().attempt("a1")

    assert attempt is not None and (attempt.state, attempt.ended_at) == ("stopped", 120.0)
    assert [rank.exit_code for rank in attempt.ranks] == [0, 0]


def test_a_preemption_posts_a_notice_then_loses_the_node_at_the_deadline() -> None:
    sim = runtime(step_seconds=1.0)
    sim.launch(spec())
    sim.advance(5.0)

    sim.preempt(NODE_B, warning_s=30.0, at=110.0)
    assert sim.next_event_time() == 110.0
    sim.advance(5.0)
    noticed = sim.observe()
    sim.advance(30.0)
    lost = sim.observe(noticed.cursor)

    assert [(n.node, n.kind, n.deadline) for n in noticed.notices] == [(NODE_B, "preemption", 140.0)]
    attempt = lost.attempt("a1")
    assert attempt is not None and (attempt.state, attempt.reason, attempt.ended_at) == (
        "lost", f"node lost: {NODE_B}", 140.0)
    assert lost.step_reports[-1].step == 40
    assert not lost.node(NODE_B).alive  # type: ignore[union-attr]


def test_the_same_script_gives_the_same_observations() -> None:
    def play() -> Observation:
        sim = runtime(step_seconds=0.7, total_steps=30, checkpoint_every_steps=7)
        sim.launch(spec("a1"))
        sim.launch(spec("a2", DEFINITION.nodes[1].name))
        sim.advance(3.3)
        sim.request_checkpoint("a1")
        sim.preempt(DEFINITION.nodes[1].name, warning_s=2.0)
        sim.advance(30.0)
        return sim.observe()

    assert play() == play()


def test_the_clock_only_moves_forward() -> None:
    sim = runtime()
    with pytest.raises(ValueError):
        sim.advance(-1.0)
    with pytest.raises(ValueError):
        sim.advance_to(50.0)
