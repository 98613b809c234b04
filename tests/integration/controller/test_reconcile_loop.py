"""The reconcile loop on a simulated cluster: admission, progress, retries, cancellation,
leadership and crash recovery."""

from __future__ import annotations

import pytest

from controlplane.controller.loop import LEASE_NAME
from controlplane.domain.errors import FencedOutError
from controlplane.runtime.sim.workload import SimFailure
from controlplane.store.engine import session_scope
from controlplane.store.repositories import AttemptRepository, IntentRepository, LeaseRepository
from tests.integration.controller.conftest import ControlPlane, run_until


def test_a_submitted_job_is_admitted_placed_run_and_succeeds(control_plane: ControlPlane) -> None:
    uid = control_plane.submit(totalSteps=20)
    controller = control_plane.controller()
    report = controller.tick()
    assert report.leader and report.admitted == 1
    job = control_plane.job(uid)
    assert job.status.phase == "SCHEDULED"
    attempt = job.status.attempts[0]
    assert attempt.status == "LAUNCHING"
    ranks = attempt.placement["ranks"]
    assert len(ranks) == 4
    assert len({r["node"] for r in ranks}) == 2  # 2 devices per node on the local cluster
    run_until(controller, control_plane.runtime, lambda: control_plane.job(uid).status.phase == "SUCCEEDED")
    job = control_plane.job(uid)
    assert job.status.attempts[0].status == "SUCCEEDED"
    events = control_plane.events(uid)
    assert events[0] == "job.submitted"
    assert events.count("job.status_changed") == 3  # SCHEDULED, RUNNING, SUCCEEDED


def test_progress_reports_reach_the_attempt(control_plane: ControlPlane) -> None:
    uid = control_plane.submit(totalSteps=50)
    controller = control_plane.controller()
    run_until(controller, control_plane.runtime,
              lambda: (control_plane.job(uid).status.attempts or [None])[0] is not None
              and control_plane.job(uid).status.attempts[0].status == "RUNNING")
    for _ in range(10):
        control_plane.runtime.advance(1.0)
        controller.tick()
    progress = control_plane.services.jobs.get(kind="TrainingJob", ref=uid, team=None)
    with session_scope(control_plane.services.context.session_factory) as session:
        attempt = AttemptRepository(session).list_for_job(uid)[0]
    assert attempt.progress["step"] >= 5
    assert attempt.progress["stepsPerSecond"] > 0
    assert progress.status.phase == "RUNNING"


def test_a_failing_rank_fails_the_attempt_and_the_job_is_retried_with_the_log_in_the_message(
        control_plane: ControlPlane) -> None:
    control_plane.workloads.failures = {1: SimFailure(rank=1, at_step=3, message="ValueError: bad batch")}
    uid = control_plane.submit(totalSteps=10)
    controller = control_plane.controller()
    run_until(controller, control_plane.runtime, lambda: control_plane.job(uid).status.phase == "SUCCEEDED")
    job = control_plane.job(uid)
    first, second = job.status.attempts
    assert first.status == "FAILED" and "bad batch" in (first.exit_reason or "")
    assert second.status == "SUCCEEDED"
    assert job.status.restarts == 1


def test_a_job_out_of_restarts_fails_with_the_reason(control_plane: ControlPlane) -> None:
    failure = SimFailure(rank=0, at_step=2, message="RuntimeError: CUDA error (simulated)")
    control_plane.workloads.failures = {1: failure, 2: failure}
    uid = control_plane.submit(totalSteps=10, maxRestarts=1)
    controller = control_plane.controller()
    run_until(controller, control_plane.runtime, lambda: control_plane.job(uid).status.phase == "FAILED")
    job = control_plane.job(uid)
    assert len(job.status.attempts) == 2
    assert "no restarts left" in (job.status.message or "")
    assert "CUDA error" in (job.status.message or "")


