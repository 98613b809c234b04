"""``EventLog``: the cursor-based buffer behind ``Observation``'s event streams.

Step reports, checkpoint commits and notices share one sequence. ``read(since)`` returns the
events after ``since`` and the cursor to pass next time; events at or before ``since`` count as
acknowledged and are dropped, so a caller that passes back each cursor neither loses nor
re-reads an event. A caller that never acknowledges keeps at most ``capacity`` events (the
oldest are dropped first).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from controlplane.runtime.types import CheckpointCommit, Cursor, Notice, StepReport

Event = StepReport | CheckpointCommit | Notice


@dataclass(frozen=True, slots=True)
class EventBatch:
    step_reports: tuple[StepReport, ...]
    checkpoint_commits: tuple[CheckpointCommit, ...]
    notices: tuple[Notice, ...]
    cursor: Cursor


class EventLog:
    """Append-only events numbered 1, 2, 3, ...; see the module docstring."""

    def __init__(self, capacity: int = 1_000_000) -> None:
        self._events: deque[tuple[int, Event]] = deque(maxlen=capacity)
        self._last = 0

    @property
    def cursor(self) -> Cursor:
        return self._last

    def append(self, event: Event) -> Cursor:
        self._last += 1
        self._events.append((self._last, event))
        return self._last

    def extend(self, events: list[Event]) -> None:
        for event in events:
            self.append(event)

    def read(self, since: Cursor | None) -> EventBatch:
        if since is not None:
            while self._events and self._events[0][0] <= since:
                self._events.popleft()
        reports: list[StepReport] = []
        commits: list[CheckpointCommit] = []
        notices: list[Notice] = []
        for sequence, event in self._events:
            if since is not None and sequence <= since:
                continue
            if isinstance(event, StepReport):
                reports.append(event)
            elif isinstance(event, CheckpointCommit):
                commits.append(event)
            else:
                notices.append(event)
        return EventBatch(tuple(reports), tuple(commits), tuple(notices), self._last)
