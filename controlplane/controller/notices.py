"""Respond to node notices: a spot warning becomes a cordon, a checkpoint-and-stop and a re-plan.

The controller hands ``NoticeResponder.respond`` the notices of one tick and that tick's world.
Each notice is handled once — it is keyed by node and deadline (``notice:<node>:<deadline>``),
so the same warning re-delivered after a controller restart, or polled again by a new agent,
changes nothing:

1. the node is cordoned (an intent), and taken out of this tick's topology so nothing new lands
   on it;
2. for the attempt running there, the pure policy
   (``resilience.spot_response.plan_notice_response``) decides whether a checkpoint fits the
   window and on which surviving tier, when training must stop, and where the job goes next,
   from inputs the store and the world provide (``response_inputs``);
3. the attempt gets a graceful stop intent whose grace ends at the window end. The worker SDK's
   contract for a graceful stop is "stop at an agreed step boundary and save a final
   checkpoint", so the checkpoint captures the last step trained and nothing is lost; the
   background persist carries it to the tiers that survive the node;
4. a ``job.preemption_notice`` event carries the plan (decision, planned actions, chosen option
   and the alternatives with their scores). Until the job is placed again the chosen pool
   narrows where the scheduler may put it (``world.JobOverride``).

An elastic job (``parallelism.minData``) the re-plan shrank onto the survivors grows back when
its pool has room again and the extra steps repay the restart (``regrow``).

A notice's cordon ends ``CORDON_RELEASE_S`` after its deadline if the node is alive then (a
replacement instance under the same name, or an interruption the cloud withdrew).

Preemption history (notices, and attempts lost without one) per job and per pool is re-read
from the store every tick (the last ``HISTORY_WINDOW_S``) into a ``PreemptionRateTracker``:
a job over its ``spot.maxPreemptionsPerHour`` prefers on-demand capacity (with the tracker's
hysteresis), and spot pools carry their observed preemption rate into the scheduler.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from controlplane.controller import response_inputs as inputs
from controlplane.controller.lease import fence
from controlplane.controller.world import JobOverride, World
from controlplane.domain.statuses import ACTIVE_ATTEMPT_STATUSES, AttemptStatus, JobStatus
from controlplane.resilience.preemption_policy import (
    HOUR_S,
    PreemptionLimit,
    PreemptionRateTracker,
    job_scope,
    pool_scope,
)
from controlplane.resilience.spot_response import (
    ReplanOption,
    ResponsePlan,
    ResponseSettings,
    plan_notice_response,
    plan_regrow,
)
from controlplane.runtime.types import NodeObservation, Notice
from controlplane.store.engine import session_scope
from controlplane.store.records import AttemptRecord, JobRecord
from controlplane.store.repositories import (
    AttemptRepository,
    CheckpointRepository,
    EventRepository,
    IntentRepository,
    JobRepository,
)

log = logging.getLogger(__name__)

NOTICE_EVENT = "job.preemption_notice"
NODE_NOTICE_EVENT = "node.preemption_notice"
REGROW_EVENT = "job.regrow"
REGROW_GRACE_S = 60.0
HISTORY_WINDOW_S = HOUR_S
REPLAN_HOLD_S = 600.0
"""How long a re-plan's pool choice binds a job waiting for its next placement."""
MIN_GRACE_S = 5.0
CORDON_RELEASE_S = 30.0
"""A noticed node still (or again) alive this long after its deadline goes back into service."""
CORDON_MEMORY_S = 86400.0
CHECKPOINT_RECORDS = 20


def notice_key(notice: Notice) -> str:
    return f"notice:{notice.node}:{int(notice.deadline)}"


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class NoticeOutcome:
    """What one tick did about its notices."""

    cordoned: tuple[str, ...]
    plans: tuple[ResponsePlan, ...]


