"""``SimRuntime``: the ``Runtime`` contract on a virtual clock, for the simulator and fast tests.

Nothing runs: each attempt follows its ``SimWorkload`` (start-up time, step time, step count,
checkpoint cost, scripted failure). Time moves only through ``advance``/``advance_to``; events
due at the same instant are applied in the order they were scheduled, so a run is fully
deterministic. Between events, steps are accounted lazily: an attempt's step reports are
produced when something touches it or the clock moves past them, each stamped with the exact
virtual time the step finished.

Like the worker SDK's default, only rank 0 reports steps. Faults are injected with
``fail_rank``, ``lose_node`` (the attempts on it end ``lost``), ``restore_node``,
``post_notice`` and ``preempt`` (a notice now, the node lost ``warning_s`` later).
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, cast

from controlplane.checkpoints.manifest import checkpoint_id
from controlplane.domain.errors import NotFoundError
from controlplane.runtime.cluster_definition import ClusterDefinition, VirtualNode
from controlplane.runtime.events import EventLog
from controlplane.runtime.nodes import observe_virtual_node
from controlplane.runtime.sim.workload import SimWorkload, WorkloadModel, constant_workload
from controlplane.runtime.types import (
    TERMINAL_STATES,
    AttemptObservation,
    AttemptState,
    CheckpointCommit,
    Cursor,
    LaunchSpec,
    NodeObservation,
    Notice,
    NoticeKind,
    Observation,
    RankObservation,
    StepReport,
)
from controlplane.runtime.validation import check_placement, check_spec_shape, is_repeat_launch

LOG_TAIL_LINES = 20
_EPSILON = 1e-9

_EventKind = Literal["start", "end", "checkpoint", "node_down", "notice"]


@dataclass(slots=True)
class _Rank:
    node: str
    alive: bool = False
    exit_code: int | None = None
    error: str | None = None
    log: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Attempt:
    spec: LaunchSpec
    workload: SimWorkload
    launched_at: float
    ranks: list[_Rank]
    state: AttemptState = "launching"
    started_at: float | None = None
    ended_at: float | None = None
    reason: str | None = None
    steps_done: int = 0
    stop_requested_at: float | None = None
    stop_deadline: float | None = None
    version: int = 0


class SimRuntime:
    """A deterministic, virtual-clock ``Runtime``; see the module docstring."""

    def __init__(self, nodes: ClusterDefinition | Sequence[VirtualNode], *,
                 workload: SimWorkload | WorkloadModel = SimWorkload(), start_time: float = 0.0) -> None:
        node_list = nodes.nodes if isinstance(nodes, ClusterDefinition) else tuple(nodes)
        self._nodes: dict[str, VirtualNode] = {node.name: node for node in node_list}
        self._alive: dict[str, bool] = dict.fromkeys(self._nodes, True)
        self._cordoned: set[str] = set()
        self._in_use: dict[str, int] = dict.fromkeys(self._nodes, 0)
        self._workload_for: WorkloadModel = (constant_workload(workload) if isinstance(workload, SimWorkload)
                                             else workload)
        self._now = float(start_time)
        self._attempts: dict[str, _Attempt] = {}
        self._by_request: dict[str, LaunchSpec] = {}
        self._by_attempt: dict[str, LaunchSpec] = {}
        self._events = EventLog()
        self._queue: list[tuple[float, int, _EventKind, object]] = []
        self._sequence = itertools.count()
        self._node_views: dict[str, NodeObservation] = {}
        self._node_cache: tuple[NodeObservation, ...] | None = None

    # -- the Runtime protocol -------------------------------------------------------------

    def now(self) -> float:
        return self._now

    def observe(self, since: Cursor | None = None) -> Observation:
        self._run_due_events()
        for attempt in self._attempts.values():
            self._progress(attempt, self._now)
        batch = self._events.read(since)
        return Observation(time=self._now, nodes=self._node_observations(),
                           attempts=tuple(self._attempt_observation(a) for a in self._attempts.values()),
                           step_reports=batch.step_reports, checkpoint_commits=batch.checkpoint_commits,
                           notices=batch.notices, cursor=batch.cursor)

    def launch(self, spec: LaunchSpec) -> None:
        check_spec_shape(spec)
        if is_repeat_launch(spec, self._by_request, self._by_attempt):
            return
        check_placement(spec, {name: self._node_view(name) for name in spec.devices_by_node() if name in self._nodes})
        workload = self._workload_for(spec)
        attempt = _Attempt(spec=spec, workload=workload, launched_at=self._now,
                           ranks=[_Rank(node=rank.node) for rank in spec.ranks], steps_done=workload.start_step)
        self._attempts[spec.attempt_id] = attempt
        self._by_request[spec.request_id] = spec
        self._by_attempt[spec.attempt_id] = spec
        for node, devices in spec.devices_by_node().items():
            self._in_use[node] += devices
            self._changed(node)
        self._schedule(self._now + workload.startup_seconds, "start", spec.attempt_id)

    def stop(self, attempt_id: str, *, grace_s: float | None = None) -> None:
        attempt = self._attempts.get(attempt_id)
        if attempt is None or attempt.state in TERMINAL_STATES:
            return
        self._progress(attempt, self._now)
        if grace_s is None or attempt.state == "launching":
            self._finish(attempt, "stopped", "stopped on request", self._now, exit_code=None)
            return
        deadline = self._now + max(0.0, grace_s)
        if attempt.stop_deadline is not None and attempt.stop_deadline <= deadline:
            return
        attempt.state = "stopping"
        attempt.stop_requested_at = attempt.stop_requested_at if attempt.stop_requested_at is not None else self._now
        attempt.stop_deadline = deadline
        self._reschedule_end(attempt)

    def request_checkpoint(self, attempt_id: str) -> None:
        attempt = self._attempts.get(attempt_id)
        if attempt is None or attempt.state in TERMINAL_STATES:
            return
        begin = max(self._now, attempt.launched_at + attempt.workload.startup_seconds)
        self._schedule(begin + attempt.workload.checkpoint_seconds, "checkpoint", (attempt_id, begin))

    def cordon(self, node: str) -> None:
        self._require_node(node)
        self._cordoned.add(node)
        self._changed(node)

    def uncordon(self, node: str) -> None:
        self._require_node(node)
        self._cordoned.discard(node)
        self._changed(node)

    def forget(self, attempt_id: str) -> None:
        attempt = self._attempts.get(attempt_id)
        if attempt is not None and attempt.state in TERMINAL_STATES:
            del self._attempts[attempt_id]

    def logs(self, attempt_id: str, rank: int) -> list[str]:
        attempt = self._attempts.get(attempt_id)
        if attempt is None or not 0 <= rank < len(attempt.ranks):
            raise NotFoundError(f"no rank {rank} of attempt {attempt_id!r}")
        return list(attempt.ranks[rank].log)

    def close(self) -> None:
        for attempt_id in list(self._attempts):
            self.stop(attempt_id)

    # -- driving the clock and injecting faults -------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` forward, applying every event due on the way."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.advance_to(self._now + seconds)

    def advance_to(self, time: float) -> None:
        if time < self._now:
            raise ValueError(f"cannot go back from {self._now} to {time}")
        while self._queue and self._queue[0][0] <= time + _EPSILON:
            self._apply_next_event()
        self._now = max(self._now, time)
        for attempt in self._attempts.values():
            self._progress(attempt, self._now)

    def next_event_time(self) -> float | None:
        """When the next scheduled event (start, end, commit, node loss, notice) happens."""
        return self._queue[0][0] if self._queue else None

    def fail_rank(self, attempt_id: str, rank: int, message: str = "RuntimeError: injected failure",
                  exit_code: int = 1) -> None:
        """Make ``rank`` of a live attempt fail now."""
        attempt = self._attempts.get(attempt_id)
        if attempt is None or attempt.state in TERMINAL_STATES:
            return
        self._progress(attempt, self._now)
        self._fail(attempt, rank, message, exit_code, self._now)

    def lose_node(self, node: str, *, at: float | None = None) -> None:
        """The node disappears (now, or at virtual time ``at``); attempts on it end ``lost``."""
        self._require_node(node)
        self._schedule(self._now if at is None else at, "node_down", node)
        if at is None:
            self._run_due_events()

    def restore_node(self, node: str) -> None:
        """A node with the same name and labels is back, with every device free."""
        self._require_node(node)
        self._alive[node] = True
        self._changed(node)

    def post_notice(self, node: str, *, deadline: float, kind: NoticeKind = "preemption", source: str = "sim",
                    at: float | None = None) -> None:
        """A notice that ``node`` goes away at ``deadline``, published now or at ``at``."""
        self._require_node(node)
        self._schedule(self._now if at is None else at, "notice", Notice(node, kind, deadline, source))
        if at is None:
            self._run_due_events()

    def preempt(self, node: str, *, warning_s: float, at: float | None = None, source: str = "sim") -> None:
        """A spot preemption: a notice at ``at`` (default now), the node lost ``warning_s`` later."""
        when = self._now if at is None else at
        self.post_notice(node, deadline=when + warning_s, kind="preemption", source=source, at=when)
        self.lose_node(node, at=when + warning_s)

    # -- events ----------------------------------------------------------------------------

    def _schedule(self, time: float, kind: _EventKind, payload: object) -> None:
        heapq.heappush(self._queue, (max(time, self._now), next(self._sequence), kind, payload))

    def _run_due_events(self) -> None:
        while self._queue and self._queue[0][0] <= self._now + _EPSILON:
            self._apply_next_event()

    def _apply_next_event(self) -> None:
        time, _, kind, payload = heapq.heappop(self._queue)
        self._now = max(self._now, time)
        if kind == "node_down":
            self._node_down(str(payload))
        elif kind == "notice":
            assert isinstance(payload, Notice)
            self._events.append(payload)
        elif kind == "start":
            started = self._attempts.get(str(payload))
            if started is not None:
                self._start(started)
        elif kind == "end":
            attempt_id, version = cast(tuple[str, int], payload)
            attempt = self._attempts.get(attempt_id)
            if attempt is not None and attempt.version == version and attempt.state not in TERMINAL_STATES:
                self._end_by_itself(attempt)
        else:
            attempt_id, captured_at = cast(tuple[str, float], payload)
            attempt = self._attempts.get(attempt_id)
            if attempt is not None and attempt.state not in TERMINAL_STATES and attempt.started_at is not None:
                self._progress(attempt, self._now)
                self._commit(attempt, self._steps_done_at(attempt, captured_at), self._now)

    def _start(self, attempt: _Attempt) -> None:
        if attempt.state != "launching":
            return
        attempt.state = "running"
        attempt.started_at = self._now
        for rank, rank_state in enumerate(attempt.ranks):
            rank_state.alive = True
            rank_state.log.append(f"rank {rank} of {attempt.spec.attempt_id} started on {rank_state.node}")
        self._reschedule_end(attempt)

    def _reschedule_end(self, attempt: _Attempt) -> None:
        attempt.version += 1
        end = self._end_time(attempt)
        if end is not None:
            self._schedule(end, "end", (attempt.spec.attempt_id, attempt.version))

    def _step_time(self, attempt: _Attempt, steps_done: int) -> float:
        assert attempt.started_at is not None
        return attempt.started_at + (steps_done - attempt.workload.start_step) * attempt.workload.step_seconds

    def _failure_step(self, attempt: _Attempt) -> int | None:
        """The step during which the scripted failure strikes, if it comes before completion."""
        failure, workload = attempt.workload.failure, attempt.workload
        if failure is None:
            return None
        step = max(failure.at_step, workload.start_step + 1)
        return None if workload.total_steps is not None and step > workload.total_steps else step

    def _last_step(self, attempt: _Attempt) -> int | None:
        """The most steps the attempt completes by itself (before completing or failing)."""
        workload = attempt.workload
        ends = [] if workload.total_steps is None else [max(workload.total_steps, workload.start_step)]
        failure_step = self._failure_step(attempt)
        if failure_step is not None:
            ends.append(failure_step - 1)
        return min(ends) if ends else None

    def _end_time(self, attempt: _Attempt) -> float | None:
        if attempt.started_at is None:
            return None
        candidates: list[float] = []
        total = attempt.workload.total_steps
        if total is not None:
            candidates.append(self._step_time(attempt, max(total, attempt.workload.start_step)))
        failure_step = self._failure_step(attempt)
        if failure_step is not None:
            candidates.append(self._step_time(attempt, failure_step))
        if attempt.stop_deadline is not None:
            candidates.append(min(self._stop_boundary(attempt), attempt.stop_deadline))
        return min(candidates) if candidates else None

    def _stop_boundary(self, attempt: _Attempt) -> float:
        """When the workload leaves its loop after a graceful stop request (infinity if it ignores it)."""
        if attempt.stop_requested_at is None or not attempt.workload.honours_stop:
            return math.inf
        return self._next_boundary(attempt, attempt.stop_requested_at)

    def _next_boundary(self, attempt: _Attempt, time: float) -> float:
        assert attempt.started_at is not None
        elapsed = max(0.0, time - attempt.started_at)
        steps = math.ceil(elapsed / attempt.workload.step_seconds - _EPSILON)
        return attempt.started_at + steps * attempt.workload.step_seconds

    def _end_by_itself(self, attempt: _Attempt) -> None:
        self._progress(attempt, self._now)
        failure, failure_step = attempt.workload.failure, self._failure_step(attempt)
        if failure is not None and failure_step is not None and \
                self._step_time(attempt, failure_step) <= self._now + _EPSILON:
            self._fail(attempt, failure.rank, failure.message, failure.exit_code, self._now)
        elif attempt.stop_requested_at is not None:
            forced = self._stop_boundary(attempt) > self._now + _EPSILON
            if not forced and attempt.workload.checkpoint_on_stop and attempt.steps_done > attempt.workload.start_step:
                self._commit(attempt, attempt.steps_done, self._now)
            self._finish(attempt, "stopped", "stopped on request" + (" (grace period over)" if forced else ""),
                         self._now, exit_code=None if forced else 0)
        else:
            self._finish(attempt, "succeeded", None, self._now, exit_code=0)

    def _steps_done_at(self, attempt: _Attempt, time: float) -> int:
        assert attempt.started_at is not None
        workload = attempt.workload
        done = workload.start_step + math.floor(max(0.0, time - attempt.started_at) / workload.step_seconds + _EPSILON)
        last = self._last_step(attempt)
        return done if last is None else min(done, last)

    def _progress(self, attempt: _Attempt, until: float) -> None:
        """Report every step the attempt finished by ``until``."""
        if attempt.state not in ("running", "stopping") or attempt.started_at is None:
            return
        workload = attempt.workload
        reachable = self._steps_done_at(attempt, until)
        boundary = self._stop_boundary(attempt)
        if boundary < math.inf:
            reachable = min(reachable, workload.start_step + math.floor(
                (boundary - attempt.started_at) / workload.step_seconds + _EPSILON))
        for step in range(attempt.steps_done + 1, reachable + 1):
            time = self._step_time(attempt, step)
            self._events.append(StepReport(attempt.spec.attempt_id, 0, step, workload.loss_at(step),
                                           workload.tokens_per_step, time))
            if workload.checkpoint_every_steps and step % workload.checkpoint_every_steps == 0:
                self._commit(attempt, step, time)
        attempt.steps_done = max(attempt.steps_done, reachable)

    def _commit(self, attempt: _Attempt, step: int, time: float) -> None:
        base = attempt.spec.checkpoint_uri or f"sim://{attempt.spec.job_id}"
        self._events.append(CheckpointCommit(attempt.spec.attempt_id, step,
                                             f"{base.rstrip('/')}/{checkpoint_id(step, attempt.spec.attempt_id)}",
                                             attempt.workload.checkpoint_bytes, time))

    def _fail(self, attempt: _Attempt, rank: int, message: str, exit_code: int, time: float) -> None:
        failed = attempt.ranks[rank]
        failed.log.append(message)
        failed.error = message
        self._finish(attempt, "failed", f"rank {rank} failed: {message}", time, exit_code=None)
        failed.exit_code = exit_code

    def _node_down(self, node: str) -> None:
        if not self._alive[node]:
            return
        self._alive[node] = False
        self._changed(node)
        for attempt in self._attempts.values():
            if attempt.state in TERMINAL_STATES or all(rank.node != node for rank in attempt.ranks):
                continue
            self._progress(attempt, self._now)
            self._finish(attempt, "lost", f"node lost: {node}", self._now, exit_code=None)
            for rank in attempt.ranks:
                if rank.node == node:
                    rank.error = f"node {node} lost"
                    rank.log.append(f"node {node} lost")

    def _finish(self, attempt: _Attempt, state: AttemptState, reason: str | None, time: float,
                exit_code: int | None) -> None:
        attempt.state = state
        attempt.reason = reason
        attempt.ended_at = time
        attempt.version += 1
        for rank in attempt.ranks:
            if rank.alive:
                rank.exit_code = exit_code
            rank.alive = False
        for node, devices in attempt.spec.devices_by_node().items():
            self._in_use[node] -= devices
            self._changed(node)

    # -- observations ----------------------------------------------------------------------

    def _require_node(self, node: str) -> None:
        if node not in self._nodes:
            raise NotFoundError(f"no node named {node!r}", hint=f"nodes: {', '.join(sorted(self._nodes))}")

    def _changed(self, node: str) -> None:
        self._node_views.pop(node, None)
        self._node_cache = None

    def _node_view(self, name: str) -> NodeObservation:
        view = self._node_views.get(name)
        if view is None:
            view = self._node_views[name] = observe_virtual_node(
                self._nodes[name], alive=self._alive[name], cordoned=name in self._cordoned,
                devices_in_use=self._in_use[name])
        return view

    def _node_observations(self) -> tuple[NodeObservation, ...]:
        if self._node_cache is None:
            self._node_cache = tuple(self._node_view(name) for name in self._nodes)
        return self._node_cache

    def _attempt_observation(self, attempt: _Attempt) -> AttemptObservation:
        ranks = tuple(RankObservation(rank=index, node=rank.node, alive=rank.alive, exit_code=rank.exit_code,
                                      error=rank.error, log_tail=tuple(rank.log[-LOG_TAIL_LINES:]))
                      for index, rank in enumerate(attempt.ranks))
        return AttemptObservation(attempt_id=attempt.spec.attempt_id, request_id=attempt.spec.request_id,
                                  job_id=attempt.spec.job_id, state=attempt.state, ranks=ranks,
                                  reason=attempt.reason, started_at=attempt.started_at, ended_at=attempt.ended_at)
