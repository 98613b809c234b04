"""Choosing whom to preempt: the fewest, cheapest victims that make room, never thrashing.

Owns ``Victim`` (a running attempt seen as a candidate) and ``choose_victims``.

Who may be a victim for a blocked job J on pool P (the scheduler filters):
- *priority*: a preemptible attempt on P of a strictly lower (aged) priority class than J;
- *reclaim*: an attempt on P that runs on borrowed capacity of another queue, when J's queue
  is still under its own guarantee (whatever the priorities);
- never an attempt that has run less than the policy's minimum run time (no thrashing), and
  never one already stopped this round.

Among those, the order is: attempts on spot capacity first (they are at risk anyway), then the
least work lost — device-seconds of progress since the attempt's last committed checkpoint (or
since it started, if none), plus the restart overhead it will pay again — then the lowest
priority class, then the most recently started. Victims are taken in that order until enough
devices would be free, and then any victim the others make unnecessary is dropped again
(checked from the most expensive down), so no attempt is stopped for nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from controlplane.scheduling.ordering import effective_priority
from controlplane.scheduling.snapshot import PRIORITY_NAMES

if TYPE_CHECKING:
    from controlplane.scheduling.round_state import RoundState, Running


@dataclass(frozen=True, slots=True)
class Victim:
    job_id: str
    pool: str
    devices: int
    lost_work_s: float
    """Seconds of progress since the last committed checkpoint (wall time, per device)."""
    restart_overhead_s: float
    spot: bool
    priority: int
    started_at: float
    borrowed: bool = False

    @property
    def lost_device_seconds(self) -> float:
        return (self.lost_work_s + self.restart_overhead_s) * self.devices

    def sort_key(self) -> tuple[bool, float, int, float, str]:
        return (not self.spot, self.lost_device_seconds, -self.priority, -self.started_at, self.job_id)


def lost_work_s(now: float, started_at: float, last_checkpoint_at: float | None) -> float:
    """Seconds of progress an attempt would lose if stopped now."""
    since = started_at if last_checkpoint_at is None else max(last_checkpoint_at, started_at)
    return max(now - since, 0.0)


def choose_victims(candidates: Sequence[Victim], *, needed: int, free_now: int) -> list[Victim] | None:
    """The victims to stop so that ``needed`` devices are free, or None if even all would not do."""
    if free_now >= needed:
        return []
    ordered = sorted(candidates, key=Victim.sort_key)
    chosen: list[Victim] = []
    free = free_now
    for victim in ordered:
        chosen.append(victim)
        free += victim.devices
        if free >= needed:
            break
    else:
        return None
    for victim in sorted(chosen, key=Victim.sort_key, reverse=True):
        if free - victim.devices >= needed:
            chosen.remove(victim)
            free -= victim.devices
    return chosen


class VictimIndex:
    """Per pool: the attempts old enough to be stopped, and how many devices they hold per class.

    Built once per round, on the first blocked job; lets a job skip a pool in O(1) when even
    stopping every eligible attempt there could not make room.
    """

    def __init__(self, state: RoundState, min_run_s: float, aging_s: float | None) -> None:
        self._aging_s = aging_s
        self._now = state.now
        self._by_pool: dict[str, list[Running]] = defaultdict(list)
        self._by_priority: dict[str, list[int]] = defaultdict(lambda: [0] * len(PRIORITY_NAMES))
        self._borrowed: dict[str, int] = defaultdict(int)
        self._could_free: dict[tuple[tuple[str, ...], int, bool], bool] = {}
        for running in state.running.values():
            if running.new or state.now - running.started_at < min_run_s:
                continue
            pool = running.pool.name
            self._by_pool[pool].append(running)
            self._count(running, 1)

    def _count(self, running: Running, sign: int) -> None:
        pool = running.pool.name
        if running.job.preemptible:
            self._by_priority[pool][effective_priority(running.job, self._now, self._aging_s)] += sign * len(
                running.devices)
        if running.borrowed:
            self._borrowed[pool] += sign * len(running.devices)

    @property
    def empty(self) -> bool:
        """No attempt may be stopped at all (e.g. nothing has run long enough)."""
        return not self._by_pool

    def on_pool(self, pool: str) -> list[Running]:
        return self._by_pool.get(pool, [])

    def devices_below(self, pool: str, priority: int) -> int:
        """Devices held by preemptible attempts of a less important class than ``priority``."""
        counts = self._by_priority.get(pool)
        return 0 if counts is None else sum(counts[priority + 1:])

    def borrowed_devices(self, pool: str) -> int:
        return self._borrowed.get(pool, 0)

    def could_free(self, pools: tuple[str, ...], priority: int, reclaim: bool) -> bool:
        """Whether one of ``pools`` has devices of a less important class than ``priority`` or, with
        ``reclaim``, borrowed ones (answers are kept until the next ``forget``)."""
        if self.empty:
            return False
        key = (pools, priority, reclaim)
        found = self._could_free.get(key)
        if found is None:
            found = self._could_free[key] = any(
                self.devices_below(pool, priority) or (reclaim and self.borrowed_devices(pool)) for pool in pools)
        return found

    def forget(self, running: Running) -> None:
        """A victim was stopped."""
        self._could_free.clear()
        self._count(running, -1)
