"""The controller's response to spot notices, on the simulated cluster of ``deploy/local``.

A notice for a node hosting a rank must become: the node cordoned, the attempt stopped at a step
boundary with a final checkpoint on a tier that survives the node, the job re-placed where the
re-plan chose, resumed from that checkpoint with no step lost, and the whole story in the job's
disruption timeline. The same notice seen twice is handled once; a notice for an idle node only
cordons it; a job over its preemption limit is kept off spot capacity.
"""

from __future__ import annotations

import time

from controlplane.controller.loop import Controller
from controlplane.runtime.sim.workload import SimWorkload
from controlplane.runtime.types import LaunchSpec
from controlplane.store import session_scope
from controlplane.store.repositories import CheckpointRepository, IntentRepository
from tests.integration.controller.conftest import ControlPlane

TIERS = ["memory://", "s3://suanli-checkpoints/tiny"]


class ResumingWorkloads:
    """Attempts restart from the newest checkpoint the store recorded, as the worker SDK would."""

    def __init__(self, plane: ControlPlane, step_seconds: float = 1.0) -> None:
        self.plane = plane
        self.step_seconds = step_seconds

    def __call__(self, spec: LaunchSpec) -> SimWorkload:
        with session_scope(self.plane.services.context.session_factory) as session:
            newest = CheckpointRepository(session).list_for_job(spec.job_id, limit=1)
        return SimWorkload(step_seconds=self.step_seconds, total_steps=int(spec.env["SUANLI_TOTAL_STEPS"]),
                           start_step=newest[0].step if newest else 0, startup_seconds=5.0, tokens_per_step=256,
                           checkpoint_every_steps=int(spec.env["SUANLI_CHECKPOINT_EVERY_STEPS"]),
                           checkpoint_bytes=4 << 20, checkpoint_on_stop=True)


def controller(plane: ControlPlane) -> Controller:
    plane.workloads.model = ResumingWorkloads(plane)
    return plane.controller()


def run(plane: ControlPlane, ctl: Controller, seconds: float, step: float = 1.0) -> None:
    for _ in range(int(seconds / step)):
        plane.runtime.advance(step)
        ctl.tick()


def running_attempt(plane: ControlPlane, uid: str) -> object:
    return plane.job(uid).status.attempts[-1]


def rank0_node(plane: ControlPlane, uid: str) -> str:
    attempt = plane.job(uid).status.attempts[-1]
    assert attempt.placement is not None
    return str(attempt.placement["ranks"][0]["node"])


def test_a_notice_checkpoints_stops_and_replaces_the_job_elsewhere_without_losing_a_step(
        control_plane: ControlPlane) -> None:
    ctl = controller(control_plane)
    uid = control_plane.submit(totalSteps=200, checkpoint={"everySteps": 25, "tiers": TIERS})
    run(control_plane, ctl, 40)
    first = control_plane.job(uid).status.attempts[-1]
    assert first.pool == "local-h100-spot" and first.status == "RUNNING"
    node = rank0_node(control_plane, uid)

    control_plane.runtime.post_notice(node, deadline=control_plane.runtime.now() + 120, source="aws-imds")
    ctl.tick()
    notice = [e for e in control_plane.services.events.list(job_id=uid, limit=500).items
              if e.type == "job.preemption_notice"]
    assert len(notice) == 1
    plan = notice[0].data
    assert plan["checkpoint"]["action"] == "checkpoint-now" and plan["checkpoint"]["tier"] == TIERS[1]
    assert plan["replan"]["pool"] == "local-a100" and plan["expectedLostSteps"] == 0
    assert any(o["pool"] == "local-h100-spot" for o in plan["alternatives"]) or plan["alternatives"] == []
    with session_scope(control_plane.services.context.session_factory) as session:
        kinds = {i.kind: i for i in IntentRepository(session).for_job(uid)}
    assert kinds["cordon"].payload["node"] == node and kinds["stop"].state == "applied"
    assert 100 < kinds["stop"].payload["graceS"] <= 110  # the window ends 10 s before the deadline
    assert next(n for n in control_plane.runtime.observe().nodes if n.name == node).cordoned

    run(control_plane, ctl, 30)
    job = control_plane.job(uid)
    first, second = job.status.attempts[0], job.status.attempts[1]
    assert first.status == "STOPPED" and "notice" in (first.exit_reason or "")
    assert second.pool == "local-a100" and second.status == "RUNNING"
    assert node not in {r["node"] for r in (second.placement or {})["ranks"]}
    assert job.status.restarts == 0  # a stop ahead of a preemption is not the job's failure

    run(control_plane, ctl, 200)
    job = control_plane.job(uid)
    assert job.status.phase == "SUCCEEDED"
    [disruption] = job.status.disruptions
    assert disruption.cause == "preemption-notice" and disruption.next_pool == "local-a100"
    assert disruption.steps_lost == 0 and disruption.resumed_from_step == disruption.last_step
    assert disruption.checkpoint_step == disruption.last_step
    whats = [entry.what for entry in disruption.timeline]
    assert whats[0].startswith("preemption notice (aws-imds)") and "resumed from step" in whats[-1]
    assert set(job.status.cost.by_pool) == {"local-h100-spot", "local-a100"}


