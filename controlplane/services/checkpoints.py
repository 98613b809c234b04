"""Use cases on checkpoints: record the commits the runtime observes, list and describe them.

The controller calls ``record`` for each ``CheckpointCommit`` it observes (one per checkpoint and
tier; recording the same one twice is a no-op). A checkpoint is named by its id in the commit's
URI (``<tier>/<job>/step-<step>-<attempt tag>`` for host-memory tiers, ``<tier URI>/step-...``
otherwise), or by ``checkpoint``/``tier`` when the commit carries them. Each new tier commit
writes a ``job.checkpoint_committed`` event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from controlplane.domain.errors import InvalidInputError, NotFoundError
from controlplane.services.context import ServiceContext
from controlplane.store.engine import session_scope
from controlplane.store.models.checkpoint import CheckpointRecord
from controlplane.store.records import JobRecord
from controlplane.store.repositories.checkpoints import CheckpointRepository
from controlplane.store.repositories.events import EventRepository
from controlplane.store.repositories.jobs import JobRepository
from controlplane.wire.checkpoints import CheckpointTierView, CheckpointView

NODE_MEMORY_SCHEMES = ("memory", "peer")
DEFAULT_KIND = "TrainingJob"


def split_commit_uri(uri: str) -> tuple[str, str]:
    """``(tier, checkpoint id)`` of a commit URI; ``InvalidInputError`` if it names no checkpoint."""
    head, _, checkpoint = uri.rstrip("/").rpartition("/")
    parts = checkpoint.split("-")
    if len(parts) != 3 or parts[0] != "step" or not parts[1].isdigit() or "://" not in uri:
        raise InvalidInputError(f"{uri!r} does not name a checkpoint (…/step-<step>-<attempt tag>)", field="uri")
    scheme = uri.partition("://")[0].lower()
    tier = f"{scheme}://" if scheme in NODE_MEMORY_SCHEMES else head
    return tier, checkpoint


def record_commit(session: Any, *, job: JobRecord, step: int, uri: str, bytes: int, attempt_id: str | None,
                  tier: str | None = None, checkpoint: str | None = None, snapshot_s: float | None = None,
                  persist_s: float | None = None, committed_at: datetime | None = None) -> CheckpointRecord:
    """Record one tier commit in the caller's transaction (the controller's sync uses this too);
    a new tier writes a ``job.checkpoint_committed`` event, a repeated one nothing."""
    derived_tier, derived_checkpoint = split_commit_uri(uri) if tier is None or checkpoint is None else ("", "")
    tier, checkpoint = tier or derived_tier, checkpoint or derived_checkpoint
    record, new_tier = CheckpointRepository(session).record_commit(
        job_id=job.id, checkpoint=checkpoint, step=step, tier=tier, uri=uri, bytes=bytes,
        attempt_id=attempt_id, snapshot_s=snapshot_s, persist_s=persist_s, committed_at=committed_at)
    if new_tier:
        EventRepository(session).append(
            type="job.checkpoint_committed", entity="job", entity_id=job.id, job_id=job.id, team=job.team,
            message=f"checkpoint at step {step} committed on {tier} ({_size(bytes)})",
            data={"checkpoint": checkpoint, "step": step, "tier": tier, "uri": uri, "bytes": bytes,
                  "attemptId": attempt_id, "persistS": persist_s}, now=committed_at)
    return record


def checkpoint_view(record: CheckpointRecord) -> CheckpointView:
    tiers = [CheckpointTierView(tier=str(item.get("tier")), uri=str(item.get("uri")),
                                committed_at=item.get("committedAt"), persist_s=item.get("persistS"))
             for item in record.tiers]
    return CheckpointView(uid=record.id, job=record.job_id, attempt=record.attempt_id, checkpoint=record.checkpoint,
                          step=record.step, bytes=record.bytes, snapshot_s=record.snapshot_s, tiers=tiers,
                          durable=any(not tier.tier.startswith("memory://") for tier in tiers),
                          created_at=record.created_at, updated_at=record.updated_at)


class CheckpointService:
    def __init__(self, context: ServiceContext) -> None:
        self._ctx = context

    def record(self, *, job_id: str, step: int, uri: str, bytes: int, attempt_id: str | None = None,
               tier: str | None = None, checkpoint: str | None = None, snapshot_s: float | None = None,
               persist_s: float | None = None, committed_at: datetime | None = None) -> CheckpointView:
        """Record that ``checkpoint`` of ``job_id`` (at ``step``) is committed on ``tier``."""
        if step < 0 or bytes < 0:
            raise InvalidInputError("step and bytes must not be negative", field="step" if step < 0 else "bytes")
        with session_scope(self._ctx.session_factory) as session:
            job = JobRepository(session).get(job_id)
            record = record_commit(session, job=job, step=step, uri=uri, bytes=bytes, attempt_id=attempt_id,
                                   tier=tier, checkpoint=checkpoint, snapshot_s=snapshot_s, persist_s=persist_s,
                                   committed_at=committed_at)
            return checkpoint_view(record)

    def list(self, *, job: str, team: str | None = None, kind: str = DEFAULT_KIND,
             limit: int | None = None) -> list[CheckpointView]:
        """The job's checkpoints, newest step first."""
        with session_scope(self._ctx.session_factory) as session:
            record = _resolve_job(session, kind, job, team)
            found = CheckpointRepository(session).list_for_job(record.id, limit=limit)
            return [checkpoint_view(item) for item in found]

    def describe(self, *, job: str, checkpoint: str, team: str | None = None,
                 kind: str = DEFAULT_KIND) -> CheckpointView:
        """One checkpoint of the job, by step (the newest at that step) or by checkpoint id."""
        with session_scope(self._ctx.session_factory) as session:
            record = _resolve_job(session, kind, job, team)
            repository = CheckpointRepository(session)
            found = (repository.latest_at_step(record.id, int(checkpoint)) if checkpoint.isdigit()
                     else repository.find(record.id, checkpoint))
            if found is None:
                raise NotFoundError(f"{kind} {record.team}/{record.name} has no checkpoint {checkpoint!r}",
                                    field="checkpoint",
                                    hint=f"list them with `suanli checkpoints list {record.name}`")
            return checkpoint_view(found)


def _resolve_job(session: Any, kind: str, ref: str, team: str | None) -> JobRecord:
    jobs = JobRepository(session)
    if team is None:
        try:
            by_id = jobs.get(ref)
        except NotFoundError:
            by_id = None
        if by_id is not None and by_id.kind == kind:
            return by_id
    found = jobs.find(kind, team or "default", ref)
    if found is None:
        raise NotFoundError(f"no {kind} named or with uid {ref!r} in team {team or 'default'!r}", field="job",
                            hint="list them with `suanli jobs list`")
    return found


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"