class NoticeResponder:
    """Turns notices into recorded intents and events (the ``Applier`` carries the intents out)."""

    def __init__(self, session_factory: sessionmaker[Session], *, shared_filesystem: bool = False,
                 settings: ResponseSettings | None = None) -> None:
        self._sessions = session_factory
        self._shared_filesystem = shared_filesystem
        self._settings = settings or ResponseSettings()
        self.tracker = PreemptionRateTracker()

    # -- notices ---------------------------------------------------------------------------
    def respond(self, notices: Sequence[Notice], world: World, *, now: float, clock_offset: float,
                lease_token: int) -> NoticeOutcome:
        """Handle this tick's notices; ``now`` and notice deadlines are on the runtime clock."""
        fresh = self._unhandled(notices)
        if not fresh:
            return NoticeOutcome((), ())
        for notice in fresh:
            if world.snapshot is not None:
                try:
                    world.snapshot.topology.mark_node_unavailable(notice.node)
                except Exception:  # a node the topology does not hold (unregistered pool, gone already)
                    log.debug("node %s is not in this tick's topology", notice.node)
        plans: list[ResponsePlan] = []
        with session_scope(self._sessions) as session:
            active = AttemptRepository(session).list_by_status(ACTIVE_ATTEMPT_STATUSES)
        by_attempt: dict[str, list[Notice]] = {}
        unattached: list[Notice] = []
        for notice in fresh:
            attempt = next((a for a in active if notice.node in inputs.attempt_nodes(a)), None)
            if attempt is None or attempt.status is AttemptStatus.STOPPING:
                unattached.append(notice)
            else:
                by_attempt.setdefault(attempt.id, []).append(notice)
        for notice in unattached:
            self._record_node_notice(notice, clock_offset=clock_offset, lease_token=lease_token)
        for attempt_id, hit in by_attempt.items():
            attempt = next(a for a in active if a.id == attempt_id)
            plan = self._respond_to_attempt(hit, attempt, world, now=now, clock_offset=clock_offset,
                                            lease_token=lease_token)
            if plan is not None:
                plans.append(plan)
        return NoticeOutcome(tuple(sorted({notice.node for notice in fresh})), tuple(plans))

    def _unhandled(self, notices: Iterable[Notice]) -> list[Notice]:
        newest: dict[str, Notice] = {}
        for notice in notices:
            if notice.node not in newest or notice.deadline < newest[notice.node].deadline:
                newest[notice.node] = notice
        with session_scope(self._sessions) as session:
            intents = IntentRepository(session)
            return [notice for notice in newest.values() if intents.find(f"{notice_key(notice)}:cordon") is None]

    def _record_cordon(self, session: Session, notice: Notice, *, lease_token: int, job_id: str | None = None,
                       attempt_id: str | None = None) -> None:
        IntentRepository(session).record(
            kind="cordon", request_id=f"{notice_key(notice)}:cordon", job_id=job_id, attempt_id=attempt_id,
            payload={"node": notice.node, "reason": f"{notice.kind} notice from {notice.source}",
                     "deadline": notice.deadline}, lease_token=lease_token)

    def _record_node_notice(self, notice: Notice, *, clock_offset: float, lease_token: int) -> None:
        with session_scope(self._sessions) as session:
            fence(session, lease_token)
            self._record_cordon(session, notice, lease_token=lease_token)
            EventRepository(session).append(
                type=NODE_NOTICE_EVENT, entity="node", entity_id=notice.node,
                message=f"{notice.kind} notice for {notice.node} ({notice.source}): node cordoned; "
                        f"it goes at {iso(notice.deadline + clock_offset)}; no attempt runs there",
                data={"node": notice.node, "kind": notice.kind, "source": notice.source,
                      "deadline": iso(notice.deadline + clock_offset)})
        log.info("%s notice for %s (no attempt there): cordoned", notice.kind, notice.node)

    def _respond_to_attempt(self, hit: Sequence[Notice], attempt: AttemptRecord, world: World, *, now: float,
                            clock_offset: float, lease_token: int) -> ResponsePlan | None:
        with session_scope(self._sessions) as session:
            job = JobRepository(session).get(attempt.job_id)
            checkpoints = CheckpointRepository(session).list_for_job(job.id, limit=CHECKPOINT_RECORDS)
        scheduled = next((j for j in world.snapshot.jobs if j.job_id == job.id), None) if world.snapshot else None
        modelled = None
        if scheduled is not None and world.snapshot is not None and attempt.accelerator:
            per_node = max(1, len(attempt.placement.get("ranks", [])) // max(1, len(inputs.attempt_nodes(attempt))))
            estimate = world.snapshot.estimator.estimate(scheduled, attempt.accelerator, per_node)
            modelled = estimate.steps_per_second if estimate.fits else None
        view = inputs.attempt_view(job, attempt, modelled_steps_per_second=modelled)
        lost = frozenset(notice.node for notice in hit)
        history = inputs.checkpoint_history(job, attempt, checkpoints, lost, shared_filesystem=self._shared_filesystem)
        tiers = inputs.checkpoint_tiers(job, attempt, checkpoints, shared_filesystem=self._shared_filesystem)
        rates = self.pool_preemption_rates(world.nodes)
        pools = (inputs.pool_options(world.snapshot, scheduled, view, restart_s=inputs.restart_seconds(attempt),
                                     preemption_rates=rates)
                 if world.snapshot is not None and scheduled is not None else [])
        verdict = self.tracker.verdict_for(now, job_id=job.id, pool=view.pool)
        policy = inputs.spot_policy(job, prefer_on_demand=verdict.prefer_on_demand, reason=verdict.reason)
        plan = plan_notice_response(hit, now, view, history, tiers, pools, policy, self._settings)
        grace = max(MIN_GRACE_S, plan.hard_stop_at - now)
        stop_reason = (f"{hit[0].kind} notice for {', '.join(plan.nodes)} (gone at "
                       f"{iso(min(n.deadline for n in hit) + clock_offset)}): stop at the next step with a final "
                       f"checkpoint; next: {plan.replan.reason}")
        with session_scope(self._sessions) as session:
            fence(session, lease_token)
            current = AttemptRepository(session).get(attempt.id)
            for notice in hit:
                self._record_cordon(session, notice, lease_token=lease_token, job_id=job.id, attempt_id=attempt.id)
            if current.status in (AttemptStatus.PENDING, AttemptStatus.LAUNCHING, AttemptStatus.RUNNING):
                IntentRepository(session).record(
                    kind="stop", request_id=f"{attempt.request_id}:stop", job_id=job.id, attempt_id=attempt.id,
                    payload={"attemptId": attempt.id, "graceS": grace, "reason": stop_reason,
                             "cause": "preemption-notice"}, lease_token=lease_token)
            EventRepository(session).append(
                type=NOTICE_EVENT, entity="job", entity_id=job.id, job_id=job.id, team=job.team,
                message=plan.reason, data=plan_document(plan, hit, attempt, view.current_step, clock_offset,
                                                        prefer_on_demand=verdict.prefer_on_demand))
        self.tracker.record(now, job_id=job.id, pool=view.pool)
        log.info("notice for %s hits attempt %s of %s: %s", ", ".join(plan.nodes), attempt.number, job.name,
                 plan.reason)
        return plan

    def release_cordons(self, nodes: Sequence[NodeObservation], *, now: float, lease_token: int) -> list[str]:
        """Uncordon nodes whose notice deadline passed ``CORDON_RELEASE_S`` ago and that are alive:
        the instance was replaced under the same name, or the cloud withdrew the interruption.
        Returns the nodes released (their uncordon intents are recorded, not yet applied)."""
        alive = {node.name for node in nodes if node.alive}
        released: list[str] = []
        since = datetime.now(tz=UTC) - timedelta(seconds=CORDON_MEMORY_S)
        with session_scope(self._sessions) as session:
            intents = IntentRepository(session)
            for cordon in intents.of_kind("cordon", since=since, prefix="notice:"):
                node, deadline = str(cordon.payload.get("node")), float(cordon.payload.get("deadline", math.inf))
                release_id = cordon.request_id.removesuffix(":cordon") + ":uncordon"
                if node not in alive or now < deadline + CORDON_RELEASE_S or intents.find(release_id) is not None:
                    continue
                fence(session, lease_token)
                intents.record(kind="uncordon", request_id=release_id, payload={"node": node},
                               lease_token=lease_token, job_id=cordon.job_id)
                EventRepository(session).append(
                    type="node.uncordoned", entity="node", entity_id=node,
                    message=f"{node} is alive {CORDON_RELEASE_S:.0f}s after its notice deadline: back in service")
                released.append(node)
        return released

    # -- history, hysteresis and what the scheduler must know ------------------------------
    def refresh_history(self, *, now: float, clock_offset: float) -> None:
        """Reload the last hour of preemptions (notices; attempts lost without one) per job and pool."""
        since = datetime.fromtimestamp(now + clock_offset - HISTORY_WINDOW_S, tz=UTC)
        times: dict[str, list[float]] = {}
        limits: dict[str, PreemptionLimit | None] = {}
        with session_scope(self._sessions) as session:
            events = EventRepository(session).list(type_prefix=NOTICE_EVENT, since=since, limit=1000)
            noticed = {str(event.data.get("attemptId")) for event in events}
            for event in events:
                at = event.created_at.timestamp() - clock_offset
                times.setdefault(job_scope(str(event.job_id)), []).append(at)
                times.setdefault(pool_scope(str(event.data.get("pool", ""))), []).append(at)
            for attempt in AttemptRepository(session).ended_since(since, (AttemptStatus.PREEMPTED,)):
                if attempt.id in noticed or not (attempt.exit_reason or "").startswith("node lost"):
                    continue
                at = (attempt.ended_at or attempt.created_at).timestamp() - clock_offset
                times.setdefault(job_scope(attempt.job_id), []).append(at)
                times.setdefault(pool_scope(str(attempt.placement.get("pool", ""))), []).append(at)
            for job in JobRepository(session).in_queue_order((JobStatus.PENDING, JobStatus.SCHEDULED,
                                                              JobStatus.RUNNING)):
                rate = (job.spec.get("spot") or {}).get("maxPreemptionsPerHour")
                limits[job_scope(job.id)] = PreemptionLimit.from_rate(float(rate)) if rate is not None else None
        for scope, limit in limits.items():
            self.tracker.set_limit(scope, limit)
        for scope in {*times, *limits}:
            self.tracker.restore(scope, self.tracker.state(scope), times.get(scope, ()))

    def pool_preemption_rates(self, observed: Iterable[NodeObservation]) -> dict[str, float]:
        """Observed preemptions per node-hour of each pool over the history window."""
        nodes: dict[str, int] = {}
        for node in observed:
            nodes[node.pool] = nodes.get(node.pool, 0) + 1
        return {pool: len(self.tracker.preemptions(pool_scope(pool))) * HOUR_S / HISTORY_WINDOW_S / count
                for pool, count in nodes.items() if self.tracker.preemptions(pool_scope(pool))}

    def overrides(self, jobs: Mapping[str, JobRecord], *, now: float, clock_offset: float) -> dict[str, JobOverride]:
        """For each pending job: the pool its last re-plan chose (while it binds) and whether its
        preemption rate says on-demand only."""
        result: dict[str, JobOverride] = {}
        since = datetime.fromtimestamp(now + clock_offset, tz=UTC) - timedelta(seconds=REPLAN_HOLD_S)
        pending = [job for job in jobs.values() if job.status is JobStatus.PENDING]
        if not pending:
            return result
        with session_scope(self._sessions) as session:
            repository = EventRepository(session)
            events = sorted((*repository.list(type_prefix=NOTICE_EVENT, since=since, limit=1000),
                             *repository.list(type_prefix=REGROW_EVENT, since=since, limit=1000)),
                            key=lambda event: event.seq)
            latest = {str(event.job_id): event for event in events}
            attempts = AttemptRepository(session)
            for job in pending:
                verdict = self.tracker.verdict_for(now, job_id=job.id)
                pools: tuple[str, ...] | None = None
                data_parallel: int | None = None
                event = latest.get(job.id)
                if event is not None:
                    numbers = [a.number for a in attempts.list_for_job(job.id)]
                    if numbers and max(numbers) == event.data.get("attempt"):  # not placed again since
                        replan = event.data["replan"]
                        pools = (str(replan["pool"]),)
                        data_parallel = int(replan["dataParallel"]) if replan.get("kind") == "shrink" else None
                if pools is not None or verdict.prefer_on_demand:
                    result[job.id] = JobOverride(allowed_pools=pools, avoid_spot=verdict.prefer_on_demand,
                                                 data_parallel=data_parallel, reason=verdict.reason)
        return result

    # -- elastic jobs grow back --------------------------------------------------------------
    def regrow(self, world: World, *, now: float, lease_token: int) -> list[str]:
        """Shrunk elastic attempts whose pool has room again restart at full size when the extra
        steps repay the restart (``plan_regrow``): a graceful stop (final checkpoint) now, and the
        next placement bound to the same pool. Returns the jobs asked to grow."""
        if world.snapshot is None:
            return []
        grown: list[str] = []
        with session_scope(self._sessions) as session:
            active = AttemptRepository(session).list_by_status((AttemptStatus.RUNNING,))
        for attempt in active:
            job = world.jobs.get(attempt.job_id)
            if job is None:
                continue
            target = int((job.spec.get("parallelism") or {}).get("data") or 0)
            current = int((attempt.placement.get("parallelism") or {}).get("dp") or target)
            pool = str(attempt.placement.get("pool", ""))
            if current >= target or not any(p.name == pool for p in world.snapshot.pools):
                continue
            view = inputs.attempt_view(job, attempt, modelled_steps_per_second=None)
            decision = plan_regrow(view, world.snapshot.topology.free_devices_in_pool(pool), target, self._settings)
            if not decision.grow:
                continue
            with session_scope(self._sessions) as session:
                fence(session, lease_token)
                intents = IntentRepository(session)
                if intents.find(f"{attempt.request_id}:stop") is not None:
                    continue
                intents.record(kind="stop", request_id=f"{attempt.request_id}:stop", job_id=job.id,
                               attempt_id=attempt.id, lease_token=lease_token,
                               payload={"attemptId": attempt.id, "graceS": REGROW_GRACE_S, "cause": "regrow",
                                        "reason": f"capacity is back in {pool}: grow {decision.reason}"})
                EventRepository(session).append(
                    type=REGROW_EVENT, entity="job", entity_id=job.id, job_id=job.id, team=job.team,
                    message=f"{pool} has room again: restart at full size, {decision.reason}",
                    data={"attempt": attempt.number, "replan": {"kind": "wait", "pool": pool,
                                                                 "dataParallel": decision.data_parallel,
                                                                 "reason": decision.reason}})
            grown.append(job.id)
            log.info("attempt %d of %s grows back: %s", attempt.number, job.name, decision.reason)
        return grown


def option_document(option: ReplanOption) -> dict[str, Any]:
    return {"kind": option.kind, "pool": option.pool, "devices": option.devices,
            "dataParallel": option.data_parallel, "expectedSteps": round(option.expected_steps, 1),
            "expectedCost": round(option.expected_cost, 4),
            "stepsPerDollar": round(option.steps_per_dollar, 2) if option.expected_cost > 0 else None,
            "downtimeS": round(option.downtime_s, 1), "reason": option.reason}


def plan_document(plan: ResponsePlan, hit: Sequence[Notice], attempt: AttemptRecord, step: int, clock_offset: float,
                  *, prefer_on_demand: bool) -> dict[str, Any]:
    """The stored form of a response plan (wall-clock times as ISO strings)."""
    decision = plan.checkpoint
    return {
        "attempt": attempt.number, "attemptId": attempt.id, "pool": attempt.placement.get("pool"),
        "nodes": list(plan.nodes), "kind": hit[0].kind, "source": hit[0].source,
        "deadline": iso(min(n.deadline for n in hit) + clock_offset), "stepAtNotice": step,
        "checkpoint": {"action": decision.action, "tier": decision.tier, "capturesStep": decision.captures_step,
                       "expectedCommitAt": iso(decision.expected_commit_at + clock_offset)
                       if decision.expected_commit_at is not None else None, "reason": decision.reason},
        "stopAt": iso(plan.stop_at + clock_offset), "hardStopAt": iso(plan.hard_stop_at + clock_offset),
        "resumeStep": plan.resume_step, "expectedLostSteps": plan.expected_lost_steps,
        "replan": option_document(plan.replan), "alternatives": [option_document(o) for o in plan.alternatives],
        "actions": [{"at": iso(a.at + clock_offset), "action": a.action, "detail": a.detail} for a in plan.actions],
        "preferOnDemand": prefer_on_demand,
    }
