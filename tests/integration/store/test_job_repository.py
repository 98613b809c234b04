"""Jobs: created PENDING with a submitted event, unique by name and idempotency key, listed by
keyset pages that walk every row exactly once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from controlplane.domain.errors import ConflictError, InvalidInputError, NotFoundError
from controlplane.domain.statuses import JobStatus
from controlplane.store import (
    EventRepository,
    JobRecord,
    JobRepository,
    decode_cursor,
    session_scope,
    spec_hash,
    switch_job_status,
)

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _walk(session_factory: sessionmaker[Session], *, limit: int, newest_first: bool = False,
          between_pages: Callable[[int], None] | None = None, **filters: object) -> list[JobRecord]:
    seen: list[JobRecord] = []
    cursor: str | None = None
    page_number = 0
    while True:
        with session_scope(session_factory) as session:
            page = JobRepository(session).list(after=decode_cursor(cursor) if cursor else None,
                                               limit=limit, newest_first=newest_first, **filters)  # type: ignore[arg-type]
        assert len(page.items) <= limit
        seen.extend(page.items)
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor
        page_number += 1
        if between_pages:
            between_pages(page_number)


def test_a_submitted_job_is_pending_with_its_priority_and_spec_hash(
        session_factory: sessionmaker[Session]) -> None:
    spec = {"parallelism": {"tensor": 8}, "model": {"layers": 80}}
    with session_scope(session_factory) as session:
        job = JobRepository(session).add(kind="InferenceService", team="search", name="ranker",
                                         queue="serving", spec=spec, priority_class="critical",
                                         labels={"app": "ranker"}, now=T0)
    assert job.status is JobStatus.PENDING and job.status_message == "submitted"
    assert job.restarts == 0 and job.finished_at is None
    assert (job.priority_class, job.priority) == ("critical", 1000)
    assert job.spec == spec and job.spec_hash == spec_hash(spec) and job.labels == {"app": "ranker"}
    assert job.created_at == job.updated_at == T0
    with session_scope(session_factory) as session:
        assert JobRepository(session).get(job.id) == job
        assert EventRepository(session).list(job_id=job.id) == []  # the use case logs the submission


def test_a_caller_may_supply_the_spec_hash_priority_and_status_message(
        add_job: Callable[..., JobRecord]) -> None:
    job = add_job(spec_hash="f" * 64, priority_class="low", priority=-50, status_message="queued")
    assert (job.spec_hash, job.priority, job.status_message) == ("f" * 64, -50, "queued")


def test_getting_an_unknown_job_is_not_found(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session, pytest.raises(NotFoundError):
        JobRepository(session).get("no-such-job")


def test_a_job_is_found_by_kind_team_and_name(add_job: Callable[..., JobRecord],
                                              session_factory: sessionmaker[Session]) -> None:
    job = add_job(name="llama")
    with session_scope(session_factory) as session:
        jobs = JobRepository(session)
        assert jobs.find("TrainingJob", "team-a", "llama") == job
        assert jobs.find("InferenceService", "team-a", "llama") is None
        assert jobs.find("TrainingJob", "team-b", "llama") is None


def test_a_second_job_with_the_same_kind_team_and_name_is_a_conflict(
        add_job: Callable[..., JobRecord]) -> None:
    add_job(name="llama")
    with pytest.raises(ConflictError) as raised:
        add_job(name="llama")
    assert raised.value.field == "metadata.name"
    add_job(name="llama", team="team-b")
    add_job(name="llama", kind="InferenceService")


def test_an_idempotency_key_is_unique_per_team(add_job: Callable[..., JobRecord],
                                               session_factory: sessionmaker[Session]) -> None:
    first = add_job(idempotency_key="req-42")
    with pytest.raises(ConflictError) as raised:
        add_job(idempotency_key="req-42")
    assert raised.value.field == "idempotency_key"
    other_team = add_job(idempotency_key="req-42", team="team-b")
    add_job(idempotency_key=None)
    add_job(idempotency_key=None)
    with session_scope(session_factory) as session:
        jobs = JobRepository(session)
        assert jobs.find_by_idempotency_key("team-a", "req-42") == first
        assert jobs.find_by_idempotency_key("team-b", "req-42") == other_team
        assert jobs.find_by_idempotency_key("team-a", "req-43") is None


def test_the_session_stays_usable_after_a_conflict(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        jobs = JobRepository(session)
        jobs.add(kind="TrainingJob", team="t", name="a", queue="q", spec={})
        with pytest.raises(ConflictError):
            jobs.add(kind="TrainingJob", team="t", name="a", queue="q", spec={})
        jobs.add(kind="TrainingJob", team="t", name="b", queue="q", spec={})
    with session_scope(session_factory) as session:
        assert {j.name for j in JobRepository(session).list().items} == {"a", "b"}


def test_two_concurrent_submissions_of_one_name_create_one_job(
        session_factory: sessionmaker[Session]) -> None:
    """The second writer cannot see the first's uncommitted row; the unique constraint (or,
    on SQLite, the serialised write transaction) still turns it into a ConflictError."""
    outcome: dict[str, object] = {}
    first = session_factory()
    try:
        JobRepository(first).add(kind="TrainingJob", team="t", name="race", queue="q", spec={})

        def submit_again() -> None:
            try:
                with session_scope(session_factory) as session:
                    outcome["second"] = JobRepository(session).add(kind="TrainingJob", team="t",
                                                                   name="race", queue="q", spec={})
            except BaseException as error:
                outcome["second"] = error

        racer = threading.Thread(target=submit_again)
        racer.start()
        racer.join(timeout=0.5)
        first.commit()
    finally:
        first.close()
    racer.join(timeout=30)
    assert isinstance(outcome["second"], ConflictError)


@pytest.mark.parametrize(("field", "overrides"), [
    ("kind", {"kind": "Notebook"}),
    ("priority_class", {"priority_class": "urgent"}),
    ("spec", {"spec": {"ratio": float("nan")}}),
])
def test_invalid_submissions_are_refused_naming_the_field(add_job: Callable[..., JobRecord], field: str,
                                                          overrides: dict) -> None:
    with pytest.raises(InvalidInputError) as raised:
        add_job(**overrides)
    assert raised.value.field == field


def test_listing_filters_by_kind_team_status_queue_and_name_prefix(
        add_job: Callable[..., JobRecord], session_factory: sessionmaker[Session]) -> None:
    a = add_job(name="llama-7b", queue="research")
    b = add_job(name="llama-70b", team="team-b")
    c = add_job(name="ranker", kind="InferenceService")
    d = add_job(name="llama_x%")
    with session_scope(session_factory) as session:
        switch_job_status(session, c.id, JobStatus.SCHEDULED, message="admitted")

    def names(**filters: object) -> set[str]:
        with session_scope(session_factory) as session:
            return {j.name for j in JobRepository(session).list(**filters).items}  # type: ignore[arg-type]

    assert names() == {a.name, b.name, c.name, d.name}
    assert names(kind="InferenceService") == {"ranker"}
    assert names(team="team-b") == {"llama-70b"}
    assert names(statuses=[JobStatus.SCHEDULED, JobStatus.RUNNING]) == {"ranker"}
    assert names(statuses=[]) == set()
    assert names(queue="research") == {"llama-7b"}
    assert names(name_prefix="llama-") == {"llama-7b", "llama-70b"}
    assert names(name_prefix="llama_x%") == {"llama_x%"}
    assert names(name_prefix="llama_") == {"llama_x%"}
    assert names(team="team-a", name_prefix="llama") == {"llama-7b", "llama_x%"}


def test_pages_walk_every_job_once_in_order_while_new_jobs_arrive(
        add_job: Callable[..., JobRecord], session_factory: sessionmaker[Session]) -> None:
    # 24 jobs, three per timestamp, so the id breaks ties inside a page and across pages
    originals = [add_job(now=T0 + timedelta(seconds=i // 3)) for i in range(24)]
    arrivals: list[JobRecord] = []

    def insert_more(page_number: int) -> None:
        arrivals.append(add_job(now=T0 + timedelta(hours=1, seconds=page_number)))

    seen = _walk(session_factory, limit=5, between_pages=insert_more)

    keys = [(job.created_at, job.id) for job in seen]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert [job.id for job in seen[:24]] == [job.id for job in
                                             sorted(originals, key=lambda j: (j.created_at, j.id))]
    assert {job.id for job in seen} == {job.id for job in originals + arrivals}


def test_newest_first_pages_walk_every_job_once_in_reverse_order(
        add_job: Callable[..., JobRecord], session_factory: sessionmaker[Session]) -> None:
    originals = [add_job(now=T0 + timedelta(seconds=i // 2)) for i in range(11)]
    seen = _walk(session_factory, limit=3, newest_first=True)
    expected = sorted(originals, key=lambda j: (j.created_at, j.id), reverse=True)
    assert [job.id for job in seen] == [job.id for job in expected]


def test_filters_hold_across_pages(add_job: Callable[..., JobRecord],
                                   session_factory: sessionmaker[Session]) -> None:
    for i in range(9):
        add_job(team="team-a" if i % 3 else "team-b", now=T0 + timedelta(seconds=i))
    seen = _walk(session_factory, limit=2, team="team-a")
    assert len(seen) == 6 and {job.team for job in seen} == {"team-a"}


def test_the_last_page_has_no_next_cursor(add_job: Callable[..., JobRecord],
                                          session_factory: sessionmaker[Session]) -> None:
    add_job()
    add_job()
    with session_scope(session_factory) as session:
        assert JobRepository(session).list(limit=2).next_cursor is None
        assert JobRepository(session).list(limit=1).next_cursor is not None


def test_the_opaque_cursor_string_is_accepted_as_is(add_job: Callable[..., JobRecord],
                                                    session_factory: sessionmaker[Session]) -> None:
    first, second = add_job(now=T0), add_job(now=T0 + timedelta(seconds=1))
    with session_scope(session_factory) as session:
        jobs = JobRepository(session)
        page = jobs.list(limit=1)
        assert page.items == (first,) and page.next_cursor is not None
        assert jobs.list(after=page.next_cursor, limit=1).items == (second,)
        assert jobs.list(after="", limit=5).items == (first, second)
        with pytest.raises(InvalidInputError) as raised:
            jobs.list(after="garbage!")
        assert raised.value.field == "cursor"


def test_a_cursor_of_the_other_order_or_a_bad_limit_is_refused(
        add_job: Callable[..., JobRecord], session_factory: sessionmaker[Session]) -> None:
    add_job()
    add_job()
    with session_scope(session_factory) as session:
        jobs = JobRepository(session)
        cursor = jobs.list(limit=1).next_cursor
        assert cursor is not None
        with pytest.raises(InvalidInputError) as raised:
            jobs.list(after=decode_cursor(cursor), newest_first=True)
        assert raised.value.field == "cursor"
        with pytest.raises(InvalidInputError) as bad_limit:
            jobs.list(limit=0)
        assert bad_limit.value.field == "limit"


def test_queue_order_is_highest_priority_then_oldest(add_job: Callable[..., JobRecord],
                                                     session_factory: sessionmaker[Session]) -> None:
    low = add_job(priority_class="low", now=T0)
    normal_old = add_job(now=T0 + timedelta(seconds=1))
    critical = add_job(priority_class="critical", now=T0 + timedelta(seconds=2))
    normal_new = add_job(now=T0 + timedelta(seconds=3))
    admitted = add_job(priority_class="high", now=T0)
    with session_scope(session_factory) as session:
        switch_job_status(session, admitted.id, JobStatus.SCHEDULED, message="admitted")
    with session_scope(session_factory) as session:
        queued = JobRepository(session).in_queue_order()
        top_two = JobRepository(session).in_queue_order(limit=2)
    assert [j.id for j in queued] == [critical.id, normal_old.id, normal_new.id, low.id]
    assert [j.id for j in top_two] == [critical.id, normal_old.id]


def test_counts_by_status_include_every_status(add_job: Callable[..., JobRecord],
                                               session_factory: sessionmaker[Session]) -> None:
    add_job()
    cancelled = add_job()
    add_job(team="team-b")
    with session_scope(session_factory) as session:
        switch_job_status(session, cancelled.id, JobStatus.CANCELLED, message="user")
    with session_scope(session_factory) as session:
        counts = JobRepository(session).count_by_status(team="team-a")
    assert counts[JobStatus.PENDING] == 1 and counts[JobStatus.CANCELLED] == 1
    assert set(counts) == set(JobStatus) and sum(counts.values()) == 2


def test_restarts_count_up(add_job: Callable[..., JobRecord], session_factory: sessionmaker[Session]) -> None:
    job = add_job()
    with session_scope(session_factory) as session:
        JobRepository(session).increment_restarts(job.id)
        again = JobRepository(session).increment_restarts(job.id, now=T0 + timedelta(days=1))
    assert again.restarts == 2 and again.updated_at == T0 + timedelta(days=1)
