"""Timestamps go in in any zone and come out as the same instant in UTC, on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session, sessionmaker

from controlplane.store import EventRepository, JobRepository, session_scope

SHANGHAI = timezone(timedelta(hours=8))


def test_a_timestamp_written_in_another_zone_reads_back_as_aware_utc(
        session_factory: sessionmaker[Session]) -> None:
    submitted = datetime(2025, 2, 3, 4, 5, 6, 789012, tzinfo=SHANGHAI)
    with session_scope(session_factory) as session:
        job = JobRepository(session).add(kind="TrainingJob", team="t", name="tz", queue="q", spec={},
                                         now=submitted)
    with session_scope(session_factory) as session:
        read = JobRepository(session).get(job.id)
    assert read.created_at == submitted
    assert read.created_at.tzinfo is UTC
    assert read.created_at == datetime(2025, 2, 2, 20, 5, 6, 789012, tzinfo=UTC)


def test_a_naive_timestamp_is_refused_and_nothing_is_written(session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(StatementError, match="naive"), session_scope(session_factory) as session:
        EventRepository(session).append(type="pool.applied", entity="pool", entity_id="p",
                                        now=datetime(2025, 1, 1))
    with session_scope(session_factory) as session:
        assert EventRepository(session).list() == []
