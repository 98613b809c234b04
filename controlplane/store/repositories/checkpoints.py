"""Checkpoints: record each tier commit of a checkpoint, list and look up a job's checkpoints.

``record_commit`` is idempotent: recording the same (checkpoint, tier) twice changes nothing, so
a controller that re-reads a runtime's commit stream after a restart writes no duplicates. A
checkpoint's row is created by its first commit; later commits on other tiers append to
``tiers``. Writes no event (the use case records one with what it knows).
"""

from __future__ import annotations

import builtins
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from controlplane.domain.errors import NotFoundError
from controlplane.store.models.base import utcnow
from controlplane.store.models.checkpoint import CheckpointRecord, CheckpointRow, checkpoint_record
from controlplane.store.models.job import JobRow
from controlplane.store.repositories._support import conflict_on_integrity_error


class CheckpointRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def record_commit(self, *, job_id: str, checkpoint: str, step: int, tier: str, uri: str, bytes: int,
                      attempt_id: str | None = None, snapshot_s: float | None = None,
                      persist_s: float | None = None, committed_at: datetime | None = None
                      ) -> tuple[CheckpointRecord, bool]:
        """Add ``tier`` to the checkpoint (creating it); returns (record, whether the tier was new).

        Raises ``NotFoundError`` for an unknown job.
        """
        if self._session.scalar(select(JobRow.id).where(JobRow.id == job_id)) is None:
            raise NotFoundError(f"job {job_id} not found", field="job_id")
        moment = committed_at or utcnow()
        entry = {"tier": tier, "uri": uri, "committedAt": moment.isoformat(), "persistS": persist_s}
        row = self._find_row(job_id, checkpoint)
        if row is None:
            row = CheckpointRow(job_id=job_id, attempt_id=attempt_id, checkpoint=checkpoint, step=step,
                                bytes=bytes, snapshot_s=snapshot_s, tiers=[entry], created_at=moment,
                                updated_at=moment)
            with conflict_on_integrity_error(self._session, f"checkpoint {checkpoint} of job {job_id} exists",
                                             field="checkpoint"):
                self._session.add(row)
            return checkpoint_record(row), True
        if any(existing.get("tier") == tier for existing in row.tiers or []):
            return checkpoint_record(row), False
        row.tiers = [*(row.tiers or []), entry]
        row.bytes = max(row.bytes, bytes)
        row.snapshot_s = row.snapshot_s if row.snapshot_s is not None else snapshot_s
        row.attempt_id = row.attempt_id or attempt_id
        row.updated_at = max(row.updated_at, moment)
        self._session.flush()
        return checkpoint_record(row), True

    def list_for_job(self, job_id: str, *, limit: int | None = None) -> builtins.list[CheckpointRecord]:
        """The job's checkpoints, newest step first (ties: newest first)."""
        query = (select(CheckpointRow).where(CheckpointRow.job_id == job_id)
                 .order_by(CheckpointRow.step.desc(), CheckpointRow.created_at.desc(), CheckpointRow.id))
        if limit is not None:
            query = query.limit(limit)
        return [checkpoint_record(row) for row in self._session.scalars(query)]

    def find(self, job_id: str, checkpoint: str) -> CheckpointRecord | None:
        row = self._find_row(job_id, checkpoint)
        return checkpoint_record(row) if row is not None else None

    def latest_at_step(self, job_id: str, step: int) -> CheckpointRecord | None:
        """The newest checkpoint of the job at ``step`` (several attempts may have saved it)."""
        row = self._session.scalars(
            select(CheckpointRow).where(CheckpointRow.job_id == job_id, CheckpointRow.step == step)
            .order_by(CheckpointRow.created_at.desc(), CheckpointRow.id).limit(1)).one_or_none()
        return checkpoint_record(row) if row is not None else None

    def _find_row(self, job_id: str, checkpoint: str) -> CheckpointRow | None:
        return self._session.scalars(select(CheckpointRow).where(
            CheckpointRow.job_id == job_id, CheckpointRow.checkpoint == checkpoint)).one_or_none()
