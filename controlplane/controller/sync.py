"""Sync: write what the runtime observed into the store (the passive half of a tick).

Owns the edges the runtime drives: an attempt's ranks all started (LAUNCHING → RUNNING, job
SCHEDULED → RUNNING), an attempt ended (its final status and the job's next one, from
``outcomes``), progress from step reports, and node state (ready, cordoned, lost). Every status
change goes through ``controlplane.store.transitions`` and so leaves an event.

An attempt the store thinks is live but the runtime does not know any more (its launch was
applied, so the runtime should) is ended as *orphaned*: the runtime restarted or the cluster
went away (a runtime that survives its controller, like ``RayRuntime``, adopts its attempts
instead), and the job is retried rather than waiting forever, without using a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from controlplane.controller.outcomes import ORPHANED, attempt_outcome, attempt_path, job_path
from controlplane.domain.errors import DomainError, NotFoundError
from controlplane.domain.statuses import AttemptStatus, JobStatus
from controlplane.runtime.types import (
    AttemptObservation,
    CheckpointCommit,
    NodeObservation,
    Observation,
    StepReport,
)
from controlplane.services.checkpoints import record_commit
from controlplane.store.records import AttemptRecord, JobRecord, NodeState
from controlplane.store.repositories import (
    AttemptRepository,
    EventRepository,
    IntentRepository,
    JobRepository,
    NodeRepository,
    PoolRepository,
)
from controlplane.store.transitions import switch_attempt_status, switch_job_status

log = logging.getLogger(__name__)

LIVE_IN_RUNTIME = {AttemptStatus.LAUNCHING, AttemptStatus.RUNNING, AttemptStatus.STOPPING}


def sync_nodes(session: Session, nodes: Sequence[NodeObservation]) -> None:
    """Mirror the runtime's nodes: upsert each one, set ready / cordoned / lost."""
    pools = {pool.name: pool.id for pool in PoolRepository(session).list()}
    repo = NodeRepository(session)
    seen: set[str] = set()
    for node in nodes:
        pool_id = pools.get(node.pool)
        if pool_id is None:
            continue
        seen.add(node.name)
        record, _ = repo.upsert(pool_id=pool_id, name=node.name, accelerator=node.accelerator,
                                devices=node.devices, labels=dict(node.labels))
        state = NodeState.LOST if not node.alive else NodeState.CORDONED if node.cordoned else NodeState.READY
        repo.set_state(record.id, state, message=f"runtime reports node {node.name} {state.value}")
    for pool_id in pools.values():
        for record in repo.list_for_pool(pool_id):
            if record.name not in seen and record.state is not NodeState.LOST:
                repo.set_state(record.id, NodeState.LOST, message=f"node {record.name} left the cluster")


def sync_progress(session: Session, reports: Iterable[StepReport], *, clock_offset: float = 0.0) -> None:
    """Fold step reports into each attempt's progress (latest step, loss, tokens and rates)."""
    by_attempt: dict[str, list[StepReport]] = {}
    for report in reports:
        by_attempt.setdefault(report.attempt_id, []).append(report)
    repo = AttemptRepository(session)
    for attempt_id, batch in by_attempt.items():
        try:
            attempt = repo.get(attempt_id)
        except NotFoundError:  # reports of an attempt the store never recorded are dropped
            continue
        progress = _progress(attempt.progress, batch, clock_offset)
        repo.record_progress(attempt_id, progress)
        if not attempt.progress and attempt.number > 1 and int(progress["firstStep"]) > 1:
            _record_resume(session, attempt, int(progress["firstStep"]))


def _record_resume(session: Session, attempt: AttemptRecord, first_step: int) -> None:
    """A later attempt's first report past step 1: it resumed from a checkpoint."""
    job = JobRepository(session).get(attempt.job_id)
    EventRepository(session).append(
        type="attempt.resumed", entity="attempt", entity_id=attempt.id, job_id=job.id, team=job.team,
        message=f"attempt {attempt.number} resumed training at step {first_step} (restored step {first_step - 1})",
        data={"attempt": attempt.number, "fromStep": first_step - 1, "firstStep": first_step})


def _progress(previous: dict[str, Any], batch: Sequence[StepReport], clock_offset: float) -> dict[str, Any]:
    lead = [r for r in batch if r.rank == 0] or list(batch)
    latest = max(lead, key=lambda r: (r.step, r.time))
    tokens = int(previous.get("tokens", 0)) + sum(r.tokens or 0 for r in lead)
    progress: dict[str, Any] = {"step": latest.step, "tokens": tokens, "time": latest.time + clock_offset}
    if latest.loss is not None:
        progress["loss"] = latest.loss
    first_time = previous.get("firstTime", min(r.time for r in lead) + clock_offset)
    first_step = previous.get("firstStep", min(r.step for r in lead))
    first_runtime = previous.get("firstRuntimeTime", min(r.time for r in lead))
    progress["firstTime"], progress["firstStep"] = first_time, first_step
    progress["firstRuntimeTime"] = first_runtime
    elapsed = latest.time - first_runtime  # rates on the runtime's own clock (a simulator's runs fast)
    if elapsed > 0 and latest.step > first_step:
        progress["stepsPerSecond"] = (latest.step - first_step) / elapsed
        progress["tokensPerSecond"] = tokens / elapsed
    return progress


