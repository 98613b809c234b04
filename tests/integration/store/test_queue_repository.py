"""Queues: applied by team and name, listed per team, deleted."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from controlplane.domain.errors import NotFoundError
from controlplane.store import EventRepository, QueueRepository, UpsertOutcome, session_scope

QUOTA = {"quota": {"H100": 64}, "weight": 2}


def test_applying_a_queue_creates_updates_or_leaves_it_unchanged(
        session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        queues = QueueRepository(session)
        created, first = queues.upsert(team="nlp", name="default", spec=QUOTA)
        same, second = queues.upsert(team="nlp", name="default", spec={"weight": 2, "quota": {"H100": 64}})
        updated, third = queues.upsert(team="nlp", name="default", spec={**QUOTA, "weight": 3})
        labelled, fourth = queues.upsert(team="nlp", name="default", spec={**QUOTA, "weight": 3},
                                         labels={"tier": "gold"})
    assert (first, second, third, fourth) == (UpsertOutcome.CREATED, UpsertOutcome.UNCHANGED,
                                              UpsertOutcome.UPDATED, UpsertOutcome.UPDATED)
    assert same == created and updated.id == created.id and updated.spec["weight"] == 3
    assert created.labels == {} and labelled.labels == {"tier": "gold"}
    with session_scope(session_factory) as session:
        assert EventRepository(session).list(entity="queue") == []  # the use case logs applies


def test_queue_names_are_scoped_by_team(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        queues = QueueRepository(session)
        nlp, _ = queues.upsert(team="nlp", name="default", spec={})
        vision, outcome = queues.upsert(team="vision", name="default", spec={})
        assert outcome is UpsertOutcome.CREATED and nlp.id != vision.id
    with session_scope(session_factory) as session:
        queues = QueueRepository(session)
        assert queues.find("vision", "default") == vision
        assert queues.get(nlp.id) == nlp
        assert queues.find("vision", "batch") is None
        assert [(q.team, q.name) for q in queues.list()] == [("nlp", "default"), ("vision", "default")]
        assert queues.list(team="nlp") == [nlp]


def test_a_deleted_queue_is_gone(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        QueueRepository(session).upsert(team="nlp", name="batch", spec={})
    with session_scope(session_factory) as session:
        deleted = QueueRepository(session).delete("nlp", "batch")
    with session_scope(session_factory) as session:
        queues = QueueRepository(session)
        assert queues.find("nlp", "batch") is None
        with pytest.raises(NotFoundError):
            queues.delete("nlp", "batch")
        with pytest.raises(NotFoundError):
            queues.get(deleted.id)
