"""Spot traces replayed as what a cluster would live through: notices, then node removals, then returns.

Public spot traces record when capacity went away, not the warning before it. ``plan_replay``
turns capacity changes (``controlplane.simulator.spot.NodeChange``, from the Bamboo event
traces or the Can't-Be-Late availability traces, or from ``read_count_trace`` for Bamboo's GCP
count traces) into ``TraceEvent``s on named nodes:

- each removal at ``t`` is preceded by a ``notice`` at ``t - warning_s`` with deadline ``t``
  (120 s models AWS, 30 s GCP and Azure; ``warning_s=0`` models a hard loss with no notice).
  The notice never precedes the node's return (a node that came back less than ``warning_s``
  ago gets the notice the moment it is back) nor the start of the replay;
- removals at or before ``start`` set the initial state and carry no notice;
- a removal of a node already down, or a return of a node already up, is dropped (several
  trace nodes may map onto one pool node).

``TraceReplayer`` applies due events to a target with the ``SimRuntime`` fault-injection
methods (``post_notice``, ``lose_node``, ``restore_node``) and can drive a ``SimRuntime``'s
clock through them (``advance``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

from controlplane.domain.errors import InvalidInputError
from controlplane.runtime.types import NoticeKind
from controlplane.simulator.spot import NodeChange, event_trace_rows

TraceEventKind = Literal["notice", "remove", "add"]
_COUNT_LINE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\s*,\s*(\d{1,2}:\d{2}:\d{2})\s*,\s*(\d+)\s*$")


@dataclass(frozen=True, slots=True)
class TraceEvent:
    time: float
    node: str
    kind: TraceEventKind
    deadline: float | None = None
    """For notices: when the node goes."""


class ReplayTarget(Protocol):
    def post_notice(self, node: str, *, deadline: float, kind: NoticeKind = ..., source: str = ...,
                    at: float | None = ...) -> None: ...

    def lose_node(self, node: str, *, at: float | None = ...) -> None: ...

    def restore_node(self, node: str) -> None: ...


class ClockedTarget(ReplayTarget, Protocol):
    def now(self) -> float: ...

    def advance_to(self, time: float) -> None: ...


def read_count_trace(text: str, *, pool_nodes: int, source: str = "<trace>", seed: int = 0) -> list[NodeChange]:
    """Bamboo's GCP traces: ``YYYY-MM-DD, HH:MM:SS, <available nodes>`` lines, onto ``pool_nodes`` nodes.

    The count is the number of instances alive; it changes at the first line showing a new
    value (the files repeat each sample). The trace does not say *which* instances went, so a
    drop removes nodes drawn uniformly from those up, and a rise brings back nodes drawn from
    those down (``seed`` makes the draw repeatable). Counts above the pool are capped.
    """
    if pool_nodes < 1:
        raise InvalidInputError(f"{source}: the pool has no nodes to map the trace onto")
    samples: list[tuple[float, int]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _COUNT_LINE.match(line)
        if match is None:
            raise InvalidInputError(f"{source}:{number}: expected 'YYYY-MM-DD, HH:MM:SS, count', got {line!r}")
        moment = datetime.strptime(f"{match[1]} {match[2]}", "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        samples.append((moment.timestamp(), int(match[3])))
    if not samples:
        raise InvalidInputError(f"{source}: no samples")
    draw = random.Random(seed)
    origin = samples[0][0]
    changes: list[NodeChange] = []
    up, down = list(range(pool_nodes)), []
    last_time = 0.0
    for sampled_at, count in samples:
        count = min(count, pool_nodes)
        if count == len(up):
            continue
        at = max(sampled_at - origin, last_time)
        last_time = at
        while len(up) > count:
            node = up.pop(draw.randrange(len(up)))
            down.append(node)
            changes.append(NodeChange(at, node, False))
        while len(up) < count:
            node = down.pop(draw.randrange(len(down)))
            up.append(node)
            changes.append(NodeChange(at, node, True))
    return changes


def read_event_trace_slots(text: str, *, pool_nodes: int, source: str = "<trace>") -> list[NodeChange]:
    """Bamboo ``time_ms,add|remove,nodeN`` lines, each trace node holding one pool slot while it lives.

    Unlike ``controlplane.simulator.spot.read_event_trace`` (which maps trace nodes onto pool
    nodes by order of appearance, wrapping around), a trace node takes the lowest free slot when
    it is added and frees it when removed, so the pool's live count always equals the trace's
    (trace nodes beyond ``pool_nodes`` live at once are dropped). Every slot starts unavailable.
    """
    if pool_nodes < 1:
        raise InvalidInputError(f"{source}: the pool has no nodes to map the trace onto")
    rows = event_trace_rows(text, source=source)
    slots: dict[str, int] = {}
    free = list(range(pool_nodes))
    changes = [NodeChange(0.0, slot, False) for slot in range(pool_nodes)]
    for time_s, _, added, name in sorted(rows):
        if added and name not in slots and free:
            slots[name] = free.pop(free.index(min(free)))
            changes.append(NodeChange(time_s, slots[name], True))
        elif not added and name in slots:
            slot = slots.pop(name)
            free.append(slot)
            changes.append(NodeChange(time_s, slot, False))
    return changes


def plan_replay(changes: Sequence[NodeChange], node_names: Sequence[str], *, warning_s: float = 120.0,
                start: float = 0.0) -> list[TraceEvent]:
    """Timed notices, removals and returns on ``node_names`` (see the module docstring)."""
    if not node_names:
        raise InvalidInputError("no nodes to replay the trace onto")
    if warning_s < 0:
        raise InvalidInputError(f"warning_s must not be negative (got {warning_s})", field="warning_s")
    up = dict.fromkeys(range(len(node_names)), True)
    back_at = dict.fromkeys(range(len(node_names)), start)
    events: list[TraceEvent] = []
    for change in sorted(changes, key=lambda c: c.time):
        index = change.node % len(node_names)
        name = node_names[index]
        if change.available:
            if not up[index]:
                up[index] = True
                back_at[index] = max(change.time, start)
                events.append(TraceEvent(max(change.time, start), name, "add"))
            continue
        if not up[index]:
            continue
        up[index] = False
        if change.time <= start:
            events.append(TraceEvent(start, name, "remove"))
            continue
        if warning_s > 0:
            events.append(TraceEvent(max(change.time - warning_s, back_at[index]), name, "notice", change.time))
        events.append(TraceEvent(change.time, name, "remove"))
    order = {"remove": 0, "add": 1, "notice": 2}
    return sorted(events, key=lambda e: (e.time, order[e.kind]))


class TraceReplayer:
    """Applies planned trace events to a target as its clock reaches them."""

    def __init__(self, events: Sequence[TraceEvent], *, source: str = "trace") -> None:
        self._events = sorted(events, key=lambda e: e.time)
        self._next = 0
        self.source = source
        self.applied: list[TraceEvent] = []

    def next_time(self) -> float | None:
        return self._events[self._next].time if self._next < len(self._events) else None

    @property
    def done(self) -> bool:
        return self._next >= len(self._events)

    def apply_due(self, target: ReplayTarget, now: float) -> list[TraceEvent]:
        """Apply every event at or before ``now``, in order; returns them."""
        applied: list[TraceEvent] = []
        while self._next < len(self._events) and self._events[self._next].time <= now:
            event = self._events[self._next]
            self._next += 1
            if event.kind == "notice":
                assert event.deadline is not None
                target.post_notice(event.node, deadline=event.deadline, kind="preemption", source=self.source)
            elif event.kind == "remove":
                target.lose_node(event.node)
            else:
                target.restore_node(event.node)
            applied.append(event)
        self.applied.extend(applied)
        return applied

    def advance(self, target: ClockedTarget, until: float) -> list[TraceEvent]:
        """Move ``target``'s clock to ``until``, stopping at each trace event to apply it."""
        applied: list[TraceEvent] = []
        while True:
            upcoming = self.next_time()
            if upcoming is None or upcoming > until:
                break
            target.advance_to(max(upcoming, target.now()))
            applied.extend(self.apply_due(target, target.now()))
        target.advance_to(max(until, target.now()))
        return applied