def test_a_lost_node_preempts_the_attempt_and_the_job_waits_then_resumes_when_capacity_returns(
        control_plane: ControlPlane) -> None:
    uid = control_plane.submit(totalSteps=30, resources={"accelerators": {"count": 4, "types": ["H100"]}})
    controller = control_plane.controller()
    run_until(controller, control_plane.runtime, lambda: control_plane.job(uid).status.phase == "RUNNING")
    node = control_plane.job(uid).status.attempts[0].placement["ranks"][0]["node"]
    control_plane.runtime.lose_node(node)
    run_until(controller, control_plane.runtime, lambda: control_plane.job(uid).status.phase == "PENDING")
    controller.tick()
    job = control_plane.job(uid)
    assert job.status.attempts[0].status == "PREEMPTED"
    assert "local-h100-spot: has 2 devices in all" in (job.status.message or "")  # why it waits
    control_plane.runtime.restore_node(node)
    run_until(controller, control_plane.runtime, lambda: control_plane.job(uid).status.phase == "SUCCEEDED")
    first, second = control_plane.job(uid).status.attempts
    assert (first.status, second.status) == ("PREEMPTED", "SUCCEEDED")


def test_cancelling_a_running_job_stops_its_attempt_and_ends_cancelled(control_plane: ControlPlane) -> None:
    uid = control_plane.submit(totalSteps=1000)
    controller = control_plane.controller()
    run_until(controller, control_plane.runtime, lambda: control_plane.job(uid).status.phase == "RUNNING")
    assert control_plane.services.jobs.cancel(kind="TrainingJob", ref=uid, team=None).status.phase == "CANCELLING"
    run_until(controller, control_plane.runtime, lambda: control_plane.job(uid).status.phase == "CANCELLED")
    assert control_plane.job(uid).status.attempts[0].status == "STOPPED"


def test_a_second_controller_stands_by_while_the_first_holds_the_lease(control_plane: ControlPlane) -> None:
    first, second = control_plane.controller(), control_plane.controller()
    assert first.tick().leader
    control_plane.submit()
    assert not second.tick().leader
    assert len(control_plane.runtime.observe().attempts) == 0
    first.release()
    assert second.tick().leader
    assert len(control_plane.runtime.observe().attempts) == 1


def test_a_controller_that_died_after_recording_a_launch_is_resumed_exactly_once(
        control_plane: ControlPlane) -> None:
    uid = control_plane.submit(totalSteps=10)
    dead = control_plane.controller()
    # The dead controller got as far as recording the admission and its intent, then died.
    applier_apply = dead._applier.apply_pending
    dead._applier.apply_pending = lambda: None  # type: ignore[method-assign]
    dead.tick()
    dead._applier.apply_pending = applier_apply  # type: ignore[method-assign]
    assert control_plane.runtime.observe().attempts == ()
    with session_scope(control_plane.services.context.session_factory) as session:
        [intent] = IntentRepository(session).pending()
    # ... and, for a second crash point, it had also made the runtime call but not recorded it.
    from controlplane.controller.actions import spec_from_dict
    control_plane.runtime.launch(spec_from_dict(intent.payload))
    with session_scope(control_plane.services.context.session_factory) as session:  # its lease lapses
        LeaseRepository(session).release(LEASE_NAME, dead.holder)
    successor = control_plane.controller()
    run_until(successor, control_plane.runtime, lambda: control_plane.job(uid).status.phase == "SUCCEEDED")
    assert len(control_plane.job(uid).status.attempts) == 1
    with session_scope(control_plane.services.context.session_factory) as session:
        assert IntentRepository(session).pending() == []


def test_a_leader_that_lost_its_lease_mid_tick_writes_nothing_more_and_stands_by(
        control_plane: ControlPlane) -> None:
    uid = control_plane.submit(totalSteps=1000)
    leader = control_plane.controller()
    run_until(leader, control_plane.runtime, lambda: control_plane.job(uid).status.phase == "RUNNING")
    assert leader.lease is not None
    stale_token = leader.lease.token
    with session_scope(control_plane.services.context.session_factory) as session:  # a successor takes over
        LeaseRepository(session).release(LEASE_NAME, leader.holder)
        LeaseRepository(session).try_acquire(LEASE_NAME, "successor", ttl_s=60.0)

    with pytest.raises(FencedOutError):
        leader._applier.record_stop(uid, reason="a stale decision", lease_token=stale_token)
    with session_scope(control_plane.services.context.session_factory) as session:
        assert [i.kind for i in IntentRepository(session).for_job(uid)] == ["launch"]
    assert not leader.tick().leader
