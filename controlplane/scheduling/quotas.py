"""Team quotas: what each queue uses, whether one more gang fits its guarantee, may borrow, or must wait.

Owns ``QuotaLedger`` (usage per queue, updated as a round admits and preempts) and
``QuotaVerdict``.

Rules (a queue is ``QueueQuota``; a job charges the queue ``(job.team, job.queue)``):
- No queues in the snapshot: nothing is limited.
- A job whose queue is not in the snapshot waits ("queue research/pretrain does not exist").
- *Within quota*: after adding the gang, every limit the queue sets holds: devices of that type
  (``devices``; when the queue lists types, unlisted types have a quota of 0), H100-equivalents
  (``normalized_units``) and spend rate (``dollars_per_day``, the pool price x devices x 24).
- *Borrowing*: beyond its device and unit guarantees a queue may use idle capacity when
  ``borrowing`` is on, up to ``max_borrow_devices`` per type and ``max_borrow_units``. The spend
  limit is never borrowed. Borrowed attempts are marked and are the first reclaimed: any queue
  still under its own guarantee may preempt them (``controlplane.scheduling.preemption``).
- Cohorts: reclaim only takes back from borrowers of the same cohort (or from queues without
  one). Borrowing itself is bounded by free capacity and the limits above, not by how much of
  the cohort's guarantee is idle.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from controlplane.scheduling.snapshot import Job, Pool, QueueQuota

HOURS_PER_DAY = 24.0
_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class QuotaVerdict:
    allowed: bool
    borrowed: bool = False
    reason: str | None = None


ALLOWED = QuotaVerdict(True)


@dataclass
class Usage:
    devices: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    units: float = 0.0
    dollars_per_day: float = 0.0


class QuotaLedger:
    """Usage of every queue; ``check`` answers for one more gang, ``add``/``remove`` keep it current."""

    def __init__(self, queues: Iterable[QueueQuota]) -> None:
        self.queues: dict[tuple[str, str], QueueQuota] = {queue.key: queue for queue in queues}
        self.usage: dict[tuple[str, str], Usage] = defaultdict(Usage)
        self.team_weight: dict[str, float] = {}
        self.team_units: dict[str, float] = defaultdict(float)
        self.team_dollars_per_day: dict[str, float] = defaultdict(float)
        for queue in self.queues.values():
            self.team_weight[queue.team] = max(self.team_weight.get(queue.team, 0.0), queue.weight)
        self._verdicts: dict[tuple[str, str], dict[tuple[str, int], QuotaVerdict]] = {}
        """Per queue: verdicts by (pool, devices) since the queue's usage last changed (a round asks
        the same question many times, and a verdict depends on its own queue's usage only)."""

    @property
    def enforced(self) -> bool:
        return bool(self.queues)

    def weight(self, team: str) -> float:
        return self.team_weight.get(team, 1.0)

    def add(self, job: Job, pool: Pool, *, borrowed: bool) -> None:
        self._apply(job, pool, borrowed, 1)

    def remove(self, job: Job, pool: Pool, *, borrowed: bool) -> None:
        self._apply(job, pool, borrowed, -1)

    def _apply(self, job: Job, pool: Pool, borrowed: bool, sign: int) -> None:
        self._verdicts.pop((job.team, job.queue), None)
        usage = self.usage[(job.team, job.queue)]
        accelerator = pool.accelerator.casefold()
        usage.devices[accelerator] += sign * job.devices
        usage.units += sign * job.devices * pool.units_per_device
        usage.dollars_per_day += sign * job.devices * pool.price_per_device_hour * HOURS_PER_DAY
        self.team_units[job.team] += sign * job.devices * pool.units_per_device
        self.team_dollars_per_day[job.team] += sign * job.devices * pool.price_per_device_hour * HOURS_PER_DAY

    def check(self, job: Job, pool: Pool) -> QuotaVerdict:
        """Whether the queue may run ``job`` on ``pool`` now, and whether that is borrowing."""
        if not self.queues:
            return ALLOWED
        verdicts = self._verdicts.get((job.team, job.queue))
        if verdicts is None:
            verdicts = self._verdicts[(job.team, job.queue)] = {}
        key = (pool.name, job.devices)
        verdict = verdicts.get(key)
        if verdict is None:
            verdict = verdicts[key] = self._check(job, pool)
        return verdict

    def _check(self, job: Job, pool: Pool) -> QuotaVerdict:
        queue = self.queues.get((job.team, job.queue))
        if queue is None:
            return QuotaVerdict(False, reason=f"queue {job.team}/{job.queue} does not exist")
        usage = self.usage[queue.key]
        accelerator = pool.accelerator
        devices = job.devices
        units = devices * pool.units_per_device
        if queue.dollars_per_day is not None:
            rate = usage.dollars_per_day + devices * pool.price_per_device_hour * HOURS_PER_DAY
            if rate > queue.dollars_per_day + _EPSILON:
                return QuotaVerdict(False, reason=(
                    f"team {queue.team} would spend ${rate:,.0f}/day, over its queue's limit of "
                    f"${queue.dollars_per_day:,.0f}/day"))
        over: list[str] = []
        device_quota = queue.device_quota(accelerator)
        used = usage.devices[accelerator.casefold()]
        borrowed_devices = 0 if device_quota is None else max(used - device_quota, 0)
        over_devices = 0 if device_quota is None else max(used + devices - device_quota, 0)
        if over_devices:
            over.append(f"team {queue.team} is at its {accelerator} quota ({used}/{device_quota})")
        quota_units = queue.normalized_units
        borrowed_units = 0.0 if quota_units is None else max(usage.units - quota_units, 0.0)
        over_units = 0.0 if quota_units is None else max(usage.units + units - quota_units, 0.0)
        if over_units > _EPSILON:
            over.append(f"team {queue.team} is at its normalized quota ({usage.units:,.1f}/"
                        f"{queue.normalized_units:,.1f} H100-equivalents)")
        if not over:
            return ALLOWED
        if not queue.borrowing:
            return QuotaVerdict(False, reason="; ".join(over) + " and its queue does not borrow")
        limit = None if queue.max_borrow_devices is None else _lookup(queue.max_borrow_devices, accelerator)
        if limit is not None and over_devices > limit:
            return QuotaVerdict(False, reason="; ".join(over) + (
                f" and may borrow at most {limit} {accelerator} (borrowing {borrowed_devices})"))
        if queue.max_borrow_units is not None and over_units > queue.max_borrow_units + _EPSILON:
            return QuotaVerdict(False, reason="; ".join(over) + (
                f" and may borrow at most {queue.max_borrow_units:g} H100-equivalents "
                f"(borrowing {borrowed_units:,.1f})"))
        return QuotaVerdict(True, borrowed=True, reason="; ".join(over) + ", so it borrows idle capacity")

    def under_guarantee(self, job: Job, pool: Pool) -> bool:
        """Whether the gang fits the queue's own guarantee (so it may reclaim lent capacity)."""
        verdict = self.check(job, pool)
        return verdict.allowed and not verdict.borrowed and bool(self.queues)

    def may_reclaim_from(self, claimant: Job, victim: Job) -> bool:
        """Whether ``claimant``'s queue may take back capacity borrowed by ``victim``'s queue."""
        mine = self.queues.get((claimant.team, claimant.queue))
        theirs = self.queues.get((victim.team, victim.queue))
        if mine is None or theirs is None or mine.key == theirs.key:
            return False
        return mine.cohort is None or theirs.cohort is None or mine.cohort == theirs.cohort

    def dominant_share(self, team: str, total_units: float, total_dollars_per_day: float) -> float:
        """The team's larger share of the cluster, in H100-equivalents or in dollars, over its weight."""
        units = self.team_units[team]
        dollars = self.team_dollars_per_day[team]
        share = max(units / total_units if total_units > 0 else 0.0,
                    dollars / total_dollars_per_day if total_dollars_per_day > 0 else 0.0)
        return share / self.weight(team)


def _lookup(mapping: Mapping[str, int], accelerator: str) -> int:
    wanted = accelerator.casefold()
    return next((int(count) for name, count in mapping.items() if name.casefold() == wanted), 0)
