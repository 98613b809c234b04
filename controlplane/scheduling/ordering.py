"""In which order a round considers pending jobs.

Owns the orderings the policies use:

- ``FairShareOrder`` (Suanli): priority class first (with *aging*: a job waiting longer than
  ``aging_s`` climbs one class per ``aging_s`` waited, so low classes cannot starve forever),
  then weighted fair share across teams (the team with the smallest dominant share, in
  H100-equivalents or dollars per day over its weight, goes next, and its share grows as the
  round admits its jobs), then FIFO (submission time, then job id) within a team. Implemented
  as a heap of team heads, so a round over N jobs of T teams costs O(N log T).
- ``fifo_order``: submission time, then job id (priority is ignored).
- ``attained_service_order`` (LAS): least device-seconds received per unit of weight first.

Every order is total and deterministic: ties end on the job id.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence

from controlplane.scheduling.snapshot import Job


def effective_priority(job: Job, now: float, aging_s: float | None) -> int:
    """The job's class index, lowered by one per ``aging_s`` waited (never below 0)."""
    if not aging_s or aging_s <= 0:
        return job.priority
    waited = max(now - job.submitted_at, 0.0)
    return max(job.priority - int(waited // aging_s), 0)


def fifo_order(jobs: Iterable[Job]) -> list[Job]:
    return sorted(jobs, key=lambda job: (job.submitted_at, job.job_id))


def attained_service_order(jobs: Iterable[Job]) -> list[Job]:
    return sorted(jobs, key=lambda job: (job.attained_service_s / max(job.weight, 1e-9), job.submitted_at,
                                         job.job_id))


class FairShareOrder:
    """Iterate pending jobs by (aged priority, team dominant share, FIFO); see the module docstring.

    ``share_of(team)`` is read each time a team's next job is queued, i.e. after the caller has
    charged the previous admission to the ledger, so admissions in a round rotate the teams.
    """

    def __init__(self, jobs: Sequence[Job], *, now: float, aging_s: float | None,
                 share_of: Callable[[str], float]) -> None:
        self._share_of = share_of
        self._by_team: dict[str, list[tuple[int, float, str, Job]]] = defaultdict(list)
        aging = aging_s if aging_s and aging_s > 0 else None
        for job in jobs:
            # ``effective_priority``, inlined: a round orders tens of thousands of jobs.
            priority = job.priority if aging is None else max(
                job.priority - int(max(now - job.submitted_at, 0.0) // aging), 0)
            self._by_team[job.team].append((priority, job.submitted_at, job.job_id, job))
        for items in self._by_team.values():
            items.sort()  # job ids are unique, so the job itself is never compared
            items.reverse()  # pop() from the end is O(1)
        self._heap: list[tuple[int, float, float, str, str]] = []
        for team in self._by_team:
            self._push(team)

    def _push(self, team: str) -> None:
        items = self._by_team[team]
        if items:
            priority, submitted, job_id, _ = items[-1]
            heapq.heappush(self._heap, (priority, self._share_of(team), submitted, job_id, team))

    def __iter__(self) -> Iterator[Job]:
        while self._heap:
            _, _, _, _, team = heapq.heappop(self._heap)
            job = self._by_team[team].pop()[3]
            yield job
            self._push(team)
