"""Use cases on workloads (training jobs and inference services): submit, apply, list, get, cancel.

Invariants owned here:
- A workload is identified by (kind, team, name) and by its uid; its spec is immutable once
  submitted (change it by cancelling and submitting under a new name).
- ``submit`` with an ``Idempotency-Key`` is retry-safe: the same key and body return the
  workload first created; the same key with another body is a conflict.
- Every write happens in one transaction together with its audit event; status changes go
  through ``controlplane.store.transitions``.
"""

from __future__ import annotations

from typing import Any

import jobspecs
from controlplane.domain.errors import ConflictError, InvalidInputError, NotFoundError
from controlplane.domain.statuses import JobStatus
from controlplane.services.context import ServiceContext
from controlplane.services.documents import check_identity, parse_resource, stored_spec
from controlplane.services.timeline import TIMELINE_EVENT_TYPES, disruptions
from controlplane.services.views import job_view
from controlplane.store.engine import session_scope
from controlplane.store.priorities import priority_for_class
from controlplane.store.records import JobRecord
from controlplane.store.repositories.attempts import AttemptRepository
from controlplane.store.repositories.events import EventRepository
from controlplane.store.repositories.jobs import JobRepository
from controlplane.store.repositories.pools import PoolRepository
from controlplane.store.repositories.queues import QueueRepository
from controlplane.store.transitions import switch_job_status
from controlplane.wire import ApplyOutcome, ApplyResult, JobView, Page

DEFAULT_QUEUE = "default"
CANCELLABLE_NOW = {JobStatus.PENDING}
CANCEL_VIA_STOP = {JobStatus.SCHEDULED, JobStatus.RUNNING}
ALREADY_CANCELLING = {JobStatus.CANCELLING, JobStatus.CANCELLED}
TIMELINE_LIMIT = 1000


