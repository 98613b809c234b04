"""Status machines of jobs and attempts as explicit transition tables.

A job is what a user submitted; it runs as a sequence of attempts. Preemption or failure ends an
attempt, never the job by itself: the job goes back to PENDING and the next attempt resumes from
the newest committed checkpoint, until ``maxRestarts`` is exhausted.

Each table maps a status to the statuses it may move to, with a comment on every edge. Status
changes happen only through ``controlplane.store.transitions`` (``switch_job_status`` /
``switch_attempt_status``), which consults these tables and appends an event.
"""

from __future__ import annotations

from enum import StrEnum

from controlplane.domain.errors import InvalidTransitionError


class JobStatus(StrEnum):
    PENDING = "PENDING"
    SCHEDULED = "SCHEDULED"
    RUNNING = "RUNNING"
    CANCELLING = "CANCELLING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class AttemptStatus(StrEnum):
    PENDING = "PENDING"
    LAUNCHING = "LAUNCHING"
    RUNNING = "RUNNING"
    STOPPING = "STOPPING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    PREEMPTED = "PREEMPTED"
    STOPPED = "STOPPED"


JOB_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.PENDING: frozenset({
        JobStatus.SCHEDULED,   # the scheduler admitted it: pool, layout and placement chosen
        JobStatus.CANCELLED,   # cancelled while waiting; nothing runs, so nothing to stop
        JobStatus.FAILED,      # rejected for good (can never fit, budget or deadline impossible)
    }),
    JobStatus.SCHEDULED: frozenset({
        JobStatus.RUNNING,     # the attempt's ranks all started
        JobStatus.PENDING,     # launch failed or capacity vanished before start: back to the queue
        JobStatus.CANCELLING,  # cancelled while the attempt was being launched
        JobStatus.FAILED,      # launch failed in a way retrying cannot fix (bad entrypoint)
    }),
    JobStatus.RUNNING: frozenset({
        JobStatus.SUCCEEDED,   # the entrypoint finished on every rank
        JobStatus.PENDING,     # the attempt was preempted or failed; a new attempt will resume it
        JobStatus.CANCELLING,  # the user asked to stop; the attempt is being stopped
        JobStatus.FAILED,      # failed with no restarts left, or a non-retryable error
    }),
    JobStatus.CANCELLING: frozenset({
        JobStatus.CANCELLED,   # the running attempt has stopped
    }),
    JobStatus.SUCCEEDED: frozenset(),  # terminal
    JobStatus.FAILED: frozenset(),     # terminal
    JobStatus.CANCELLED: frozenset(),  # terminal
}

ATTEMPT_TRANSITIONS: dict[AttemptStatus, frozenset[AttemptStatus]] = {
    AttemptStatus.PENDING: frozenset({
        AttemptStatus.LAUNCHING,  # the controller recorded the launch intent and called the runtime
        AttemptStatus.STOPPED,    # abandoned before launch (job cancelled, placement invalidated)
    }),
    AttemptStatus.LAUNCHING: frozenset({
        AttemptStatus.RUNNING,    # every rank reported it is up
        AttemptStatus.FAILED,     # the runtime could not start it (infeasible, entrypoint error)
        AttemptStatus.PREEMPTED,  # a node was reclaimed while the gang was starting
        AttemptStatus.STOPPING,   # asked to stop while starting
    }),
    AttemptStatus.RUNNING: frozenset({
        AttemptStatus.SUCCEEDED,  # the entrypoint returned on every rank
        AttemptStatus.FAILED,     # a rank crashed or a node was lost without notice
        AttemptStatus.PREEMPTED,  # the cloud reclaimed a node (after a notice, or observed after the fact)
        AttemptStatus.STOPPING,   # the control plane asked it to stop (cancel, preempt for priority, migrate)
    }),
    AttemptStatus.STOPPING: frozenset({
        AttemptStatus.STOPPED,    # stopped cleanly within its deadline
        AttemptStatus.PREEMPTED,  # the node went away before the graceful stop finished
        AttemptStatus.FAILED,     # a rank crashed while stopping
        AttemptStatus.SUCCEEDED,  # it finished its last step before the stop took effect
    }),
    AttemptStatus.SUCCEEDED: frozenset(),  # terminal
    AttemptStatus.FAILED: frozenset(),     # terminal
    AttemptStatus.PREEMPTED: frozenset(),  # terminal
    AttemptStatus.STOPPED: frozenset(),    # terminal
}

TERMINAL_JOB_STATUSES = frozenset(s for s, nxt in JOB_TRANSITIONS.items() if not nxt)
TERMINAL_ATTEMPT_STATUSES = frozenset(s for s, nxt in ATTEMPT_TRANSITIONS.items() if not nxt)
ACTIVE_ATTEMPT_STATUSES = frozenset(
    {AttemptStatus.PENDING, AttemptStatus.LAUNCHING, AttemptStatus.RUNNING, AttemptStatus.STOPPING}
)


def check_job_transition(current: JobStatus, target: JobStatus) -> None:
    """Raise :class:`InvalidTransitionError` unless ``current -> target`` is an edge of the job table."""
    allowed = JOB_TRANSITIONS[current]
    if target not in allowed:
        raise InvalidTransitionError("job", current.value, target.value, allowed=sorted(allowed))


def check_attempt_transition(current: AttemptStatus, target: AttemptStatus) -> None:
    """Raise :class:`InvalidTransitionError` unless ``current -> target`` is an edge of the attempt table."""
    allowed = ATTEMPT_TRANSITIONS[current]
    if target not in allowed:
        raise InvalidTransitionError("attempt", current.value, target.value, allowed=sorted(allowed))
