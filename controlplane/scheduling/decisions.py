"""The scheduler's output: what to start, what to stop, and why everything else waits.

A round returns a ``RoundResult`` whose ``decisions`` the controller applies in order:
every ``Preempt`` (and the stop half of every ``Migrate``) before any ``Admit``, because an
admission may use devices a preemption frees (``Admit.preempts`` names them).

- ``Admit``: start a job's gang on ``devices`` of ``pool`` (rank i on ``devices[i]``), with the
  layout to use and the placement the placer produced.
- ``Preempt``: stop a running attempt; ``kind`` says why (priority, reclaim of lent quota,
  time slice of a fairness policy); ``lost_work_s`` is the device-free estimate of seconds of
  progress since its last committed checkpoint.
- ``Migrate``: stop an attempt and start it again elsewhere, because it is expected to be
  done sooner or cheaper there (a re-plan, possibly with another layout).
- ``Wait``: the job stays pending; ``reason.message`` is the sentence ``suanli jobs describe``
  shows.

Every decision has ``reason``, a sentence for people. ``to_dict()`` gives JSON-ready dicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from controlplane.perfmodel.shapes import Layout

PreemptKind = Literal["priority", "reclaim", "time-slice"]


def format_duration(seconds: float) -> str:
    """``~2h10m`` / ``~5m`` / ``~3d4h`` for a positive number of seconds."""
    if seconds == float("inf"):
        return "an unknown time"
    minutes = max(round(seconds / 60.0), 1)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"~{days}d{hours}h"
    if hours:
        return f"~{hours}h{minutes:02d}m"
    return f"~{minutes}m"


@dataclass(frozen=True, slots=True)
class Admit:
    job_id: str
    pool: str
    accelerator: str
    devices: tuple[int, ...]
    reason: str
    layout: Layout | None = None
    placement: Any = None
    """The placer's ``Placement`` (or None with the simple pool placer)."""
    borrowed: bool = False
    preempts: tuple[str, ...] = ()
    steps_per_second: float | None = None
    dollars_per_hour: float = 0.0
    backfilled: bool = False

    kind: Literal["admit"] = "admit"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "job": self.job_id, "pool": self.pool, "accelerator": self.accelerator,
                "devices": len(self.devices), "layout": self.layout.describe() if self.layout else None,
                "borrowed": self.borrowed, "preempts": list(self.preempts), "backfilled": self.backfilled,
                "steps_per_second": self.steps_per_second, "dollars_per_hour": self.dollars_per_hour,
                "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Preempt:
    job_id: str
    pool: str
    reason: str
    preempt_kind: PreemptKind
    lost_work_s: float = 0.0
    for_job: str | None = None

    kind: Literal["preempt"] = "preempt"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "job": self.job_id, "pool": self.pool, "why": self.preempt_kind,
                "for": self.for_job, "lost_work_s": self.lost_work_s, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Migrate:
    job_id: str
    from_pool: str
    to: Admit
    reason: str

    kind: Literal["migrate"] = "migrate"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "job": self.job_id, "from": self.from_pool, "to": self.to.to_dict(),
                "reason": self.reason}


@dataclass(frozen=True, slots=True)
class WaitReason:
    """Why a job waits, as facts; ``message`` turns them into the sentence users read."""

    devices: int
    types: tuple[str, ...] = ()
    largest_free: int | None = None
    largest_free_pool: str | None = None
    quota: tuple[str, ...] = ()
    """Sentences like "team research is at its H100 quota (64/64)"."""
    does_not_fit: tuple[str, ...] = ()
    """Per type: why the job cannot run there at all."""
    reserved_start_in_s: float | None = None
    reserved_pool: str | None = None
    behind_job: str | None = None
    behind_job_start_in_s: float | None = None
    other: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        parts: list[str] = []
        if self.does_not_fit and not self.types:
            parts.append("cannot run on any pool: " + "; ".join(self.does_not_fit))
        elif self.types:
            need = f"needs {self.devices} {'/'.join(self.types)} device{'s' if self.devices != 1 else ''}"
            if self.largest_free is not None and self.largest_free_pool is not None:
                need += f", largest free block is {self.largest_free} in pool {self.largest_free_pool}"
            elif self.largest_free is not None:
                need += ", no free device in any pool it fits"
            parts.append(need)
        parts.extend(self.quota)
        if self.reserved_start_in_s is not None:
            where = f" on {self.reserved_pool}" if self.reserved_pool else ""
            parts.append(f"reserved start in {format_duration(self.reserved_start_in_s)}{where}")
        if self.behind_job is not None:
            when = ("" if self.behind_job_start_in_s is None
                    else f" (reserved to start in {format_duration(self.behind_job_start_in_s)})")
            parts.append(f"behind job {self.behind_job}{when}")
        parts.extend(self.other)
        return "waiting: " + "; ".join(parts) if parts else "waiting"

    def to_dict(self) -> dict[str, Any]:
        return {"message": self.message, "devices": self.devices, "types": list(self.types),
                "largest_free": self.largest_free, "largest_free_pool": self.largest_free_pool,
                "quota": list(self.quota), "does_not_fit": list(self.does_not_fit),
                "reserved_start_in_s": self.reserved_start_in_s, "behind_job": self.behind_job}


@dataclass(frozen=True, slots=True)
class Wait:
    job_id: str
    why: WaitReason

    kind: Literal["wait"] = "wait"

    @property
    def reason(self) -> str:
        return self.why.message

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "job": self.job_id, "reason": self.reason}


Decision = Admit | Preempt | Migrate | Wait


@dataclass(frozen=True, slots=True)
class RoundStats:
    """Counts of one round (the caller times it: policy code has no clock)."""

    pending: int = 0
    running: int = 0
    admitted: int = 0
    admitted_devices: int = 0
    preempted: int = 0
    migrated: int = 0
    waiting: int = 0
    placer_calls: int = 0
    backfilled: int = 0


@dataclass(frozen=True)
class RoundResult:
    decisions: tuple[Decision, ...]
    stats: RoundStats = field(default_factory=RoundStats)

    def admits(self) -> list[Admit]:
        return [d for d in self.decisions if isinstance(d, Admit)]

    def preempts(self) -> list[Preempt]:
        return [d for d in self.decisions if isinstance(d, Preempt)]

    def migrations(self) -> list[Migrate]:
        return [d for d in self.decisions if isinstance(d, Migrate)]

    def waits(self) -> dict[str, Wait]:
        return {d.job_id: d for d in self.decisions if isinstance(d, Wait)}

    def for_job(self, job_id: str) -> list[Decision]:
        return [d for d in self.decisions if d.job_id == job_id]
