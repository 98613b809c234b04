"""The per-node agent polling real protocols: notices reach the sink, also while a checkpoint runs."""

from __future__ import annotations

import threading
import time

import pytest

from controlplane.resilience.spot_response import (
    AttemptView,
    CheckpointHistory,
    CheckpointTier,
    InFlightCheckpoint,
    plan_notice_response,
)
from controlplane.runtime.notices import NoticeBoard
from controlplane.runtime.types import Notice
from controlplane.spot import NoticeAgent, SourceSpec, build_source
from tests.metadata_servers import FakeAwsImds, FakeAzureScheduledEvents, FakeGcpMetadata, ManualClock


def drain(board: NoticeBoard, count: int, timeout_s: float = 10.0) -> list[Notice]:
    """What the board received, once it holds at least ``count`` notices (or the timeout passed)."""
    received: list[Notice] = []
    deadline = time.monotonic() + timeout_s
    while len(received) < count and time.monotonic() < deadline:
        received += board.poll()
        time.sleep(0.01)
    return received


def test_one_agent_watches_three_clouds_and_posts_each_notice_once(aws: FakeAwsImds, gcp: FakeGcpMetadata,
                                                                   azure: FakeAzureScheduledEvents) -> None:
    board = NoticeBoard()
    specs = [SourceSpec("aws", "node-1", aws.base_url), SourceSpec("gcp", "node-2", gcp.base_url),
             SourceSpec("azure", "node-3", azure.base_url)]
    agent = NoticeAgent([build_source(spec) for spec in specs], board.post, interval_s=0.05)
    with agent:
        aws.preempt()
        gcp.preempt()
        azure.preempt()
        received = drain(board, 3)
        time.sleep(0.2)  # more polling rounds: nothing is delivered twice
        received += board.poll()
    assert sorted((n.node, n.kind) for n in received) == [("node-1", "preemption"), ("node-2", "preemption"),
                                                          ("node-3", "preemption")]
    assert not agent.running


def test_a_notice_arriving_mid_checkpoint_is_delivered_and_the_plan_awaits_that_checkpoint(
        aws: FakeAwsImds, clock: ManualClock) -> None:
    board = NoticeBoard()
    checkpoint_started, checkpoint_may_finish = threading.Event(), threading.Event()

    def write_checkpoint() -> None:  # the rank's checkpoint: holds its node busy until released
        checkpoint_started.set()
        checkpoint_may_finish.wait(timeout=30)

    rank = threading.Thread(target=write_checkpoint)
    spot = build_source(SourceSpec("aws", "node-1", aws.base_url, options={"clock": clock}))
    with NoticeAgent([spot], board.post, interval_s=0.05):
        rank.start()
        assert checkpoint_started.wait(timeout=5)
        aws.preempt(warning_s=120)
        notices = drain(board, 1)
        assert not checkpoint_may_finish.is_set()  # delivered while the checkpoint is still running
    checkpoint_may_finish.set()
    rank.join()

    (notice,) = notices
    attempt = AttemptView("job", "a1", "spot", ("node-1", "node-2"), 8, 8, 2, step_seconds=2.0,
                          current_step=1000, price_per_device_hour=1.0)
    history = CheckpointHistory(snapshot_seconds=5.0, last_durable_step=900,
                                in_flight=InFlightCheckpoint("s3://ckpt", started_at=clock.now - 10, step=995))
    tiers = [CheckpointTier("s3://ckpt", persist_seconds=40.0, survives_node_loss=True)]
    plan = plan_notice_response([notice], clock.now, attempt, history, tiers, pools=[])
    # the running checkpoint holds the host buffer until ~46 s from now (estimates × 1.25); a fresh one
    # after it still commits before the window closes, and captures 23 more steps than the running one
    assert plan.checkpoint.action == "checkpoint-now"
    assert plan.checkpoint.start_at == pytest.approx(clock.now - 10 + 5 * 1.25 + 40 * 1.25)
    assert plan.checkpoint.expected_commit_at is not None and plan.checkpoint.expected_commit_at <= notice.deadline - 10
    assert plan.resume_step == 1023 and plan.expected_lost_steps == 0


def test_the_ray_actor_body_runs_an_agent_and_serves_drains() -> None:
    from controlplane.spot.ray_agents import NoticeAgentActor

    with FakeAwsImds() as server:
        actor = NoticeAgentActor([SourceSpec("aws", "node-9", server.base_url)], interval_s=0.05)
        try:
            server.preempt()
            received: list[Notice] = []
            deadline = time.monotonic() + 10
            while not received and time.monotonic() < deadline:
                received += actor.drain()
                time.sleep(0.01)
            assert [(n.node, n.kind) for n in received] == [("node-9", "preemption")]
            assert next(iter(actor.health().values()))["failures"] == 0
        finally:
            actor.stop()
