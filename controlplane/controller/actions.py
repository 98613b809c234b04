"""Apply: turn decisions into recorded intents, then into runtime calls (the active half).

The order of every side effect is the crash-safety argument:
1. In one transaction: the state change the decision implies (a new PENDING attempt and the job
   SCHEDULED, for an admission) and the intent, keyed by the runtime request id.
2. Outside any transaction: the runtime call. It is idempotent by request id.
3. In one transaction: the intent marked applied and the attempt moved on (LAUNCHING).

Killed after 1, a restarted controller finds the intent pending and makes the call; killed
after 2, it makes the call again and the runtime ignores it. No state is ever written that
claims a call happened before it did, and no call is made twice with effect.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from controlplane.controller.launching import checkpoint_peers, launch_spec, placement_document
from controlplane.controller.lease import fence
from controlplane.controller.world import World
from controlplane.domain.errors import DomainError, InvalidInputError
from controlplane.domain.statuses import AttemptStatus, JobStatus
from controlplane.runtime.errors import LaunchRejected
from controlplane.runtime.protocol import Runtime
from controlplane.runtime.types import LaunchSpec, RankSpec
from controlplane.scheduling.decisions import Admit, Migrate, Preempt, RoundResult, Wait
from controlplane.store.engine import session_scope
from controlplane.store.records import IntentRecord
from controlplane.store.repositories import AttemptRepository, EventRepository, IntentRepository, JobRepository
from controlplane.store.transitions import switch_attempt_status, switch_job_status

log = logging.getLogger(__name__)

STOP_GRACE_S = 30.0


class Applier:
    """Records and applies intents for one controller (under one lease token)."""

    def __init__(self, session_factory: sessionmaker[Session], runtime: Runtime, *,
                 storage_options: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._sessions = session_factory
        self._runtime = runtime
        self._storage_options = {k: dict(v) for k, v in (storage_options or {}).items()}

    # -- decisions --------------------------------------------------------------------------
    def apply_round(self, world: World, result: RoundResult, *, lease_token: int) -> None:
        stops = [d for d in result.decisions if isinstance(d, Preempt | Migrate)]
        admits = [d for d in result.decisions if isinstance(d, Admit)]
        waits = [d for d in result.decisions if isinstance(d, Wait)]
        for decision in stops:
            self.record_stop(decision.job_id, reason=decision.reason, lease_token=lease_token)
        for admit in admits:
            self.record_admission(world, admit, lease_token=lease_token)
        with session_scope(self._sessions) as session:
            jobs = JobRepository(session)
            for wait in waits:
                jobs.set_message(wait.job_id, wait.reason)
            for job_id, why in world.unschedulable.items():
                jobs.set_message(job_id, why)
        self.apply_pending()

    def record_admission(self, world: World, admit: Admit, *, lease_token: int) -> None:
        assert world.snapshot is not None
        pool = next(p for p in world.snapshot.pools if p.name == admit.pool)
        placement = placement_document(admit, world.snapshot.topology, pool)
        job = world.jobs[admit.job_id]
        if any(str(tier).startswith("peer://") for tier in job.spec.get("checkpoint", {}).get("tiers", [])):
            placement["checkpointPeers"] = checkpoint_peers(placement, world.nodes)
        with session_scope(self._sessions) as session:
            fence(session, lease_token)
            current = JobRepository(session).get(job.id)
            if current.status is not JobStatus.PENDING:
                return  # cancelled meanwhile
            attempt = AttemptRepository(session).add(
                job.id, pool_id=world.pools[admit.pool].id, accelerator=admit.accelerator, placement=placement)
            switch_job_status(session, job.id, JobStatus.SCHEDULED, message=admit.reason,
                              data={"attempt": attempt.number, "pool": admit.pool, "accelerator": admit.accelerator,
                                    "devices": len(admit.devices), "nodes": sorted({r["node"] for r in
                                                                                     placement["ranks"]})})
            spec = launch_spec(attempt_id=attempt.id, request_id=attempt.request_id, job_id=job.id,
                               job_spec=current.spec, placement=placement, storage_options=self._storage_options)
            IntentRepository(session).record(kind="launch", request_id=attempt.request_id,
                                             payload=spec_to_dict(spec), lease_token=lease_token,
                                             job_id=job.id, attempt_id=attempt.id)

    def record_stop(self, job_id: str, *, reason: str, lease_token: int, grace_s: float = STOP_GRACE_S) -> None:
        with session_scope(self._sessions) as session:
            fence(session, lease_token)
            attempt = AttemptRepository(session).active_for_job(job_id)
            if attempt is None or attempt.status is AttemptStatus.STOPPING:
                return
            IntentRepository(session).record(
                kind="stop", request_id=f"{attempt.request_id}:stop", job_id=job_id, attempt_id=attempt.id,
                payload={"attemptId": attempt.id, "graceS": grace_s, "reason": reason}, lease_token=lease_token)

    def stop_cancelled_jobs(self, *, lease_token: int) -> None:
        """Jobs being cancelled get a stop intent for their live attempt."""
        with session_scope(self._sessions) as session:
            cancelling = JobRepository(session).in_queue_order((JobStatus.CANCELLING,))
        for job in cancelling:
            self.record_stop(job.id, reason="cancelled by user", lease_token=lease_token)

    # -- intents ----------------------------------------------------------------------------
    def apply_pending(self) -> None:
        """Apply every pending intent, oldest first (also those a crashed controller left)."""
        with session_scope(self._sessions) as session:
            pending = IntentRepository(session).pending()
        for intent in pending:
            self._apply(intent)

    def _apply(self, intent: IntentRecord) -> None:
        try:
            if intent.kind == "launch":
                self._runtime.launch(spec_from_dict(intent.payload))
            elif intent.kind == "stop":
                self._runtime.stop(str(intent.payload["attemptId"]), grace_s=intent.payload.get("graceS"))
            elif intent.kind == "checkpoint":
                self._runtime.request_checkpoint(str(intent.payload["attemptId"]))
            elif intent.kind == "cordon":
                self._runtime.cordon(str(intent.payload["node"]))
            elif intent.kind == "uncordon":
                self._runtime.uncordon(str(intent.payload["node"]))
        except (LaunchRejected, InvalidInputError) as error:
            self._refused(intent, error)
            return
        except DomainError as error:
            log.warning("intent %s (%s) failed: %s", intent.request_id, intent.kind, error)
            with session_scope(self._sessions) as session:
                IntentRepository(session).finish(intent.request_id, "failed", error=str(error))
            return
        self._applied(intent)

    def _applied(self, intent: IntentRecord) -> None:
        with session_scope(self._sessions) as session:
            IntentRepository(session).finish(intent.request_id, "applied")
            if intent.attempt_id is None:
                return
            attempt = AttemptRepository(session).get(intent.attempt_id)
            if intent.kind == "launch" and attempt.status is AttemptStatus.PENDING:
                switch_attempt_status(session, attempt.id, AttemptStatus.LAUNCHING,
                                      message=f"launch requested ({len(attempt.placement.get('ranks', []))} ranks)")
            elif intent.kind == "stop" and attempt.status in (AttemptStatus.LAUNCHING, AttemptStatus.RUNNING):
                switch_attempt_status(session, attempt.id, AttemptStatus.STOPPING,
                                      message=str(intent.payload.get("reason", "stop requested")))

    def _refused(self, intent: IntentRecord, error: DomainError) -> None:
        with session_scope(self._sessions) as session:
            IntentRepository(session).finish(intent.request_id, "failed", error=str(error))
            if intent.kind != "launch" or intent.attempt_id is None or intent.job_id is None:
                return
            attempt = AttemptRepository(session).get(intent.attempt_id)
            if attempt.status is AttemptStatus.PENDING:
                switch_attempt_status(session, attempt.id, AttemptStatus.STOPPED,
                                      message=f"the runtime refused the launch: {error}", exit_reason=str(error))
            job = JobRepository(session).get(intent.job_id)
            if job.status is JobStatus.SCHEDULED:
                switch_job_status(session, job.id, JobStatus.PENDING,
                                  message=f"launch refused by the runtime ({error}); back in the queue")
            EventRepository(session).append(type="attempt.launch_refused", entity="attempt", entity_id=attempt.id,
                                            job_id=job.id, team=job.team, message=str(error), data={})


def spec_to_dict(spec: LaunchSpec) -> dict[str, Any]:
    return {
        "attemptId": spec.attempt_id, "requestId": spec.request_id, "jobId": spec.job_id,
        "entrypoint": spec.entrypoint if isinstance(spec.entrypoint, str) else list(spec.entrypoint),
        "ranks": [{"rank": r.rank, "node": r.node, "localRank": r.local_rank, "coordinates": dict(r.coordinates),
                   "experts": list(r.experts), "devices": r.devices} for r in spec.ranks],
        "env": dict(spec.env), "workingDir": spec.working_dir, "masterPort": spec.master_port,
        "checkpointUri": spec.checkpoint_uri, "parallelism": dict(spec.parallelism),
    }


def spec_from_dict(data: Mapping[str, Any]) -> LaunchSpec:
    entrypoint = data["entrypoint"]
    return LaunchSpec(
        attempt_id=data["attemptId"], request_id=data["requestId"], job_id=data["jobId"],
        entrypoint=entrypoint if isinstance(entrypoint, str) else tuple(entrypoint),
        ranks=tuple(RankSpec(rank=r["rank"], node=r["node"], local_rank=r["localRank"],
                             coordinates=dict(r["coordinates"]), experts=tuple(r["experts"]), devices=r["devices"])
                    for r in data["ranks"]),
        env=dict(data["env"]), working_dir=data.get("workingDir"), master_port=data.get("masterPort"),
        checkpoint_uri=data.get("checkpointUri"), parallelism=dict(data.get("parallelism", {})),
    )
