"""Attempts: create the next attempt of a job, look attempts up by job or launch request id.

An attempt is created ``PENDING`` with the next ``number`` of its job; a job has at most one
active attempt (``PENDING``, ``LAUNCHING``, ``RUNNING`` or ``STOPPING``) at a time. Statuses
change only through :mod:`controlplane.store.transitions`; creating an attempt writes no event
(the controller that creates it records why).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from controlplane.domain.errors import ConflictError, NotFoundError
from controlplane.domain.statuses import ACTIVE_ATTEMPT_STATUSES, AttemptStatus
from controlplane.store.converters import attempt_record
from controlplane.store.models import AttemptRow, JobRow
from controlplane.store.models.base import new_id, utcnow
from controlplane.store.records import AttemptRecord
from controlplane.store.repositories._support import conflict_on_integrity_error

_ACTIVE = [status.value for status in ACTIVE_ATTEMPT_STATUSES]


def default_request_id(job_id: str, number: int) -> str:
    """The launch request id of attempt ``number`` of ``job_id``: derivable again after a crash."""
    return f"{job_id}:attempt-{number}"


class AttemptRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, job_id: str, *, pool_id: str | None = None, accelerator: str | None = None,
            placement: dict[str, Any] | None = None, request_id: str | None = None,
            attempt_id: str | None = None, now: datetime | None = None) -> AttemptRecord:
        """Create the next ``PENDING`` attempt of ``job_id``.

        Raises ``NotFoundError`` for an unknown job and ``ConflictError`` if the job still has an
        active attempt or the request id is taken (also when two callers race for one number).
        """
        if self._session.scalar(select(JobRow.id).where(JobRow.id == job_id)) is None:
            raise NotFoundError(f"job {job_id} not found", field="job_id")
        active = self.active_for_job(job_id)
        if active is not None:
            raise ConflictError(
                f"job {job_id} already has an active attempt #{active.number} ({active.status})",
                field="job_id", hint="end the active attempt before creating the next one",
            )
        number = (self._session.scalar(
            select(func.max(AttemptRow.number)).where(AttemptRow.job_id == job_id)) or 0) + 1
        moment = now or utcnow()
        row = AttemptRow(
            id=attempt_id or new_id(), job_id=job_id, number=number, status=AttemptStatus.PENDING.value,
            status_message="created", pool_id=pool_id, accelerator=accelerator,
            placement=dict(placement or {}), request_id=request_id or default_request_id(job_id, number),
            created_at=moment, started_at=None, ended_at=None, exit_reason=None,
        )
        with conflict_on_integrity_error(
            self._session, f"attempt #{number} of job {job_id} or request id {row.request_id} already exists",
            field="request_id",
        ):
            self._session.add(row)
        return attempt_record(row)

    def get(self, attempt_id: str) -> AttemptRecord:
        """The attempt with id ``attempt_id``; ``NotFoundError`` if there is none."""
        row = self._session.get(AttemptRow, attempt_id)
        if row is None:
            raise NotFoundError(f"attempt {attempt_id} not found", field="attempt_id")
        return attempt_record(row)

    def get_by_request_id(self, request_id: str) -> AttemptRecord | None:
        """The attempt launched with ``request_id``, or ``None``."""
        row = self._session.scalars(
            select(AttemptRow).where(AttemptRow.request_id == request_id)).one_or_none()
        return attempt_record(row) if row else None

    def list_for_job(self, job_id: str) -> builtins.list[AttemptRecord]:
        """Every attempt of ``job_id``, first attempt first."""
        rows = self._session.scalars(
            select(AttemptRow).where(AttemptRow.job_id == job_id).order_by(AttemptRow.number))
        return [attempt_record(row) for row in rows]

    def list_for_jobs(self, job_ids: Iterable[str]) -> dict[str, builtins.list[AttemptRecord]]:
        """The attempts of each job in ``job_ids`` (first attempt first); jobs without any are absent."""
        wanted = builtins.list(dict.fromkeys(job_ids))
        by_job: dict[str, builtins.list[AttemptRecord]] = {}
        if not wanted:
            return by_job
        rows = self._session.scalars(
            select(AttemptRow).where(AttemptRow.job_id.in_(wanted))
            .order_by(AttemptRow.job_id, AttemptRow.number))
        for row in rows:
            by_job.setdefault(row.job_id, []).append(attempt_record(row))
        return by_job

    def active_for_job(self, job_id: str) -> AttemptRecord | None:
        """The job's attempt that has not ended yet, if any."""
        row = self._session.scalars(
            select(AttemptRow)
            .where(AttemptRow.job_id == job_id, AttemptRow.status.in_(_ACTIVE))
            .order_by(AttemptRow.number.desc())
            .limit(1)
        ).one_or_none()
        return attempt_record(row) if row else None

    def count_active_in_pool(self, pool_id: str) -> int:
        """How many attempts placed in ``pool_id`` have not ended."""
        return self._session.scalar(
            select(func.count()).select_from(AttemptRow)
            .where(AttemptRow.pool_id == pool_id, AttemptRow.status.in_(_ACTIVE))) or 0

    def list_by_status(self, statuses: Iterable[AttemptStatus] = ACTIVE_ATTEMPT_STATUSES
                       ) -> builtins.list[AttemptRecord]:
        """Attempts in any of ``statuses`` (all active ones by default), oldest first."""
        values = [AttemptStatus(status).value for status in statuses]
        rows = self._session.scalars(
            select(AttemptRow).where(AttemptRow.status.in_(values))
            .order_by(AttemptRow.created_at, AttemptRow.id))
        return [attempt_record(row) for row in rows]

    def ended_since(self, since: datetime, statuses: Iterable[AttemptStatus]) -> builtins.list[AttemptRecord]:
        """Attempts in any of ``statuses`` that ended at or after ``since``, oldest end first."""
        values = [AttemptStatus(status).value for status in statuses]
        rows = self._session.scalars(
            select(AttemptRow).where(AttemptRow.status.in_(values), AttemptRow.ended_at >= since)
            .order_by(AttemptRow.ended_at, AttemptRow.id))
        return [attempt_record(row) for row in rows]

    def record_progress(self, attempt_id: str, progress: dict[str, Any]) -> AttemptRecord:
        """Merge the latest step report into the attempt's ``progress`` document."""
        row = self._session.get(AttemptRow, attempt_id)
        if row is None:
            raise NotFoundError(f"attempt {attempt_id} not found", field="attempt_id")
        row.progress = {**(row.progress or {}), **progress}
        self._session.flush()
        return attempt_record(row)
