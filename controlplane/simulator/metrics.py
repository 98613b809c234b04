"""What a simulation measured: per job, and summed up per policy.

Owns ``JobRecord`` (one job's life: arrival, first start, finish, progress, service, cost,
preemptions) and ``Summary`` (average/p50/p99 job completion time, queueing delay, makespan,
utilization, cost, preemptions, migrations, and the scheduler's own time per round).

Definitions:
- JCT = finish - arrival; queueing delay = first start - arrival;
- makespan = last finish - first arrival;
- utilization = device-seconds held by attempts / (devices x makespan);
- cost = sum over attempts of price x devices x hours held (restart overhead included);
- isolated runtime = remaining steps at the fastest rate the job has on any pool, alone on an
  empty cluster (a lower bound of its JCT).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from controlplane.scheduling.snapshot import Job

SECONDS_PER_HOUR = 3600.0


@dataclass
class JobRecord:
    job: Job
    isolated_s: float
    first_start: float | None = None
    finished_at: float | None = None
    done_steps: float = 0.0
    attained_service_s: float = 0.0
    last_checkpoint_at: float | None = None
    preemptions: int = 0
    spot_preemptions: int = 0
    migrations: int = 0
    lost_steps: float = 0.0
    cost: float = 0.0
    attempts: int = 0
    accelerators: tuple[str, ...] = ()

    @property
    def arrival(self) -> float:
        return self.job.submitted_at

    @property
    def jct_s(self) -> float | None:
        return None if self.finished_at is None else self.finished_at - self.arrival

    @property
    def queueing_s(self) -> float | None:
        return None if self.first_start is None else self.first_start - self.arrival

    def to_dict(self) -> dict[str, Any]:
        return {"job": self.job.job_id, "devices": self.job.devices, "arrival_s": self.arrival,
                "first_start_s": self.first_start, "finished_s": self.finished_at, "jct_s": self.jct_s,
                "queueing_s": self.queueing_s, "isolated_s": self.isolated_s, "preemptions": self.preemptions,
                "spot_preemptions": self.spot_preemptions, "migrations": self.migrations,
                "lost_steps": self.lost_steps, "cost": round(self.cost, 4), "attempts": self.attempts,
                "accelerators": list(self.accelerators)}


@dataclass(frozen=True)
class Summary:
    policy: str
    jobs: int
    completed: int
    avg_jct_h: float
    p50_jct_h: float
    p99_jct_h: float
    avg_queueing_h: float
    makespan_h: float
    utilization: float
    cost: float
    preemptions: int
    spot_preemptions: int
    migrations: int
    rounds: int
    round_ms_p50: float
    round_ms_p99: float
    round_ms_max: float

    def to_dict(self) -> dict[str, Any]:
        return {name: (round(value, 4) if isinstance(value, float) else value)
                for name, value in self.__dict__.items()}


def _hours(values: Sequence[float], statistic: str) -> float:
    if not values:
        return float("nan")
    array = np.asarray(values, dtype=float) / SECONDS_PER_HOUR
    if statistic == "mean":
        return float(array.mean())
    return float(np.percentile(array, float(statistic)))


def summarize(policy: str, records: Sequence[JobRecord], *, busy_device_s: float, devices: int,
              round_seconds: Sequence[float]) -> Summary:
    finished = [r for r in records if r.finished_at is not None]
    jcts = [r.jct_s for r in finished if r.jct_s is not None]
    queueing = [r.queueing_s for r in records if r.queueing_s is not None]
    start = min((r.arrival for r in records), default=0.0)
    end = max((r.finished_at for r in finished if r.finished_at is not None), default=start)
    makespan = max(end - start, 0.0)
    rounds_ms = np.asarray(round_seconds, dtype=float) * 1000.0 if round_seconds else np.zeros(1)
    return Summary(
        policy=policy, jobs=len(records), completed=len(finished), avg_jct_h=_hours(jcts, "mean"),
        p50_jct_h=_hours(jcts, "50"), p99_jct_h=_hours(jcts, "99"), avg_queueing_h=_hours(queueing, "mean"),
        makespan_h=makespan / SECONDS_PER_HOUR,
        utilization=busy_device_s / (devices * makespan) if devices and makespan else 0.0,
        cost=sum(r.cost for r in records), preemptions=sum(r.preemptions for r in records),
        spot_preemptions=sum(r.spot_preemptions for r in records),
        migrations=sum(r.migrations for r in records), rounds=len(round_seconds),
        round_ms_p50=float(np.percentile(rounds_ms, 50)), round_ms_p99=float(np.percentile(rounds_ms, 99)),
        round_ms_max=float(rounds_ms.max()))
