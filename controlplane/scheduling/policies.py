"""Scheduling policies by name: Suanli's and the baselines it is measured against.

Owns ``Policy`` (the switches one round engine runs with) and the registry ``POLICIES`` /
``get_policy``. Every policy respects quotas and gangs (all ranks or none); they differ in
order, pool choice, reservation, preemption and migration:

- ``suanli``: order by priority class (aged), then team fair share, then FIFO; pool by cost per
  unit of work under deadline and budget; EASY backfill; preempts lower priority and reclaims
  borrowed capacity; re-plans running jobs onto pools at least 20 % better.
- ``fifo``: submission order; the first pool (snapshot order) with room; jobs that do not fit are
  skipped (no reservation); no preemption.
- ``las``: least attained service first (Gavel's LAS: max-min fairness, heterogeneity-agnostic);
  the pool with the most free devices; 6-minute time slices (preempts by attained service).
- ``cheapest``: priority, then submission time; the lowest $/hour pool with room (SkyPilot- and
  dstack-like); no reservation, no preemption.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from controlplane.domain.errors import InvalidInputError

Ordering = Literal["fair-share", "fifo", "attained-service", "priority-fifo"]
PoolChoice = Literal["cost-per-work", "first-fit", "most-free", "cheapest-hourly"]


@dataclass(frozen=True)
class Policy:
    name: str
    ordering: Ordering
    pool_choice: PoolChoice
    backfill: bool = False
    priority_preemption: bool = False
    reclaim: bool = False
    time_slicing: bool = False
    migration: bool = False
    min_run_s: float = 600.0
    """An attempt younger than this is never preempted or migrated (no thrashing)."""
    aging_s: float | None = None
    """Waiting this long promotes a job one priority class (None: no aging)."""
    migration_gain: float = 0.2
    """Migrate only when the job would finish (or pay) at least this share less, overhead included."""
    description: str = ""


POLICIES: dict[str, Policy] = {
    "suanli": Policy(
        name="suanli", ordering="fair-share", pool_choice="cost-per-work", backfill=True,
        priority_preemption=True, reclaim=True, migration=True, min_run_s=600.0, aging_s=24 * 3600.0,
        description="priority, fair share and FIFO; cost per unit of work; EASY backfill; preemption; re-planning"),
    "fifo": Policy(
        name="fifo", ordering="fifo", pool_choice="first-fit",
        description="first come, first served; first pool with room; skips jobs that do not fit"),
    "las": Policy(
        name="las", ordering="attained-service", pool_choice="most-free", time_slicing=True, min_run_s=360.0,
        description="least attained service (max-min fairness), heterogeneity-agnostic, 6-minute time slices"),
    "cheapest": Policy(
        name="cheapest", ordering="priority-fifo", pool_choice="cheapest-hourly",
        description="cheapest $/hour pool with room first (SkyPilot/dstack-like)"),
}


def get_policy(name: str) -> Policy:
    """The policy called ``name``; ``InvalidInputError`` naming the known ones otherwise."""
    policy = POLICIES.get(name.strip().lower())
    if policy is None:
        raise InvalidInputError(f"unknown scheduling policy {name!r}", field="policy",
                                hint=f"choose one of {', '.join(POLICIES)}")
    return policy


def policy_names() -> list[str]:
    return list(POLICIES)
