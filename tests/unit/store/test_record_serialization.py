"""Records are immutable plain data and serialise to JSON-ready dicts."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pytest

from controlplane.domain.statuses import AttemptStatus, JobStatus
from controlplane.store.records import AttemptRecord, JobRecord, NodeRecord, NodeState

CREATED = datetime(2025, 6, 1, 12, 30, 15, 250000, tzinfo=UTC)


def _job() -> JobRecord:
    return JobRecord(
        id="j1", kind="TrainingJob", team="nlp", name="llama", queue="default", priority_class="high",
        priority=100, labels={"owner": "alice"}, spec={"parallelism": {"tensor": 8}}, spec_hash="ab" * 32,
        status=JobStatus.RUNNING,
        status_message="running", idempotency_key=None, restarts=1, created_at=CREATED,
        updated_at=CREATED, finished_at=None,
    )


def test_to_dict_gives_iso_timestamps_and_plain_status_strings() -> None:
    data = _job().to_dict()
    assert data["created_at"] == "2025-06-01T12:30:15.250000+00:00"
    assert data["status"] == "RUNNING" and type(data["status"]) is str
    assert data["finished_at"] is None
    assert data["spec"] == {"parallelism": {"tensor": 8}} and data["labels"] == {"owner": "alice"}
    json.dumps(data)


def test_every_record_field_appears_in_to_dict() -> None:
    attempt = AttemptRecord(
        id="a1", job_id="j1", number=1, status=AttemptStatus.LAUNCHING, status_message="", pool_id=None,
        accelerator="H100", placement={"ranks": [[0, 1]]}, request_id="j1/attempt-1", created_at=CREATED,
        started_at=None, ended_at=None, exit_reason=None,
    )
    node = NodeRecord(id="n1", pool_id="p1", name="node-1", accelerator="H100", devices=8,
                      labels={"rack": "r1"}, state=NodeState.CORDONED, created_at=CREATED, updated_at=CREATED)
    assert set(attempt.to_dict()) == {field.name for field in dataclasses.fields(AttemptRecord)}
    assert node.to_dict()["state"] == "cordoned"
    assert attempt.to_dict()["placement"] == {"ranks": [[0, 1]]}


def test_records_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        _job().status = JobStatus.FAILED  # type: ignore[misc]
