"""The job and attempt transition tables, edge by edge."""

from __future__ import annotations

from collections import deque
from enum import StrEnum

import pytest

from controlplane.domain.errors import InvalidTransitionError
from controlplane.domain.statuses import (
    ACTIVE_ATTEMPT_STATUSES,
    ATTEMPT_TRANSITIONS,
    JOB_TRANSITIONS,
    TERMINAL_ATTEMPT_STATUSES,
    TERMINAL_JOB_STATUSES,
    AttemptStatus,
    JobStatus,
    check_attempt_transition,
    check_job_transition,
)

JOB_EDGES = [(a, b) for a, targets in JOB_TRANSITIONS.items() for b in sorted(targets)]
JOB_NON_EDGES = [(a, b) for a in JobStatus for b in JobStatus if b not in JOB_TRANSITIONS[a]]
ATTEMPT_EDGES = [(a, b) for a, targets in ATTEMPT_TRANSITIONS.items() for b in sorted(targets)]
ATTEMPT_NON_EDGES = [(a, b) for a in AttemptStatus for b in AttemptStatus if b not in ATTEMPT_TRANSITIONS[a]]


def _reachable(table: dict[StrEnum, frozenset[StrEnum]], start: StrEnum) -> set[StrEnum]:
    seen, frontier = {start}, deque([start])
    while frontier:
        for nxt in table[frontier.popleft()]:
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    return seen


@pytest.mark.parametrize(("current", "target"), JOB_EDGES, ids=[f"{a}->{b}" for a, b in JOB_EDGES])
def test_every_job_edge_in_the_table_is_allowed(current: JobStatus, target: JobStatus) -> None:
    check_job_transition(current, target)


@pytest.mark.parametrize(("current", "target"), JOB_NON_EDGES, ids=[f"{a}->{b}" for a, b in JOB_NON_EDGES])
def test_every_job_move_outside_the_table_is_refused(current: JobStatus, target: JobStatus) -> None:
    with pytest.raises(InvalidTransitionError) as raised:
        check_job_transition(current, target)
    assert (raised.value.entity, raised.value.current, raised.value.target) == ("job", current, target)


@pytest.mark.parametrize(("current", "target"), ATTEMPT_EDGES, ids=[f"{a}->{b}" for a, b in ATTEMPT_EDGES])
def test_every_attempt_edge_in_the_table_is_allowed(current: AttemptStatus, target: AttemptStatus) -> None:
    check_attempt_transition(current, target)


@pytest.mark.parametrize(("current", "target"), ATTEMPT_NON_EDGES,
                         ids=[f"{a}->{b}" for a, b in ATTEMPT_NON_EDGES])
def test_every_attempt_move_outside_the_table_is_refused(current: AttemptStatus,
                                                         target: AttemptStatus) -> None:
    with pytest.raises(InvalidTransitionError) as raised:
        check_attempt_transition(current, target)
    assert (raised.value.entity, raised.value.current, raised.value.target) == ("attempt", current, target)


def test_a_status_never_transitions_to_itself() -> None:
    assert all(status not in targets for status, targets in JOB_TRANSITIONS.items())
    assert all(status not in targets for status, targets in ATTEMPT_TRANSITIONS.items())


def test_terminal_statuses_are_exactly_those_without_a_way_out() -> None:
    assert {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED} == TERMINAL_JOB_STATUSES
    assert {
        AttemptStatus.SUCCEEDED, AttemptStatus.FAILED, AttemptStatus.PREEMPTED, AttemptStatus.STOPPED,
    } == TERMINAL_ATTEMPT_STATUSES
    assert set(AttemptStatus) - TERMINAL_ATTEMPT_STATUSES == ACTIVE_ATTEMPT_STATUSES


def test_every_status_is_reachable_from_pending_and_can_still_finish() -> None:
    job_table: dict[StrEnum, frozenset[StrEnum]] = dict(JOB_TRANSITIONS)  # type: ignore[arg-type]
    attempt_table: dict[StrEnum, frozenset[StrEnum]] = dict(ATTEMPT_TRANSITIONS)  # type: ignore[arg-type]
    assert _reachable(job_table, JobStatus.PENDING) == set(JobStatus)
    assert _reachable(attempt_table, AttemptStatus.PENDING) == set(AttemptStatus)
    for status in JobStatus:
        assert _reachable(job_table, status) & TERMINAL_JOB_STATUSES, status
    for attempt_status in AttemptStatus:
        assert _reachable(attempt_table, attempt_status) & TERMINAL_ATTEMPT_STATUSES, attempt_status


def test_a_refused_move_names_the_allowed_next_statuses() -> None:
    with pytest.raises(InvalidTransitionError) as raised:
        check_job_transition(JobStatus.CANCELLING, JobStatus.RUNNING)
    assert raised.value.hint == "allowed next statuses from CANCELLING: CANCELLED"
    with pytest.raises(InvalidTransitionError) as terminal:
        check_job_transition(JobStatus.SUCCEEDED, JobStatus.PENDING)
    assert "none (terminal)" in str(terminal.value.hint)
