"""Status changes of jobs and attempts: **the status column is changed only here**.

Invariant: ``jobs.status`` and ``attempts.status`` are written by no other code than
:func:`switch_job_status` and :func:`switch_attempt_status` (rows are only *created* elsewhere,
in their initial ``PENDING`` status). Each switch, inside the caller's transaction:

1. loads the row, locked with ``SELECT ... FOR UPDATE`` on PostgreSQL (SQLite serialises writers
   with ``BEGIN IMMEDIATE`` instead) and refreshed, so the check below sees the committed truth;
2. checks the edge against the transition table in :mod:`controlplane.domain.statuses`, raising
   :class:`~controlplane.domain.errors.InvalidTransitionError` for any other move;
3. writes the status, its message and the timestamps that the move implies (``finished_at`` of
   a job, ``started_at`` / ``ended_at`` / ``exit_reason`` of an attempt);
4. appends exactly one event (``job.status_changed`` / ``attempt.status_changed``) whose data
   holds ``{"from": <old>, "to": <new>}``.

Because the row and the event are written in the same transaction, a rollback leaves neither,
and a commit leaves both: the event log is a complete history of every status.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from controlplane.domain.errors import NotFoundError
from controlplane.domain.statuses import (
    TERMINAL_ATTEMPT_STATUSES,
    TERMINAL_JOB_STATUSES,
    AttemptStatus,
    JobStatus,
    check_attempt_transition,
    check_job_transition,
)
from controlplane.store.converters import attempt_record, job_record
from controlplane.store.models import AttemptRow, JobRow
from controlplane.store.models.base import utcnow
from controlplane.store.records import AttemptRecord, JobRecord
from controlplane.store.repositories.events import EventRepository


def switch_job_status(session: Session, job_id: str, target: JobStatus, *, message: str,
                      data: dict[str, Any] | None = None, now: datetime | None = None) -> JobRecord:
    """Move job ``job_id`` to ``target`` and record a ``job.status_changed`` event."""
    row = session.scalars(
        select(JobRow).where(JobRow.id == job_id).with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"job {job_id} not found", field="job_id")
    current, target = JobStatus(row.status), JobStatus(target)
    check_job_transition(current, target)
    moment = now or utcnow()
    row.status = target.value
    row.status_message = message
    row.updated_at = moment
    if target in TERMINAL_JOB_STATUSES:
        row.finished_at = moment
    EventRepository(session).append(
        type="job.status_changed", entity="job", entity_id=row.id, job_id=row.id, team=row.team,
        message=message, data={**(data or {}), "from": current.value, "to": target.value}, now=moment,
    )
    return job_record(row)


def switch_attempt_status(session: Session, attempt_id: str, target: AttemptStatus, *, message: str,
                          data: dict[str, Any] | None = None, exit_reason: str | None = None,
                          now: datetime | None = None) -> AttemptRecord:
    """Move attempt ``attempt_id`` to ``target`` and record an ``attempt.status_changed`` event.

    Entering ``RUNNING`` stamps ``started_at``; entering a terminal status stamps ``ended_at``
    and ``exit_reason`` (``exit_reason`` if given, else ``message``).
    """
    row = session.scalars(
        select(AttemptRow).where(AttemptRow.id == attempt_id).with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"attempt {attempt_id} not found", field="attempt_id")
    current, target = AttemptStatus(row.status), AttemptStatus(target)
    check_attempt_transition(current, target)
    moment = now or utcnow()
    row.status = target.value
    row.status_message = message
    if target is AttemptStatus.RUNNING and row.started_at is None:
        row.started_at = moment
    if target in TERMINAL_ATTEMPT_STATUSES:
        row.ended_at = moment
        row.exit_reason = exit_reason or message
    team = session.scalar(select(JobRow.team).where(JobRow.id == row.job_id))
    EventRepository(session).append(
        type="attempt.status_changed", entity="attempt", entity_id=row.id, job_id=row.job_id,
        team=team, message=message,
        data={**(data or {}), "from": current.value, "to": target.value, "number": row.number},
        now=moment,
    )
    return attempt_record(row)
