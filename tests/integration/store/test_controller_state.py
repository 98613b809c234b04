"""Leader leases, recorded intents and attempt progress: the controller's crash-safety state."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from controlplane.domain.errors import FencedOutError
from controlplane.store import (
    AttemptRecord,
    AttemptRepository,
    IntentRepository,
    JobRecord,
    LeaseRepository,
    session_scope,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def acquire(factory: sessionmaker[Session], holder: str, at: datetime, ttl: float = 10.0):
    with session_scope(factory) as session:
        return LeaseRepository(session).try_acquire("controller", holder, ttl_s=ttl, now=at)


def test_the_first_contender_gets_the_lease_and_a_second_waits_until_it_expires(
        session_factory: sessionmaker[Session]) -> None:
    first = acquire(session_factory, "a", T0)
    assert first is not None and (first.holder, first.token) == ("a", 1)
    assert acquire(session_factory, "b", T0 + timedelta(seconds=5)) is None
    taken = acquire(session_factory, "b", T0 + timedelta(seconds=11))
    assert taken is not None and (taken.holder, taken.token) == ("b", 2)
    assert acquire(session_factory, "a", T0 + timedelta(seconds=12)) is None


def test_the_holder_renews_without_changing_the_fencing_token(session_factory: sessionmaker[Session]) -> None:
    acquire(session_factory, "a", T0)
    renewed = acquire(session_factory, "a", T0 + timedelta(seconds=8))
    assert renewed is not None and renewed.token == 1
    assert renewed.expires_at == T0 + timedelta(seconds=18)
    assert acquire(session_factory, "b", T0 + timedelta(seconds=15)) is None


def test_a_released_lease_is_free_at_once(session_factory: sessionmaker[Session]) -> None:
    acquire(session_factory, "a", T0)
    with session_scope(session_factory) as session:
        LeaseRepository(session).release("controller", "a", now=T0 + timedelta(seconds=1))
    taken = acquire(session_factory, "b", T0 + timedelta(seconds=1))
    assert taken is not None and taken.token == 2


def test_only_the_current_token_passes_the_fence_and_a_stale_leader_is_told_who_holds_the_lease(
        session_factory: sessionmaker[Session]) -> None:
    acquire(session_factory, "a", T0)
    with session_scope(session_factory) as session:
        LeaseRepository(session).check_fence("controller", 1, now=T0 + timedelta(seconds=5))
    acquire(session_factory, "b", T0 + timedelta(seconds=11))
    with pytest.raises(FencedOutError, match="held by b \\(token 2\\)"), session_scope(session_factory) as session:
        LeaseRepository(session).check_fence("controller", 1, now=T0 + timedelta(seconds=12))
    with pytest.raises(FencedOutError), session_scope(session_factory) as session:  # expired, even unclaimed
        LeaseRepository(session).check_fence("controller", 2, now=T0 + timedelta(seconds=30))


def test_an_intent_recorded_twice_under_one_request_id_is_one_intent(
        session_factory: sessionmaker[Session], add_job: Callable[..., JobRecord]) -> None:
    job = add_job()
    with session_scope(session_factory) as session:
        intents = IntentRepository(session)
        first = intents.record(kind="launch", request_id="r-1", payload={"x": 1}, lease_token=1, job_id=job.id)
        again = intents.record(kind="launch", request_id="r-1", payload={"x": 2}, lease_token=2, job_id=job.id)
    assert first.id == again.id and again.payload == {"x": 1}


def test_pending_intents_survive_until_finished_and_finishing_is_final(
        session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        intents = IntentRepository(session)
        intents.record(kind="launch", request_id="r-1", payload={}, lease_token=1, now=T0)
        intents.record(kind="stop", request_id="r-2", payload={}, lease_token=1, now=T0 + timedelta(seconds=1))
    with session_scope(session_factory) as session:
        assert [i.request_id for i in IntentRepository(session).pending()] == ["r-1", "r-2"]
        IntentRepository(session).finish("r-1", "applied")
    with session_scope(session_factory) as session:
        intents = IntentRepository(session)
        assert [i.request_id for i in intents.pending()] == ["r-2"]
        again = intents.finish("r-1", "failed", error="late")
        assert (again.state, again.error) == ("applied", None)


def test_progress_reports_merge_into_the_attempt(
        session_factory: sessionmaker[Session], add_job: Callable[..., JobRecord],
        add_attempt: Callable[..., AttemptRecord]) -> None:
    attempt = add_attempt(add_job().id)
    with session_scope(session_factory) as session:
        AttemptRepository(session).record_progress(attempt.id, {"step": 3, "loss": 2.5})
        AttemptRepository(session).record_progress(attempt.id, {"step": 4})
    with session_scope(session_factory) as session:
        assert AttemptRepository(session).get(attempt.id).progress == {"step": 4, "loss": 2.5}
