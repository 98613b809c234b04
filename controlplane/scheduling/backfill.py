"""EASY-style backfill: one reservation for the head-of-line job, and the test that protects it.

Owns ``Reservation``, ``ReleaseForecast`` (when the devices of each pool free up, from the
expected ends of running attempts) and ``reserve``.

The first job of a round that is blocked only by capacity (its quota allows it) becomes the
*head of line*. Among the pools it may use, it reserves the one where enough devices are
expected to be free soonest (ties: the policy's ranking); the *shadow time* is that moment
and the *spare* devices are those free at the shadow time beyond what the head needs. A later
job may then start on that pool only if it is expected to finish before the shadow time, or
if it fits in the spare devices (which it then uses up) — so backfilling never delays the
head's reserved start. Pools other than the reserved one are not constrained.

Expected ends come from the estimator's rate; an attempt with no rate never ends as far as
the forecast knows, which makes reservations later, never earlier.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from controlplane.scheduling.choice import Option


@dataclass
class Reservation:
    job_id: str
    pool: str
    devices: int
    start_in_s: float
    """Seconds from now until the head is expected to start (the shadow time)."""
    spare: int
    """Devices free at the shadow time beyond the head's need, still open to backfill."""

    def blocks(self, pool: str, devices: int, finish_s: float) -> bool:
        """Whether starting a job of ``devices`` that runs ``finish_s`` on ``pool`` now would delay the head."""
        return pool == self.pool and finish_s > self.start_in_s and devices > self.spare

    def charge(self, pool: str, devices: int, finish_s: float) -> None:
        """Record that such a job started: if it outlives the shadow time it uses up spare devices."""
        if pool == self.pool and finish_s > self.start_in_s:
            self.spare -= devices


class ReleaseForecast:
    """Per pool: (seconds from now, devices) releases of running attempts, kept up to date in a round."""

    def __init__(self) -> None:
        self._releases: dict[str, list[tuple[float, int]]] = defaultdict(list)

    def add(self, pool: str, ends_in_s: float, devices: int) -> None:
        self._releases[pool].append((ends_in_s, devices))

    def remove(self, pool: str, ends_in_s: float, devices: int) -> None:
        releases = self._releases[pool]
        if (ends_in_s, devices) in releases:
            releases.remove((ends_in_s, devices))

    def shadow(self, pool: str, free_now: int, needed: int) -> tuple[float, int] | None:
        """(seconds until ``needed`` devices are free, devices free then beyond the need), or None."""
        if free_now >= needed:
            return 0.0, free_now - needed
        free = free_now
        for ends_in_s, devices in sorted(self._releases[pool]):
            if math.isinf(ends_in_s):
                return None
            free += devices
            if free >= needed:
                return max(ends_in_s, 0.0), free - needed
        return None


def reserve(job_id: str, devices: int, options: Sequence[Option], free_now: dict[str, int],
            forecast: ReleaseForecast) -> Reservation | None:
    """The earliest-starting reservation over ``options`` (already in the policy's order), or None."""
    best: Reservation | None = None
    for option in options:
        pool = option.pool.name
        found = forecast.shadow(pool, free_now.get(pool, 0), devices)
        if found is None:
            continue
        start, spare = found
        if best is None or start < best.start_in_s:
            best = Reservation(job_id=job_id, pool=pool, devices=devices, start_in_s=start, spare=spare)
    return best
