"""Jobs: submit (create in ``PENDING``), look up, list with keyset pagination, count.

A job's status is never written here; see :mod:`controlplane.store.transitions`. Creating a job
writes no event: the use case that creates it appends ``job.submitted`` with what it knows.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from controlplane.domain.errors import ConflictError, InvalidInputError, NotFoundError
from controlplane.domain.statuses import JobStatus
from controlplane.store.converters import job_record
from controlplane.store.hashing import spec_hash as hash_spec
from controlplane.store.models import JobRow
from controlplane.store.models.base import new_id, utcnow
from controlplane.store.models.job import JOB_KINDS
from controlplane.store.pagination import Cursor, Page, check_limit, decode_cursor, encode_cursor
from controlplane.store.priorities import DEFAULT_PRIORITY_CLASS, priority_for_class
from controlplane.store.records import JobRecord
from controlplane.store.repositories._support import after_cursor, conflict_on_integrity_error
from controlplane.store.repositories.attempts import AttemptRepository

DEFAULT_PAGE_SIZE = 50


class JobRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, *, kind: str, team: str, name: str, queue: str, spec: dict[str, Any],
            priority_class: str = DEFAULT_PRIORITY_CLASS, priority: int | None = None,
            labels: dict[str, Any] | None = None, spec_hash: str | None = None,
            idempotency_key: str | None = None, status_message: str = "submitted",
            job_id: str | None = None, now: datetime | None = None) -> JobRecord:
        """Create a ``PENDING`` job.

        ``priority`` defaults to the integer of ``priority_class``; ``spec_hash`` defaults to
        :func:`controlplane.store.hashing.spec_hash` of ``spec`` (pass your own digest to compare
        later submissions against it). Raises ``ConflictError`` if ``(kind, team, name)`` or
        ``(team, idempotency_key)`` is taken (checked first for a precise message, and enforced
        by unique constraints against races), ``InvalidInputError`` for an unknown kind or
        priority class.
        """
        if kind not in JOB_KINDS:
            raise InvalidInputError(f"unknown job kind {kind!r}", field="kind",
                                    hint=f"use one of: {', '.join(JOB_KINDS)}")
        moment = now or utcnow()
        class_priority = priority_for_class(priority_class)
        digest = hash_spec(spec)  # also refuses a spec that is not a JSON document
        row = JobRow(
            id=job_id or new_id(), kind=kind, team=team, name=name, queue=queue,
            priority_class=priority_class,
            priority=class_priority if priority is None else priority,
            labels=dict(labels or {}), spec=dict(spec), spec_hash=spec_hash or digest,
            status=JobStatus.PENDING.value, status_message=status_message,
            idempotency_key=idempotency_key, restarts=0,
            created_at=moment, updated_at=moment, finished_at=None,
        )
        self._refuse_duplicates(row)
        with conflict_on_integrity_error(
            self._session, f"{kind} {team}/{name} clashes with an existing job (name or idempotency key)",
            field="metadata.name",
        ):
            self._session.add(row)
        return job_record(row)

    def get(self, job_id: str) -> JobRecord:
        """The job with id ``job_id``; ``NotFoundError`` if there is none."""
        row = self._session.get(JobRow, job_id)
        if row is None:
            raise NotFoundError(f"job {job_id} not found", field="job_id")
        return job_record(row)

    def find(self, kind: str, team: str, name: str) -> JobRecord | None:
        """The job named ``name`` of ``kind`` in ``team``, if any."""
        row = self._session.scalars(
            select(JobRow).where(JobRow.kind == kind, JobRow.team == team, JobRow.name == name)
        ).one_or_none()
        return job_record(row) if row else None

    def find_by_idempotency_key(self, team: str, key: str) -> JobRecord | None:
        """The job ``team`` created with idempotency key ``key``, if any."""
        row = self._session.scalars(
            select(JobRow).where(JobRow.team == team, JobRow.idempotency_key == key)
        ).one_or_none()
        return job_record(row) if row else None

    def list(self, *, kind: str | None = None, team: str | None = None,
             statuses: Iterable[JobStatus] | None = None, queue: str | None = None,
             name_prefix: str | None = None, after: Cursor | str | None = None,
             limit: int = DEFAULT_PAGE_SIZE, newest_first: bool = False) -> Page[JobRecord]:
        """One page of jobs matching every given filter, in ``(created_at, id)`` order.

        Pass the previous page's ``next_cursor`` as ``after`` to continue (the opaque string as
        received from a client, or a decoded :class:`Cursor`); a malformed string, or a cursor
        of the other order, raises ``InvalidInputError`` naming ``cursor``.
        """
        check_limit(limit)
        if isinstance(after, str):
            after = decode_cursor(after) if after else None
        query = select(JobRow)
        if kind is not None:
            query = query.where(JobRow.kind == kind)
        if team is not None:
            query = query.where(JobRow.team == team)
        if statuses is not None:
            query = query.where(JobRow.status.in_([JobStatus(s).value for s in statuses]))
        if queue is not None:
            query = query.where(JobRow.queue == queue)
        if name_prefix:
            query = query.where(JobRow.name.startswith(name_prefix, autoescape=True))
        if after is not None:
            if after.newest_first != newest_first:
                raise InvalidInputError("the cursor belongs to a listing in the other order",
                                        field="cursor", hint="keep the order fixed while paging")
            query = query.where(after_cursor(JobRow.created_at, JobRow.id, after))
        if newest_first:
            query = query.order_by(JobRow.created_at.desc(), JobRow.id.desc())
        else:
            query = query.order_by(JobRow.created_at, JobRow.id)
        rows = builtins.list(self._session.scalars(query.limit(limit + 1)))
        items = tuple(job_record(row) for row in rows[:limit])
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            next_cursor = encode_cursor(Cursor(last.created_at, last.id, newest_first))
        return Page(items=items, next_cursor=next_cursor)

    def in_queue_order(self, statuses: Iterable[JobStatus] = (JobStatus.PENDING,), *,
                       team: str | None = None, limit: int | None = None) -> builtins.list[JobRecord]:
        """Jobs in the given statuses, highest priority first, then oldest first."""
        query = select(JobRow).where(JobRow.status.in_([JobStatus(s).value for s in statuses]))
        if team is not None:
            query = query.where(JobRow.team == team)
        query = query.order_by(JobRow.priority.desc(), JobRow.created_at, JobRow.id)
        if limit is not None:
            query = query.limit(check_limit(limit))
        return [job_record(row) for row in self._session.scalars(query)]

    def count_by_status(self, *, team: str | None = None) -> dict[JobStatus, int]:
        """How many jobs are in each status (every status present, zero included)."""
        query = select(JobRow.status, func.count()).group_by(JobRow.status)
        if team is not None:
            query = query.where(JobRow.team == team)
        counts = dict.fromkeys(JobStatus, 0)
        for status, count in self._session.execute(query):
            counts[JobStatus(status)] = count
        return counts

    def count_active_attempts_in_pool(self, pool_id: str) -> int:
        """How many attempts placed in ``pool_id`` have not ended (a pool in use cannot go)."""
        return AttemptRepository(self._session).count_active_in_pool(pool_id)

    def increment_restarts(self, job_id: str, *, now: datetime | None = None) -> JobRecord:
        """Count one more restart of ``job_id`` (called when a new attempt resumes it)."""
        row = self._session.get(JobRow, job_id, with_for_update=True, populate_existing=True)
        if row is None:
            raise NotFoundError(f"job {job_id} not found", field="job_id")
        row.restarts += 1
        row.updated_at = now or utcnow()
        self._session.flush()
        return job_record(row)

    def _refuse_duplicates(self, row: JobRow) -> None:
        if self.find(row.kind, row.team, row.name) is not None:
            raise ConflictError(f"{row.kind} {row.team}/{row.name} already exists", field="metadata.name",
                                hint="choose another name, or delete the existing job first")
        if row.idempotency_key is not None and (
                self.find_by_idempotency_key(row.team, row.idempotency_key) is not None):
            raise ConflictError(f"idempotency key {row.idempotency_key!r} was already used by team "
                                f"{row.team}",
                                field="idempotency_key", hint="use a fresh key for a new submission")

    def set_message(self, job_id: str, message: str, *, now: datetime | None = None) -> JobRecord:
        """Update what ``suanli jobs describe`` says about the job (why it waits), without a status
        change; writes no event (the message may change every scheduling round)."""
        row = self._session.get(JobRow, job_id)
        if row is None:
            raise NotFoundError(f"job {job_id} not found", field="job_id")
        if row.status_message != message:
            row.status_message = message
            row.updated_at = now or utcnow()
            self._session.flush()
        return job_record(row)
