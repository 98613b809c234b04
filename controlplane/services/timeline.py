"""A job's disruptions: each time an attempt ended before the job did, and how the job came back.

Pure (``disruptions``) over what the store already holds: the attempts, the
``job.preemption_notice`` events the controller wrote with its plan, the checkpoint commits and
the ``attempt.resumed`` events. For each disruption it gives the cause (a preemption notice, a
node lost without one, a failure, an elastic job growing back, a stop), the last step trained,
the newest durable checkpoint by then, the next attempt's pool, the step it resumed from, the
steps lost and a timeline of offsets from the start of the disruption — the story ``suanli jobs describe`` and
``suanli jobs timeline`` print.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from controlplane.domain.statuses import AttemptStatus
from controlplane.store.records import AttemptRecord, EventRecord
from controlplane.wire.models import DisruptionView, TimelineEntry

NOTICE_EVENT = "job.preemption_notice"
COMMIT_EVENT = "job.checkpoint_committed"
RESUME_EVENT = "attempt.resumed"
REGROW_EVENT = "job.regrow"
TIMELINE_EVENT_TYPES = (NOTICE_EVENT, COMMIT_EVENT, RESUME_EVENT, REGROW_EVENT)
ENDED = (AttemptStatus.PREEMPTED, AttemptStatus.FAILED, AttemptStatus.STOPPED)


def _durable(tier: str) -> bool:
    return not tier.startswith("memory://")


def disruptions(attempts: Sequence[AttemptRecord], events: Sequence[EventRecord],
                pool_names: Mapping[str, str] | None = None) -> list[DisruptionView]:
    """The job's disruptions, oldest first (``attempts`` in number order, ``events`` oldest first)."""
    names = pool_names or {}
    by_number = {attempt.number: attempt for attempt in attempts}
    number_of = {attempt.id: attempt.number for attempt in attempts}
    notices = {int(e.data.get("attempt", 0)): e for e in events if e.type in (NOTICE_EVENT, REGROW_EVENT)}
    resumes = {int(e.data.get("attempt", 0)): e for e in events if e.type == RESUME_EVENT}
    commits = [e for e in events if e.type == COMMIT_EVENT and _durable(str(e.data.get("tier", "")))]
    found: list[DisruptionView] = []
    for attempt in attempts:
        following = by_number.get(attempt.number + 1)
        notice = notices.get(attempt.number)
        if attempt.status not in ENDED or (following is None and notice is None):
            continue
        cause = _cause(attempt, notice)
        began = notice.created_at if notice is not None else (attempt.ended_at or attempt.created_at)
        last_step = int(attempt.progress.get("step") or 0)
        durable = [e for e in commits if number_of.get(str(e.data.get("attemptId")), 0) <= attempt.number]
        checkpoint = max(durable, key=lambda e: (int(e.data.get("step", 0)), -e.seq), default=None)
        timeline: list[tuple[datetime, str]] = []
        if notice is not None and notice.type == REGROW_EVENT:
            timeline.append((notice.created_at, notice.message))
        elif notice is not None:
            data = notice.data
            timeline.append((notice.created_at, f"{data.get('kind', 'preemption')} notice ({data.get('source')}) "
                                                f"for {', '.join(data.get('nodes', []))} at step "
                                                f"{data.get('stepAtNotice')}; node goes at {data.get('deadline')}"))
        if checkpoint is not None and checkpoint.created_at >= began:
            timeline.append((checkpoint.created_at, f"checkpoint of step {checkpoint.data.get('step')} committed "
                                                    f"on {checkpoint.data.get('tier')}"))
        ended_at = attempt.ended_at or began
        timeline.append((ended_at, f"attempt {attempt.number} ended {attempt.status.value.lower()} at step "
                                   f"{last_step}"))
        resumed_from = resumed_after = lost = None
        next_pool = None
        if following is not None:
            next_pool = names.get(following.pool_id or "", str(following.placement.get("pool") or "")) or None
            devices = len(following.placement.get("ranks", []))
            timeline.append((following.created_at, f"attempt {following.number} placed on {next_pool} "
                                                   f"({devices}× {following.accelerator})"))
            resume = resumes.get(following.number)
            if resume is not None:
                resumed_from = int(resume.data.get("fromStep", 0))
                resumed_after = (resume.created_at - began).total_seconds()
                timeline.append((resume.created_at, f"attempt {following.number} resumed from step {resumed_from}"))
            elif following.progress.get("step"):
                resumed_from = 0  # started over: nothing was restored
            if resumed_from is not None:
                lost = max(0, last_step - resumed_from)
        found.append(DisruptionView(
            attempt=attempt.number, cause=cause,
            pool=names.get(attempt.pool_id or "", str(attempt.placement.get("pool") or "")) or None,
            nodes=sorted({str(r["node"]) for r in attempt.placement.get("ranks", [])}), began_at=began,
            notice_deadline=_parse(notice.data.get("deadline")) if notice is not None else None,
            last_step=last_step, checkpoint_step=int(checkpoint.data["step"]) if checkpoint is not None else None,
            next_attempt=following.number if following is not None else None, next_pool=next_pool,
            resumed_from_step=resumed_from, resumed_after_s=round(resumed_after, 1) if resumed_after else None,
            steps_lost=lost, plan=str(notice.data.get("replan", {}).get("reason")) if notice is not None else None,
            timeline=[TimelineEntry(at=at, offset_s=round((at - began).total_seconds(), 1), what=what)
                      for at, what in sorted(timeline, key=lambda item: item[0])]))
    return found


def _cause(attempt: AttemptRecord, notice: EventRecord | None) -> str:
    if notice is not None:
        return "regrow" if notice.type == REGROW_EVENT else "preemption-notice"
    if attempt.status is AttemptStatus.PREEMPTED:
        return "node-lost"
    return "failure" if attempt.status is AttemptStatus.FAILED else "stopped"


def _parse(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
