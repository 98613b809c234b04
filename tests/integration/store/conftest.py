"""Factories for store tests: each makes one entity in its own committed unit of work."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from controlplane.store import (
    AttemptRecord,
    AttemptRepository,
    JobRecord,
    JobRepository,
    PoolRecord,
    PoolRepository,
    session_scope,
)

TRAINING_SPEC: dict[str, Any] = {
    "model": {"hiddenSize": 8192, "layers": 80},
    "parallelism": {"tensor": 8, "pipeline": 4, "data": 2},
    "resources": {"accelerator": "H100", "devices": 64},
}

POOL_SPEC: dict[str, Any] = {
    "provider": "aws", "region": "us-east-1", "accelerator": "H100", "capacityType": "spot",
    "devicesPerNode": 8, "maxNodes": 16,
}


@pytest.fixture
def add_job(session_factory: sessionmaker[Session]) -> Callable[..., JobRecord]:
    """``add_job(**overrides)``: commit a TrainingJob ``team-a/job-<n>`` and return it."""
    counter = iter(range(1, 1_000_000))

    def add(**overrides: Any) -> JobRecord:
        values: dict[str, Any] = {"kind": "TrainingJob", "team": "team-a", "name": f"job-{next(counter)}",
                                  "queue": "default", "spec": TRAINING_SPEC}
        values.update(overrides)
        with session_scope(session_factory) as session:
            return JobRepository(session).add(**values)

    return add


@pytest.fixture
def add_attempt(session_factory: sessionmaker[Session]) -> Callable[..., AttemptRecord]:
    """``add_attempt(job_id, **overrides)``: commit the job's next attempt and return it."""

    def add(job_id: str, **overrides: Any) -> AttemptRecord:
        with session_scope(session_factory) as session:
            return AttemptRepository(session).add(job_id, **overrides)

    return add


@pytest.fixture
def add_pool(session_factory: sessionmaker[Session]) -> Callable[..., PoolRecord]:
    """``add_pool(name, **overrides)``: commit an H100 spot pool and return it."""

    def add(name: str = "aws-h100-spot", **overrides: Any) -> PoolRecord:
        values: dict[str, Any] = {"name": name, "provider": "aws", "region": "us-east-1", "zone": None,
                                  "accelerator": "H100", "capacity_type": "spot", "spec": POOL_SPEC}
        values.update(overrides)
        with session_scope(session_factory) as session:
            record, _ = PoolRepository(session).upsert(**values)
            return record

    return add