def test_the_same_notice_seen_again_after_a_controller_restart_is_handled_once(
        control_plane: ControlPlane) -> None:
    ctl = controller(control_plane)
    uid = control_plane.submit(totalSteps=500, checkpoint={"everySteps": 25, "tiers": TIERS})
    run(control_plane, ctl, 30)
    node = rank0_node(control_plane, uid)
    deadline = control_plane.runtime.now() + 120
    control_plane.runtime.post_notice(node, deadline=deadline, source="aws-imds")
    ctl.tick()
    ctl.release()
    successor = Controller(control_plane.services.context.session_factory, control_plane.runtime,
                           wall_clock=time.time)
    control_plane.runtime.post_notice(node, deadline=deadline, source="aws-imds")  # the agent polls it again
    successor.tick()
    successor.tick()
    notices = [e for e in control_plane.services.events.list(job_id=uid, limit=500).items
               if e.type == "job.preemption_notice"]
    assert len(notices) == 1


def test_a_notice_for_a_node_without_work_only_cordons_it(control_plane: ControlPlane) -> None:
    ctl = controller(control_plane)
    ctl.tick()
    control_plane.runtime.post_notice("ascend-0", deadline=control_plane.runtime.now() + 30, source="gcp")
    ctl.tick()
    node = next(n for n in control_plane.runtime.observe().nodes if n.name == "ascend-0")
    assert node.cordoned
    events = control_plane.services.events.list(entity="node", limit=500).items
    assert any(e.type == "node.preemption_notice" and e.entity_id == "ascend-0" for e in events)


def test_a_job_over_its_preemption_limit_is_kept_off_spot_capacity(control_plane: ControlPlane) -> None:
    ctl = controller(control_plane)
    uid = control_plane.submit(totalSteps=1000, checkpoint={"everySteps": 25, "tiers": TIERS},
                               spot={"allowed": True, "maxPreemptionsPerHour": 0.5})
    run(control_plane, ctl, 30)
    assert control_plane.job(uid).status.attempts[-1].pool == "local-h100-spot"
    control_plane.runtime.post_notice(rank0_node(control_plane, uid), deadline=control_plane.runtime.now() + 60)
    ctl.tick()
    plan = next(e for e in control_plane.services.events.list(job_id=uid, limit=500).items
                if e.type == "job.preemption_notice").data
    assert plan["replan"]["kind"] == "on-demand"
    run(control_plane, ctl, 30)
    job = control_plane.job(uid)
    assert job.status.attempts[-1].pool == "local-a100"


def test_a_node_lost_without_notice_resumes_from_the_newest_durable_checkpoint(
        control_plane: ControlPlane) -> None:
    ctl = controller(control_plane)
    uid = control_plane.submit(totalSteps=200, checkpoint={"everySteps": 25, "tiers": TIERS})
    run(control_plane, ctl, 62)
    control_plane.runtime.lose_node(rank0_node(control_plane, uid))
    run(control_plane, ctl, 220)
    job = control_plane.job(uid)
    assert job.status.phase == "SUCCEEDED"
    [disruption] = job.status.disruptions
    assert disruption.cause == "node-lost"
    assert disruption.steps_lost is not None and 0 <= disruption.steps_lost <= 25
    assert disruption.resumed_from_step == disruption.checkpoint_step


def test_a_noticed_node_still_alive_after_its_deadline_goes_back_into_service(control_plane: ControlPlane) -> None:
    ctl = controller(control_plane)
    ctl.tick()
    control_plane.runtime.post_notice("ascend-0", deadline=control_plane.runtime.now() + 30, source="gcp")
    ctl.tick()
    run(control_plane, ctl, 50)
    assert next(n for n in control_plane.runtime.observe().nodes if n.name == "ascend-0").cordoned
    run(control_plane, ctl, 15)
    assert not next(n for n in control_plane.runtime.observe().nodes if n.name == "ascend-0").cordoned
    events = control_plane.services.events.list(entity="node", limit=500).items
    assert any(e.type == "node.uncordoned" and e.entity_id == "ascend-0" for e in events)


def test_an_elastic_job_shrinks_onto_the_survivors_and_grows_back_when_capacity_returns(
        control_plane: ControlPlane) -> None:
    ctl = controller(control_plane)
    uid = control_plane.submit(totalSteps=400, checkpoint={"everySteps": 25, "tiers": TIERS},
                               resources={"accelerators": {"count": 4, "types": ["H100"]}},
                               parallelism={"data": 4, "minData": 2})
    run(control_plane, ctl, 30)
    node = rank0_node(control_plane, uid)
    control_plane.runtime.preempt(node, warning_s=60)  # the notice now, the node gone at the deadline
    ctl.tick()
    plan = next(e for e in control_plane.services.events.list(job_id=uid, limit=500).items
                if e.type == "job.preemption_notice").data
    assert plan["replan"]["kind"] == "shrink" and plan["replan"]["dataParallel"] == 2

    run(control_plane, ctl, 20)
    shrunk = control_plane.job(uid).status.attempts[-1]
    assert shrunk.number == 2 and shrunk.status == "RUNNING"
    assert shrunk.placement is not None and shrunk.placement["parallelism"]["dp"] == 2
    assert {r["node"] for r in shrunk.placement["ranks"]} == {"aws-h100-0", "aws-h100-1"} - {node}

    run(control_plane, ctl, 60)
    control_plane.runtime.restore_node(node)  # capacity comes back (a new instance, same name)
    run(control_plane, ctl, 60)
    grown = control_plane.job(uid).status.attempts[-1]
    assert grown.number == 3 and grown.placement is not None and grown.placement["parallelism"]["dp"] == 4

    run(control_plane, ctl, 400)
    job = control_plane.job(uid)
    assert job.status.phase == "SUCCEEDED"
    causes = [(d.cause, d.steps_lost) for d in job.status.disruptions]
    assert causes == [("preemption-notice", 0), ("regrow", 0)]