def sync_attempts(session: Session, observation: Observation) -> list[str]:
    """Move every live attempt of the store to what the runtime says; returns the attempt ids
    whose end was recorded (the runtime may forget them)."""
    attempts = AttemptRepository(session)
    intents = IntentRepository(session)
    jobs = JobRepository(session)
    ended: list[str] = []
    for attempt in attempts.list_by_status():
        seen = observation.attempt(attempt.id)
        job = jobs.get(attempt.job_id)
        if seen is None:
            launch = intents.find(attempt.request_id)
            if attempt.status in LIVE_IN_RUNTIME and launch is not None and launch.state == "applied":
                _end(session, job, attempt, state=ORPHANED,
                     reason="the runtime has no record of this attempt any more (it restarted or the cluster "
                            "went away)", log_tail=())
            continue
        if seen.terminal:
            reason = seen.reason
            stop = intents.find(f"{attempt.request_id}:stop") if seen.state == "stopped" else None
            if stop is not None and stop.payload.get("reason"):
                reason = str(stop.payload["reason"])  # why the control plane asked, not how it ended
            _end(session, job, attempt, state=seen.state, reason=reason, log_tail=_log_tail(seen))
            ended.append(attempt.id)
        elif seen.state == "running" and attempt.status in (AttemptStatus.PENDING, AttemptStatus.LAUNCHING):
            nodes = sorted({rank.node for rank in seen.ranks})
            _move_attempt(session, attempt, AttemptStatus.RUNNING,
                          f"all {len(seen.ranks)} ranks running on {', '.join(nodes)}")
            if job.status is JobStatus.SCHEDULED:
                switch_job_status(session, job.id, JobStatus.RUNNING,
                                  message=f"attempt {attempt.number} running on {', '.join(nodes)}",
                                  data={"attempt": attempt.number})
    return ended


def _log_tail(seen: AttemptObservation) -> tuple[str, ...]:
    failed = [rank for rank in seen.ranks if rank.error or (rank.exit_code not in (None, 0))]
    source = failed[0] if failed else (seen.ranks[0] if seen.ranks else None)
    return source.log_tail if source else ()


def _end(session: Session, job: JobRecord, attempt: AttemptRecord, *, state: str, reason: str | None,
         log_tail: Sequence[str]) -> None:
    spec_restarts = int(job.spec.get("maxRestarts", 10))
    outcome = attempt_outcome(state=state, reason=reason, log_tail=log_tail, number=attempt.number,
                              job_status=job.status, restarts=job.restarts, max_restarts=spec_restarts)
    _move_attempt(session, attempt, outcome.attempt_status, outcome.message, exit_reason=outcome.exit_reason)
    if job.status.value in ("SUCCEEDED", "FAILED", "CANCELLED"):
        return
    for status in job_path(job.status, outcome.job_status):
        switch_job_status(session, job.id, status, message=outcome.message,
                          data={"attempt": attempt.number, "runtimeState": state})
    if outcome.counts_restart:
        JobRepository(session).increment_restarts(job.id)


def _move_attempt(session: Session, attempt: AttemptRecord, target: AttemptStatus, message: str,
                  exit_reason: str | None = None) -> None:
    path = attempt_path(attempt.status, target)
    for index, status in enumerate(path):
        last = index == len(path) - 1
        switch_attempt_status(session, attempt.id, status, message=message,
                              exit_reason=exit_reason if last else None)


def cancel_idle_jobs(session: Session) -> None:
    """A CANCELLING job with nothing left running is CANCELLED."""
    jobs = JobRepository(session)
    attempts = AttemptRepository(session)
    for job in jobs.in_queue_order((JobStatus.CANCELLING,)):
        if attempts.active_for_job(job.id) is None:
            switch_job_status(session, job.id, JobStatus.CANCELLED, message="cancelled; no attempt was running")


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def sync_checkpoints(session: Session, commits: Iterable[CheckpointCommit], *, clock_offset: float = 0.0) -> None:
    """Record every checkpoint commit the ranks reported (once per checkpoint and tier)."""
    attempts = AttemptRepository(session)
    jobs = JobRepository(session)
    for commit in commits:
        try:
            attempt = attempts.get(commit.attempt_id)
            record_commit(session, job=jobs.get(attempt.job_id), step=commit.step, uri=commit.uri,
                          bytes=commit.bytes, attempt_id=attempt.id, committed_at=utc(commit.time + clock_offset),
                          snapshot_s=commit.snapshot_s, persist_s=commit.persist_s)
        except DomainError as error:  # an unknown attempt or a URI naming no checkpoint: not ours to keep
            log.warning("ignoring checkpoint commit %s: %s", commit.uri, error)


def sync(session: Session, observation: Observation, *, clock_offset: float = 0.0) -> list[str]:
    """The whole passive half of a tick, in one transaction."""
    sync_nodes(session, observation.nodes)
    sync_progress(session, observation.step_reports, clock_offset=clock_offset)
    sync_checkpoints(session, observation.checkpoint_commits, clock_offset=clock_offset)
    ended = sync_attempts(session, observation)
    cancel_idle_jobs(session)
    return ended
