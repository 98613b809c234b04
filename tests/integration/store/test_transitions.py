"""Status changes go through one function per entity that checks the table and logs one event."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

import pytest
from sqlalchemy.orm import Session, sessionmaker

from controlplane.domain.errors import InvalidTransitionError, NotFoundError
from controlplane.domain.statuses import (
    ATTEMPT_TRANSITIONS,
    JOB_TRANSITIONS,
    TERMINAL_ATTEMPT_STATUSES,
    TERMINAL_JOB_STATUSES,
    AttemptStatus,
    JobStatus,
)
from controlplane.store import (
    AttemptRecord,
    EventRepository,
    JobRecord,
    JobRepository,
    session_scope,
    switch_attempt_status,
    switch_job_status,
)

S = TypeVar("S", bound=StrEnum)

JOB_EDGES = [(a, b) for a, targets in JOB_TRANSITIONS.items() for b in sorted(targets)]
ATTEMPT_EDGES = [(a, b) for a, targets in ATTEMPT_TRANSITIONS.items() for b in sorted(targets)]
ILLEGAL_JOB_MOVES = [
    (JobStatus.PENDING, JobStatus.RUNNING),
    (JobStatus.PENDING, JobStatus.SUCCEEDED),
    (JobStatus.SCHEDULED, JobStatus.CANCELLED),
    (JobStatus.CANCELLING, JobStatus.RUNNING),
    (JobStatus.SUCCEEDED, JobStatus.PENDING),
    (JobStatus.FAILED, JobStatus.RUNNING),
]
ILLEGAL_ATTEMPT_MOVES = [
    (AttemptStatus.PENDING, AttemptStatus.RUNNING),
    (AttemptStatus.RUNNING, AttemptStatus.LAUNCHING),
    (AttemptStatus.PREEMPTED, AttemptStatus.RUNNING),
    (AttemptStatus.STOPPED, AttemptStatus.PENDING),
]
MOMENT = datetime(2025, 5, 5, 5, 5, 5, tzinfo=UTC)


def _path(table: dict[S, frozenset[S]], start: S, goal: S) -> list[S]:
    """The shortest list of statuses after ``start`` that ends in ``goal``."""
    previous: dict[S, S] = {}
    frontier = deque([start])
    while frontier:
        status = frontier.popleft()
        if status == goal:
            break
        for nxt in sorted(table[status]):
            if nxt not in previous and nxt != start:
                previous[nxt] = status
                frontier.append(nxt)
    steps: list[S] = []
    while goal != start:
        steps.append(goal)
        goal = previous[goal]
    return steps[::-1]


def _job_in(session_factory: sessionmaker[Session], add_job: Callable[..., JobRecord],
            status: JobStatus) -> JobRecord:
    job = add_job()
    with session_scope(session_factory) as session:
        for step in _path(JOB_TRANSITIONS, JobStatus.PENDING, status):
            job = switch_job_status(session, job.id, step, message=f"to {step}")
    return job


def _attempt_in(session_factory: sessionmaker[Session], add_job: Callable[..., JobRecord],
                add_attempt: Callable[..., AttemptRecord], status: AttemptStatus) -> AttemptRecord:
    attempt = add_attempt(add_job().id)
    with session_scope(session_factory) as session:
        for step in _path(ATTEMPT_TRANSITIONS, AttemptStatus.PENDING, status):
            attempt = switch_attempt_status(session, attempt.id, step, message=f"to {step}")
    return attempt


def _events(session_factory: sessionmaker[Session], **filters: Any) -> list:
    with session_scope(session_factory) as session:
        return EventRepository(session).list(**filters)


@pytest.mark.parametrize(("current", "target"), JOB_EDGES, ids=[f"{a}->{b}" for a, b in JOB_EDGES])
def test_every_job_edge_switches_and_logs_one_event(session_factory: sessionmaker[Session],
                                                    add_job: Callable[..., JobRecord],
                                                    current: JobStatus, target: JobStatus) -> None:
    job = _job_in(session_factory, add_job, current)
    before = _events(session_factory, job_id=job.id, type_prefix="job.status_changed")

    with session_scope(session_factory) as session:
        switched = switch_job_status(session, job.id, target, message="why", data={"by": "test"}, now=MOMENT)

    assert switched.status is target and switched.status_message == "why"
    assert switched.updated_at == MOMENT
    assert switched.finished_at == (MOMENT if target in TERMINAL_JOB_STATUSES else None)
    after = _events(session_factory, job_id=job.id, type_prefix="job.status_changed")
    assert len(after) == len(before) + 1
    event = after[-1]
    assert (event.entity, event.entity_id, event.team, event.message) == ("job", job.id, job.team, "why")
    assert event.data == {"by": "test", "from": current.value, "to": target.value}
    assert event.created_at == MOMENT


@pytest.mark.parametrize(("current", "target"), ATTEMPT_EDGES, ids=[f"{a}->{b}" for a, b in ATTEMPT_EDGES])
def test_every_attempt_edge_switches_and_logs_one_event(
        session_factory: sessionmaker[Session], add_job: Callable[..., JobRecord],
        add_attempt: Callable[..., AttemptRecord], current: AttemptStatus, target: AttemptStatus) -> None:
    attempt = _attempt_in(session_factory, add_job, add_attempt, current)
    before = _events(session_factory, entity_id=attempt.id, type_prefix="attempt.status_changed")

    with session_scope(session_factory) as session:
        switched = switch_attempt_status(session, attempt.id, target, message="why", now=MOMENT)

    assert switched.status is target
    if target is AttemptStatus.RUNNING:
        assert switched.started_at == MOMENT
    if target in TERMINAL_ATTEMPT_STATUSES:
        assert (switched.ended_at, switched.exit_reason) == (MOMENT, "why")
    else:
        assert switched.ended_at is None and switched.exit_reason is None
    after = _events(session_factory, entity_id=attempt.id, type_prefix="attempt.status_changed")
    assert len(after) == len(before) + 1
    assert after[-1].job_id == attempt.job_id and after[-1].team == "team-a"
    assert after[-1].data == {"from": current.value, "to": target.value, "number": 1}


@pytest.mark.parametrize(("current", "target"), ILLEGAL_JOB_MOVES,
                         ids=[f"{a}->{b}" for a, b in ILLEGAL_JOB_MOVES])
def test_an_illegal_job_move_is_refused_and_changes_nothing(session_factory: sessionmaker[Session],
                                                            add_job: Callable[..., JobRecord],
                                                            current: JobStatus, target: JobStatus) -> None:
    job = _job_in(session_factory, add_job, current)
    events_before = _events(session_factory, job_id=job.id)

    with pytest.raises(InvalidTransitionError), session_scope(session_factory) as session:
        switch_job_status(session, job.id, target, message="nope")

    with session_scope(session_factory) as session:
        assert JobRepository(session).get(job.id).status is current
    assert _events(session_factory, job_id=job.id) == events_before


@pytest.mark.parametrize(("current", "target"), ILLEGAL_ATTEMPT_MOVES,
                         ids=[f"{a}->{b}" for a, b in ILLEGAL_ATTEMPT_MOVES])
def test_an_illegal_attempt_move_is_refused(session_factory: sessionmaker[Session],
                                            add_job: Callable[..., JobRecord],
                                            add_attempt: Callable[..., AttemptRecord],
                                            current: AttemptStatus, target: AttemptStatus) -> None:
    attempt = _attempt_in(session_factory, add_job, add_attempt, current)
    with pytest.raises(InvalidTransitionError) as raised, session_scope(session_factory) as session:
        switch_attempt_status(session, attempt.id, target, message="nope")
    assert raised.value.details == {"entity": "attempt", "current": current.value, "target": target.value}


def test_a_rolled_back_switch_leaves_neither_the_status_nor_the_event(
        session_factory: sessionmaker[Session], add_job: Callable[..., JobRecord]) -> None:
    job = add_job()
    events_before = _events(session_factory, job_id=job.id)

    with pytest.raises(RuntimeError), session_scope(session_factory) as session:
        switch_job_status(session, job.id, JobStatus.SCHEDULED, message="admitted")
        assert len(EventRepository(session).list(job_id=job.id)) == len(events_before) + 1
        raise RuntimeError("crash before commit")

    with session_scope(session_factory) as session:
        assert JobRepository(session).get(job.id).status is JobStatus.PENDING
    assert _events(session_factory, job_id=job.id) == events_before


def test_a_job_history_is_the_sequence_of_its_events(session_factory: sessionmaker[Session],
                                                     add_job: Callable[..., JobRecord]) -> None:
    job = _job_in(session_factory, add_job, JobStatus.SUCCEEDED)
    history = [(e.data["from"], e.data["to"]) for e in _events(session_factory, job_id=job.id,
                                                                type_prefix="job.status_changed")]
    assert history == [("PENDING", "SCHEDULED"), ("SCHEDULED", "RUNNING"), ("RUNNING", "SUCCEEDED")]


def test_switching_an_unknown_entity_is_not_found(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        with pytest.raises(NotFoundError):
            switch_job_status(session, "missing", JobStatus.SCHEDULED, message="")
        with pytest.raises(NotFoundError):
            switch_attempt_status(session, "missing", AttemptStatus.LAUNCHING, message="")


def test_a_switch_sees_a_concurrent_committed_switch_instead_of_overwriting_it(
        session_factory: sessionmaker[Session], add_job: Callable[..., JobRecord]) -> None:
    """Two writers race from PENDING: the scheduler admits the job while a user cancels it.
    The row lock (FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite) makes the second writer
    wait and then judge the move from SCHEDULED, where CANCELLED is not allowed."""
    job = add_job()
    outcome: dict[str, BaseException | JobRecord] = {}
    first = session_factory()
    try:
        switch_job_status(first, job.id, JobStatus.SCHEDULED, message="admitted")

        def cancel() -> None:
            try:
                with session_scope(session_factory) as session:
                    outcome["cancel"] = switch_job_status(session, job.id, JobStatus.CANCELLED,
                                                          message="user cancelled")
            except BaseException as error:
                outcome["cancel"] = error

        racer = threading.Thread(target=cancel)
        racer.start()
        racer.join(timeout=0.5)  # give it the chance to block on the lock
        first.commit()
    finally:
        first.close()
    racer.join(timeout=30)

    assert isinstance(outcome["cancel"], InvalidTransitionError)
    with session_scope(session_factory) as session:
        assert JobRepository(session).get(job.id).status is JobStatus.SCHEDULED
