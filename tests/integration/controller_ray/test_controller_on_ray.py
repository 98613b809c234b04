"""The reconcile loop on a real local Ray cluster: a DDP job placed across two nodes trains and
succeeds; a rank raising in user code fails its attempt, the job is retried per ``maxRestarts``
and fails with the rank's last log lines; losing a node ends the attempt and the job is
retried once capacity is back."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest

from controlplane.controller.loop import Controller
from tests.integration.controller_ray.conftest import PROBE, Store, wait_for
from tests.ray_cluster import RaySession

pytestmark = pytest.mark.slow


@pytest.fixture
def controller(store: Store, local_ray: RaySession) -> Iterator[Controller]:
    """A controller in this process, on the session's Ray runtime; the cluster is reset after."""
    try:
        yield Controller(store.sessions, local_ray.runtime, lease_ttl_s=60.0)
    finally:
        local_ray.reset()


@pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                    reason="torch is not installed: pip install torch==2.13.0 (the 'torch' extra)")
def test_the_tiny_job_runs_its_four_ranks_on_the_two_planned_nodes_trains_and_succeeds(
        store: Store, controller: Controller, local_ray: RaySession) -> None:
    uid = store.submit("tiny", steps=20)

    wait_for(lambda: store.phase(uid) == "RUNNING", between=controller.tick, what="the job to run")
    [attempt] = store.attempts(uid)
    planned = [rank["node"] for rank in attempt.placement["ranks"]]
    observed = local_ray.runtime.observe().attempt(attempt.id)
    assert observed is not None
    wait_for(lambda: store.phase(uid) in ("SUCCEEDED", "FAILED"), between=controller.tick, what="the job to end")

    assert store.phase(uid) == "SUCCEEDED", store.job(uid).status.message
    assert len(planned) == 4 and len(set(planned)) == 2  # 2 devices per node: the gang spans two nodes
    assert [rank.node for rank in observed.ranks] == planned  # where Ray really ran each rank
    starts = store.rank_starts()[attempt.id]
    assert [len(starts[rank]) for rank in range(4)] == [1, 1, 1, 1]  # each rank started once
    assert [starts[rank][0].split("node=")[1] for rank in range(4)] == planned  # SUANLI_NODE in each rank's env
    [finished] = store.attempts(uid)
    assert finished.status.value == "SUCCEEDED" and finished.progress["step"] == 20
    assert finished.progress["loss"] > 0


def test_a_rank_raising_in_user_code_fails_each_attempt_and_the_job_fails_with_the_log_tail(
        store: Store, controller: Controller) -> None:
    uid = store.submit("raising", entrypoint=PROBE, devices=2, max_restarts=1,
                       env={"PROBE_STEPS": "10", "PROBE_FAIL_RANK": "1", "PROBE_FAIL_AT_STEP": "3"})

    wait_for(lambda: store.phase(uid) in ("SUCCEEDED", "FAILED"), between=controller.tick, what="the job to end")

    job = store.job(uid)
    assert job.status.phase == "FAILED"
    assert [attempt.status for attempt in job.status.attempts] == ["FAILED", "FAILED"]  # retried once, then out
    assert job.status.restarts == 1
    message = job.status.message or ""
    assert "rank 1 failed: RuntimeError: probe failure on rank 1 at step 3" in message
    assert "last log lines:" in message and "probes.py" in message  # the traceback's tail
    assert "no restarts left (maxRestarts 1)" in message


def test_losing_a_node_ends_the_attempt_and_the_job_is_retried_when_the_node_is_back(
        store: Store, controller: Controller, local_ray: RaySession) -> None:
    uid = store.submit("long", entrypoint=PROBE, devices=4, env={"PROBE_STEPS": "0", "PROBE_STEP_DELAY_S": "0.1"},
                       types=["H100"])  # so that it waits for its pool rather than moving
    wait_for(lambda: store.phase(uid) == "RUNNING", between=controller.tick, what="the job to run")
    [first] = store.attempts(uid)
    node = first.placement["ranks"][0]["node"]

    local_ray.cluster.remove_node(node)
    wait_for(lambda: store.phase(uid) == "PENDING", between=controller.tick, what="the attempt to be lost")
    lost = store.attempts(uid)[0]
    assert lost.status.value == "PREEMPTED" and f"node lost: {node}" in (lost.exit_reason or "")
    assert store.job(uid).status.restarts == 1

    local_ray.cluster.restore_node(node)
    wait_for(lambda: store.phase(uid) == "RUNNING", between=controller.tick, what="the retry to run")
    store.services.jobs.cancel(kind="TrainingJob", ref=uid, team=None)
    wait_for(lambda: store.phase(uid) == "CANCELLED", between=controller.tick, what="the cancel")
    assert [attempt.status.value for attempt in store.attempts(uid)] == ["PREEMPTED", "STOPPED"]
