"""The event log: append-only, ordered by seq, filtered and tailed."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from controlplane.store import EventRepository, session_scope


def test_events_get_increasing_sequence_numbers_and_keep_their_data(
        session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        log = EventRepository(session)
        assert log.latest_seq() == 0
        first = log.append(type="job.submitted", entity="job", entity_id="j1", job_id="j1", team="nlp",
                           message="submitted", data={"queue": "default", "nested": {"list": [1, 2.5]}})
        second = log.append(type="pool.applied", entity="pool", entity_id="p1")
        assert first.seq < second.seq and log.latest_seq() == second.seq
    with session_scope(session_factory) as session:
        assert EventRepository(session).list() == [first, second]
    assert first.data == {"queue": "default", "nested": {"list": [1, 2.5]}}
    assert second.data == {} and second.message == ""


def test_events_are_filtered_and_tailed(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        log = EventRepository(session)
        log.append(type="job.submitted", entity="job", entity_id="j1", job_id="j1", team="nlp")
        log.append(type="job.status_changed", entity="job", entity_id="j1", job_id="j1", team="nlp")
        log.append(type="attempt.created", entity="attempt", entity_id="a1", job_id="j1", team="nlp")
        log.append(type="job.submitted", entity="job", entity_id="j2", job_id="j2", team="cv")
        log.append(type="node.state_changed", entity="node", entity_id="n1")
    with session_scope(session_factory) as session:
        log = EventRepository(session)
        everything = log.list()
        assert len(everything) == 5
        assert [e.type for e in log.list(job_id="j1")] == ["job.submitted", "job.status_changed",
                                                           "attempt.created"]
        assert [e.entity_id for e in log.list(type_prefix="job.")] == ["j1", "j1", "j2"]
        assert [e.entity_id for e in log.list(type_prefix="job.sub")] == ["j1", "j2"]
        assert [e.type for e in log.list(entity="node")] == ["node.state_changed"]
        assert [e.entity_id for e in log.list(team="cv")] == ["j2"]
        assert log.list(entity="attempt", entity_id="a1") == [everything[2]]
        assert log.list(after_seq=everything[2].seq) == everything[3:]
        assert log.list(after_seq=everything[0].seq, limit=2) == everything[1:3]


def test_an_event_must_name_a_known_entity_and_a_type_under_it(
        session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        log = EventRepository(session)
        with pytest.raises(ValueError, match="entity"):
            log.append(type="cluster.started", entity="cluster", entity_id="c")
        with pytest.raises(ValueError, match="start with"):
            log.append(type="pool.applied", entity="job", entity_id="j")
