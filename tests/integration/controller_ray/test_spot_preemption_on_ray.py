"""Spot preemption on a live Ray cluster: the AWS metadata endpoint of the node hosting rank 0
announces a termination, the notice agent on that node reports it, and the controller
checkpoints, stops the attempt, re-places the job on another pool and resumes it with no step
lost. Without a notice (the node just vanishes) the job resumes from the newest committed
checkpoint and loses at most one checkpoint interval.

Real parts: the session's local Ray cluster, one ``FakeAwsImds`` (the IMDSv2 protocol) per spot
node, the notice agents as Ray actors pinned to their nodes (``NodeNoticeAgents``), the tiny GPT
training with torch.distributed over 4 ranks, and the file checkpoint tier on a filesystem all
virtual nodes share.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest

from controlplane.controller.loop import Controller
from controlplane.local.notices import NodeNoticeAgents
from controlplane.spot.agent import SourceSpec
from controlplane.spot.fake_metadata import FakeAwsImds
from controlplane.store import session_scope
from controlplane.store.repositories import CheckpointRepository
from tests.integration.controller_ray.conftest import Store, wait_for
from tests.ray_cluster import RaySession

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                                 reason="torch is not installed: pip install torch==2.13.0 (the 'torch' extra)")]

SPOT_NODES = ("aws-h100-0", "aws-h100-1")
EVERY_STEPS = 10


@pytest.fixture
def metadata() -> Iterator[dict[str, FakeAwsImds]]:
    servers = {node: FakeAwsImds().start() for node in SPOT_NODES}
    try:
        yield servers
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture
def controller(store: Store, local_ray: RaySession, metadata: dict[str, FakeAwsImds]) -> Iterator[Controller]:
    local_ray.reset()
    agents = NodeNoticeAgents({node: [SourceSpec("aws", node, base_url=server.base_url)]
                               for node, server in metadata.items()}, interval_s=0.5)
    local_ray.runtime.add_notice_source(agents)
    try:
        yield Controller(store.sessions, local_ray.runtime, lease_ttl_s=60.0, shared_filesystem=True)
    finally:
        local_ray.runtime.remove_notice_source(agents)
        agents.stop()
        local_ray.reset()


def submit(store: Store, name: str, **options: object) -> str:
    return store.submit(name, entrypoint="controlplane.examples.tiny_train:main", steps=120,
                        env={"TINY_STEP_DELAY_S": "0.05", "SUANLI_CHECKPOINT_EVERY_STEPS": str(EVERY_STEPS)},
                        **options)


def test_a_spot_notice_moves_the_job_to_another_pool_with_no_step_lost(
        store: Store, controller: Controller, local_ray: RaySession, metadata: dict[str, FakeAwsImds]) -> None:
    uid = submit(store, "noticed")
    wait_for(lambda: store.step(uid) >= 25, between=controller.tick, what="training to pass step 25",
             timeout_s=120)
    [first] = store.attempts(uid)
    assert first.placement["pool"] == "local-h100-spot"
    node = first.placement["ranks"][0]["node"]

    metadata[node].preempt("terminate", warning_s=60)
    wait_for(lambda: store.attempts(uid)[0].status.value == "STOPPED", between=controller.tick,
             what="the attempt to stop after its final checkpoint", timeout_s=60)
    local_ray.cluster.remove_node(node)  # the cloud takes the instance back
    wait_for(lambda: store.phase(uid) == "SUCCEEDED", between=controller.tick, what="the job to finish elsewhere",
             timeout_s=180)

    job = store.job(uid)
    [disruption] = job.status.disruptions
    assert disruption.cause == "preemption-notice" and node in disruption.nodes
    assert disruption.next_pool == "local-a100"
    assert disruption.steps_lost == 0
    assert disruption.resumed_from_step == disruption.last_step == disruption.checkpoint_step
    assert {"local-h100-spot", "local-a100"} <= set(job.status.cost.by_pool)
    assert store.job(uid).status.restarts == 0
    with session_scope(store.sessions) as session:  # every commit is recorded with what it cost
        records = CheckpointRepository(session).list_for_job(uid)
    assert records and all(record.snapshot_s is not None for record in records)
    assert all(tier.get("persistS") is not None for record in records for tier in record.tiers)


def test_a_node_lost_without_notice_resumes_within_one_checkpoint_interval(
        store: Store, controller: Controller, local_ray: RaySession) -> None:
    uid = submit(store, "hard-loss")
    wait_for(lambda: store.step(uid) >= 27, between=controller.tick, what="training to pass step 27",
             timeout_s=120)
    node = store.attempts(uid)[0].placement["ranks"][0]["node"]
    local_ray.cluster.remove_node(node)
    wait_for(lambda: store.phase(uid) == "SUCCEEDED", between=controller.tick, what="the job to recover",
             timeout_s=240)
    [disruption] = store.job(uid).status.disruptions
    assert disruption.cause == "node-lost"
    assert disruption.steps_lost is not None and disruption.steps_lost <= EVERY_STEPS
    assert disruption.resumed_from_step == disruption.checkpoint_step


def test_an_elastic_job_continues_on_the_surviving_node_with_half_the_replicas_and_no_step_lost(
        store: Store, controller: Controller, local_ray: RaySession, metadata: dict[str, FakeAwsImds]) -> None:
    uid = submit(store, "elastic", types=["H100"], min_data=2)
    wait_for(lambda: store.step(uid) >= 25, between=controller.tick, what="training to pass step 25",
             timeout_s=120)
    node = store.attempts(uid)[0].placement["ranks"][0]["node"]
    metadata[node].preempt("terminate", warning_s=60)
    wait_for(lambda: store.attempts(uid)[0].status.value == "STOPPED", between=controller.tick,
             what="the attempt to stop after its final checkpoint", timeout_s=60)
    local_ray.cluster.remove_node(node)
    wait_for(lambda: store.phase(uid) == "SUCCEEDED", between=controller.tick, what="the shrunk job to finish",
             timeout_s=180)

    _, second = store.attempts(uid)
    assert second.placement["parallelism"]["dp"] == 2 and len(second.placement["ranks"]) == 2
    assert {rank["node"] for rank in second.placement["ranks"]} == set(SPOT_NODES) - {node}
    [disruption] = store.job(uid).status.disruptions
    assert disruption.cause == "preemption-notice" and disruption.steps_lost == 0
    assert disruption.resumed_from_step == disruption.last_step
