"""The simulator's virtual clock: a priority queue of timed events, earliest first, FIFO on ties.

Owns ``EventQueue`` and the event kinds. Times are virtual seconds from the start of the run;
nothing here reads a real clock.

- ``arrival``: a job is submitted (payload: job id);
- ``completion``: an attempt would finish (payload: job id, attempt serial; stale once the
  attempt was stopped, recognised by the serial);
- ``node-down`` / ``node-up``: a spot node is lost or comes back (payload: pool, node index);
- ``tick``: a periodic scheduling round (time slices, re-planning, aging).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Literal

EventKind = Literal["arrival", "completion", "node-down", "node-up", "tick"]


@dataclass(frozen=True, order=True, slots=True)
class Event:
    time: float
    sequence: int
    kind: EventKind = field(compare=False)
    job_id: str | None = field(default=None, compare=False)
    serial: int = field(default=0, compare=False)
    pool: str | None = field(default=None, compare=False)
    node: int = field(default=-1, compare=False)


class EventQueue:
    """Events by time; events pushed at the same time come out in push order."""

    def __init__(self) -> None:
        self._heap: list[Event] = []
        self._sequence = 0

    def push(self, time: float, kind: EventKind, *, job_id: str | None = None, serial: int = 0,
             pool: str | None = None, node: int = -1) -> None:
        self._sequence += 1
        heapq.heappush(self._heap, Event(time, self._sequence, kind, job_id, serial, pool, node))

    def __len__(self) -> int:
        return len(self._heap)

    def peek_time(self) -> float | None:
        return self._heap[0].time if self._heap else None

    def pop_until(self, time: float) -> list[Event]:
        """Every event at or before ``time``, in order."""
        events: list[Event] = []
        while self._heap and self._heap[0].time <= time:
            events.append(heapq.heappop(self._heap))
        return events

    def has_kind(self, *kinds: EventKind) -> bool:
        return any(event.kind in kinds for event in self._heap)