class WorkloadService:
    def __init__(self, context: ServiceContext) -> None:
        self._ctx = context

    # -- writes ---------------------------------------------------------------------------------
    def submit(self, document: dict[str, Any], *, kind: str,
               idempotency_key: str | None = None) -> tuple[JobView, bool]:
        """Create a workload; returns (view, created). ``created`` is False for an idempotent retry."""
        resource = parse_resource(document, expected_kind=kind)
        self._ctx.validator.check_workload(resource)
        digest = jobspecs.spec_hash(resource)
        team = resource.metadata.team
        if idempotency_key is not None and not (0 < len(idempotency_key) <= 128):
            raise InvalidInputError("the Idempotency-Key header must be 1 to 128 characters",
                                    field="Idempotency-Key", hint="use a UUID")
        try:
            with session_scope(self._ctx.session_factory) as session:
                jobs = JobRepository(session)
                if idempotency_key:
                    previous = jobs.find_by_idempotency_key(team, idempotency_key)
                    if previous is not None:
                        return self._replay(session, previous, digest, idempotency_key), False
                self._check_queue(session, resource)
                existing = jobs.find(kind, team, resource.metadata.name)
                if existing is not None:
                    raise _already_exists(existing)
                job = self._create(session, resource, digest, idempotency_key)
                return job_view(job), True
        except ConflictError:
            # A concurrent submit with the same key may have won the race: answer as a retry.
            if idempotency_key:
                with session_scope(self._ctx.session_factory) as session:
                    previous = JobRepository(session).find_by_idempotency_key(team, idempotency_key)
                    if previous is not None:
                        return self._replay(session, previous, digest, idempotency_key), False
            raise

    def apply(self, document: dict[str, Any], *, kind: str, team: str, name: str) -> ApplyResult:
        """Create the workload if absent; ``unchanged`` if identical; conflict if it differs."""
        resource = parse_resource(document, expected_kind=kind)
        check_identity(resource, name=name, team=team)
        self._ctx.validator.check_workload(resource)
        digest = jobspecs.spec_hash(resource)
        with session_scope(self._ctx.session_factory) as session:
            existing = JobRepository(session).find(kind, team, name)
            if existing is not None:
                if existing.spec_hash != digest:
                    raise ConflictError(
                        f"{kind} {team}/{name} already exists with a different spec; workload specs are "
                        "immutable once submitted",
                        field="spec", hint=f"cancel it (`suanli jobs cancel {name} --team {team}`) and submit "
                                           "the new spec under another metadata.name",
                    )
                view = self._view(session, existing)
                return ApplyResult(outcome=ApplyOutcome.unchanged, kind=kind, name=name, team=team,
                                   object=view.to_json_dict())
            self._check_queue(session, resource)
            job = self._create(session, resource, digest, None)
            return ApplyResult(outcome=ApplyOutcome.created, kind=kind, name=name, team=team,
                               object=job_view(job).to_json_dict())

    def cancel(self, *, kind: str, ref: str, team: str | None, reason: str | None = None) -> JobView:
        """Cancel: PENDING ends at once; SCHEDULED/RUNNING go CANCELLING until the attempt stops."""
        with session_scope(self._ctx.session_factory) as session:
            job = self._resolve(session, kind, ref, team)
            why = f"cancelled by user: {reason}" if reason else "cancelled by user"
            if job.status in CANCELLABLE_NOW:
                job = switch_job_status(session, job.id, JobStatus.CANCELLED, message=why)
            elif job.status in CANCEL_VIA_STOP:
                job = switch_job_status(session, job.id, JobStatus.CANCELLING,
                                        message=f"{why}; stopping the running attempt")
            elif job.status not in ALREADY_CANCELLING:
                # Terminal: let the transition table produce the precise error.
                switch_job_status(session, job.id, JobStatus.CANCELLED, message=why)
            return self._view(session, job)

    # -- reads ----------------------------------------------------------------------------------
    def get(self, *, kind: str, ref: str, team: str | None) -> JobView:
        with session_scope(self._ctx.session_factory) as session:
            return self._view(session, self._resolve(session, kind, ref, team))

    def list(self, *, kind: str, team: str | None = None, statuses: list[str] | None = None,
             queue: str | None = None, cursor: str | None = None, limit: int | None = None) -> Page[JobView]:
        wanted = _parse_statuses(statuses)
        page_size = min(limit or self._ctx.settings.page_size_default, self._ctx.settings.page_size_max)
        with session_scope(self._ctx.session_factory) as session:
            page = JobRepository(session).list(kind=kind, team=team, statuses=wanted, queue=queue,
                                               after=cursor, limit=page_size)
            attempts = AttemptRepository(session).list_for_jobs([job.id for job in page.items])
            pool_names = PoolRepository(session).names_by_id()
            items = [job_view(job, attempts.get(job.id, []), pool_names) for job in page.items]
            return Page[JobView](items=items, next_cursor=page.next_cursor)

    # -- helpers --------------------------------------------------------------------------------
    def _create(self, session: Any, resource: Any, digest: str, idempotency_key: str | None) -> JobRecord:
        scheduling = resource.spec.scheduling
        job = JobRepository(session).add(
            kind=resource.kind, team=resource.metadata.team, name=resource.metadata.name,
            queue=scheduling.queue, priority_class=scheduling.priority_class,
            priority=priority_for_class(scheduling.priority_class), spec=stored_spec(resource),
            labels=dict(resource.metadata.labels), spec_hash=digest, idempotency_key=idempotency_key,
            status_message="waiting for the scheduler",
        )
        EventRepository(session).append(
            type="job.submitted", entity="job", entity_id=job.id, job_id=job.id, team=job.team,
            message=f"{job.kind} {job.team}/{job.name} submitted to queue {job.queue}",
            data={"specHash": digest, "idempotencyKey": idempotency_key},
        )
        return job

    def _replay(self, session: Any, previous: JobRecord, digest: str, key: str) -> JobView:
        if previous.spec_hash != digest:
            raise ConflictError(
                f"Idempotency-Key {key!r} was already used for {previous.kind} "
                f"{previous.team}/{previous.name} with a different spec",
                field="Idempotency-Key", hint="use a new key for a new submission",
            )
        return self._view(session, previous)

    def _check_queue(self, session: Any, resource: Any) -> None:
        queue = resource.spec.scheduling.queue
        if queue == DEFAULT_QUEUE:
            return
        team = resource.metadata.team
        if QueueRepository(session).find(team, queue) is None:
            known = sorted(q.name for q in QueueRepository(session).list(team=team))
            raise InvalidInputError(
                f"queue {queue!r} does not exist for team {team!r}",
                field="spec.scheduling.queue",
                hint=f"use one of: {', '.join([DEFAULT_QUEUE, *known])}, or create it with `suanli apply -f`",
            )

    def _resolve(self, session: Any, kind: str, ref: str, team: str | None) -> JobRecord:
        jobs = JobRepository(session)
        job = jobs.get(ref) if team is None else None
        if job is None or job.kind != kind:
            job = jobs.find(kind, team or "default", ref)
        if job is None:
            where = f" in team {team or 'default'!r}"
            raise NotFoundError(f"no {kind} named or with uid {ref!r}{where}",
                                field="job", hint="list them with `suanli jobs list`")
        return job

    def _view(self, session: Any, job: JobRecord) -> JobView:
        attempts = AttemptRepository(session).list_for_job(job.id)
        names = PoolRepository(session).names_by_id()
        view = job_view(job, attempts, names)
        if len(attempts) > 1 or any(a.status.value in ("PREEMPTED", "FAILED", "STOPPED") for a in attempts):
            events = EventRepository(session)
            timeline_events = sorted((event for kind in TIMELINE_EVENT_TYPES
                                      for event in events.list(job_id=job.id, type_prefix=kind, limit=TIMELINE_LIMIT)),
                                     key=lambda event: event.seq)
            view.status.disruptions = disruptions(attempts, timeline_events, names)
        return view


def _already_exists(existing: JobRecord) -> ConflictError:
    return ConflictError(
        f"{existing.kind} {existing.team}/{existing.name} already exists (uid {existing.id}, "
        f"status {existing.status.value})",
        field="metadata.name",
        hint="choose another metadata.name; `suanli apply` leaves an identical job unchanged",
    )


def _parse_statuses(statuses: list[str] | None) -> list[JobStatus] | None:
    if not statuses:
        return None
    parsed = []
    for status in statuses:
        try:
            parsed.append(JobStatus(status.upper()))
        except ValueError:
            raise InvalidInputError(
                f"unknown status {status!r}", field="status",
                hint=f"one of: {', '.join(s.value for s in JobStatus)}",
            ) from None
    return parsed
