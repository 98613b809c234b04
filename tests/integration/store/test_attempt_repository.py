"""Attempts: numbered per job, one active at a time, found by their launch request id."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session, sessionmaker

from controlplane.domain.errors import ConflictError, NotFoundError
from controlplane.domain.statuses import AttemptStatus
from controlplane.store import (
    AttemptRecord,
    AttemptRepository,
    EventRepository,
    JobRecord,
    JobRepository,
    PoolRecord,
    session_scope,
    switch_attempt_status,
)
from controlplane.store.repositories import default_request_id


def _end(session_factory: sessionmaker[Session], attempt: AttemptRecord, *steps: AttemptStatus) -> None:
    with session_scope(session_factory) as session:
        for step in steps:
            switch_attempt_status(session, attempt.id, step, message=str(step))


def test_the_first_attempt_is_number_one_pending_with_a_derived_request_id(
        add_job: Callable[..., JobRecord], add_attempt: Callable[..., AttemptRecord],
        add_pool: Callable[..., PoolRecord], session_factory: sessionmaker[Session]) -> None:
    job, pool = add_job(), add_pool()
    placement = {"ranks": {"0": "node-1/gpu0"}, "stages": [[0, 1]]}
    attempt = add_attempt(job.id, pool_id=pool.id, accelerator="H100", placement=placement)
    assert (attempt.number, attempt.status, attempt.job_id) == (1, AttemptStatus.PENDING, job.id)
    assert attempt.request_id == default_request_id(job.id, 1)
    assert (attempt.pool_id, attempt.accelerator, attempt.placement) == (pool.id, "H100", placement)
    with session_scope(session_factory) as session:
        assert AttemptRepository(session).get(attempt.id) == attempt
        assert EventRepository(session).list(entity_id=attempt.id) == []  # the controller logs why


def test_a_job_has_at_most_one_active_attempt(add_job: Callable[..., JobRecord],
                                              add_attempt: Callable[..., AttemptRecord]) -> None:
    job = add_job()
    add_attempt(job.id)
    with pytest.raises(ConflictError) as raised:
        add_attempt(job.id)
    assert raised.value.field == "job_id"


def test_the_next_attempt_follows_the_ended_one(add_job: Callable[..., JobRecord],
                                                add_attempt: Callable[..., AttemptRecord],
                                                session_factory: sessionmaker[Session]) -> None:
    job = add_job()
    first = add_attempt(job.id)
    _end(session_factory, first, AttemptStatus.LAUNCHING, AttemptStatus.RUNNING, AttemptStatus.PREEMPTED)
    second = add_attempt(job.id)
    assert second.number == 2
    with session_scope(session_factory) as session:
        attempts = AttemptRepository(session)
        assert [a.number for a in attempts.list_for_job(job.id)] == [1, 2]
        assert attempts.active_for_job(job.id) == second


def test_a_job_without_a_live_attempt_has_no_active_one(add_job: Callable[..., JobRecord],
                                                        add_attempt: Callable[..., AttemptRecord],
                                                        session_factory: sessionmaker[Session]) -> None:
    job = add_job()
    with session_scope(session_factory) as session:
        assert AttemptRepository(session).active_for_job(job.id) is None
    attempt = add_attempt(job.id)
    _end(session_factory, attempt, AttemptStatus.STOPPED)
    with session_scope(session_factory) as session:
        assert AttemptRepository(session).active_for_job(job.id) is None


def test_an_attempt_is_found_by_its_request_id(add_job: Callable[..., JobRecord],
                                               add_attempt: Callable[..., AttemptRecord],
                                               session_factory: sessionmaker[Session]) -> None:
    attempt = add_attempt(add_job().id, request_id="launch-7f3a")
    with session_scope(session_factory) as session:
        attempts = AttemptRepository(session)
        assert attempts.get_by_request_id("launch-7f3a") == attempt
        assert attempts.get_by_request_id("launch-0000") is None


def test_a_reused_request_id_is_a_conflict(add_job: Callable[..., JobRecord],
                                           add_attempt: Callable[..., AttemptRecord]) -> None:
    add_attempt(add_job().id, request_id="launch-1")
    with pytest.raises(ConflictError):
        add_attempt(add_job().id, request_id="launch-1")


def test_attempts_of_an_unknown_job_are_not_found(add_attempt: Callable[..., AttemptRecord],
                                                  session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(NotFoundError):
        add_attempt("no-such-job")
    with session_scope(session_factory) as session, pytest.raises(NotFoundError):
        AttemptRepository(session).get("no-such-attempt")


def test_attempts_are_listed_by_status(add_job: Callable[..., JobRecord],
                                       add_attempt: Callable[..., AttemptRecord],
                                       session_factory: sessionmaker[Session]) -> None:
    running = add_attempt(add_job().id)
    _end(session_factory, running, AttemptStatus.LAUNCHING, AttemptStatus.RUNNING)
    pending = add_attempt(add_job().id)
    failed = add_attempt(add_job().id)
    _end(session_factory, failed, AttemptStatus.LAUNCHING, AttemptStatus.FAILED)
    with session_scope(session_factory) as session:
        attempts = AttemptRepository(session)
        assert {a.id for a in attempts.list_by_status()} == {running.id, pending.id}
        assert [a.id for a in attempts.list_by_status([AttemptStatus.FAILED])] == [failed.id]


def test_attempts_of_many_jobs_come_grouped_by_job(add_job: Callable[..., JobRecord],
                                                   add_attempt: Callable[..., AttemptRecord],
                                                   session_factory: sessionmaker[Session]) -> None:
    busy, idle, other = add_job(), add_job(), add_job()
    first = add_attempt(busy.id)
    _end(session_factory, first, AttemptStatus.STOPPED)
    second = add_attempt(busy.id)
    third = add_attempt(other.id)
    with session_scope(session_factory) as session:
        grouped = AttemptRepository(session).list_for_jobs([busy.id, idle.id, busy.id])
        assert AttemptRepository(session).list_for_jobs([]) == {}
    assert {job_id: [a.id for a in attempts] for job_id, attempts in grouped.items()} == {
        busy.id: [first.id, second.id]}  # idle has none; other was not asked for
    assert third.job_id == other.id


def test_active_attempts_are_counted_per_pool(add_job: Callable[..., JobRecord],
                                              add_attempt: Callable[..., AttemptRecord],
                                              add_pool: Callable[..., PoolRecord],
                                              session_factory: sessionmaker[Session]) -> None:
    pool, other = add_pool(), add_pool("other")
    running = add_attempt(add_job().id, pool_id=pool.id)
    _end(session_factory, running, AttemptStatus.LAUNCHING, AttemptStatus.RUNNING)
    add_attempt(add_job().id, pool_id=pool.id)
    ended = add_attempt(add_job().id, pool_id=pool.id)
    _end(session_factory, ended, AttemptStatus.STOPPED)
    add_attempt(add_job().id, pool_id=other.id)
    with session_scope(session_factory) as session:
        assert AttemptRepository(session).count_active_in_pool(pool.id) == 2
        assert JobRepository(session).count_active_attempts_in_pool(pool.id) == 2
        assert AttemptRepository(session).count_active_in_pool("unused") == 0
