"""Pools: applied by name (created / updated / unchanged), deleted with their nodes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from controlplane.domain.errors import NotFoundError
from controlplane.store import (
    AttemptRecord,
    AttemptRepository,
    EventRepository,
    JobRecord,
    NodeRepository,
    PoolRecord,
    PoolRepository,
    UpsertOutcome,
    session_scope,
)

SPEC: dict[str, Any] = {"accelerator": "H100", "devicesPerNode": 8, "topology": {"nodesPerRack": 4}}


def _apply(session_factory: sessionmaker[Session], spec: dict[str, Any] = SPEC,
           **overrides: Any) -> tuple[PoolRecord, UpsertOutcome]:
    values: dict[str, Any] = {"name": "gcp-h100", "provider": "gcp", "region": "us-central1",
                              "zone": "us-central1-a", "accelerator": "H100",
                              "capacity_type": "on-demand", "spec": spec}
    values.update(overrides)
    with session_scope(session_factory) as session:
        return PoolRepository(session).upsert(**values)


def test_applying_a_pool_creates_updates_or_leaves_it_unchanged(
        session_factory: sessionmaker[Session]) -> None:
    created, outcome = _apply(session_factory)
    assert outcome is UpsertOutcome.CREATED

    reordered = dict(reversed(list(SPEC.items())))
    same, outcome = _apply(session_factory, reordered)
    assert outcome is UpsertOutcome.UNCHANGED and same == created

    changed, outcome = _apply(session_factory, {**SPEC, "devicesPerNode": 4})
    assert outcome is UpsertOutcome.UPDATED
    assert changed.id == created.id and changed.spec["devicesPerNode"] == 4
    assert changed.spec_hash != created.spec_hash and changed.created_at == created.created_at

    moved, outcome = _apply(session_factory, {**SPEC, "devicesPerNode": 4}, capacity_type="spot")
    assert outcome is UpsertOutcome.UPDATED and moved.capacity_type == "spot"

    labelled, outcome = _apply(session_factory, {**SPEC, "devicesPerNode": 4}, capacity_type="spot",
                               labels={"team": "infra"})
    assert outcome is UpsertOutcome.UPDATED and labelled.labels == {"team": "infra"}

    with session_scope(session_factory) as session:
        assert EventRepository(session).list(entity="pool") == []  # the use case logs applies


def test_a_caller_supplied_spec_hash_decides_whether_the_spec_changed(
        session_factory: sessionmaker[Session]) -> None:
    created, _ = _apply(session_factory, spec_hash="a" * 64)
    assert created.spec_hash == "a" * 64
    _, outcome = _apply(session_factory, {**SPEC, "devicesPerNode": 2}, spec_hash="a" * 64)
    assert outcome is UpsertOutcome.UNCHANGED
    updated, outcome = _apply(session_factory, {**SPEC, "devicesPerNode": 2}, spec_hash="b" * 64)
    assert outcome is UpsertOutcome.UPDATED and updated.spec["devicesPerNode"] == 2


def test_pools_are_found_by_name_and_listed_by_filter(add_pool: Callable[..., PoolRecord],
                                                      session_factory: sessionmaker[Session]) -> None:
    spot = add_pool("aws-h100-spot")
    add_pool("aws-mi300x", accelerator="MI300X", capacity_type="on-demand")
    add_pool("gcp-tpu", provider="gcp", accelerator="TPU-v5e")
    with session_scope(session_factory) as session:
        pools = PoolRepository(session)
        assert pools.find_by_name("aws-h100-spot") == spot
        assert pools.get(spot.id) == spot
        assert pools.find_by_name("nope") is None
        assert [p.name for p in pools.list()] == ["aws-h100-spot", "aws-mi300x", "gcp-tpu"]
        assert [p.name for p in pools.list(provider="aws", capacity_type="spot")] == ["aws-h100-spot"]
        assert [p.name for p in pools.list(accelerator="TPU-v5e")] == ["gcp-tpu"]
        assert pools.names_by_id() == {p.id: p.name for p in pools.list()}


def test_deleting_a_pool_removes_its_nodes_and_detaches_its_attempts(
        add_pool: Callable[..., PoolRecord], add_job: Callable[..., JobRecord],
        add_attempt: Callable[..., AttemptRecord], session_factory: sessionmaker[Session]) -> None:
    pool = add_pool()
    other = add_pool("other")
    with session_scope(session_factory) as session:
        nodes = NodeRepository(session)
        node, _ = nodes.upsert(pool_id=pool.id, name="node-1", accelerator="H100", devices=8)
        nodes.upsert(pool_id=other.id, name="node-2", accelerator="H100", devices=8)
    attempt = add_attempt(add_job().id, pool_id=pool.id)

    with session_scope(session_factory) as session:
        assert NodeRepository(session).get(node.id) == node  # loaded into this session first
        deleted = PoolRepository(session).delete(pool.id)
        assert NodeRepository(session).find_by_name("node-1") is None
    assert deleted == pool

    with session_scope(session_factory) as session:
        assert PoolRepository(session).find_by_name(pool.name) is None
        assert NodeRepository(session).list_for_pool(pool.id) == []
        assert [n.name for n in NodeRepository(session).list_for_pool(other.id)] == ["node-2"]
        assert AttemptRepository(session).get(attempt.id).pool_id is None


def test_an_unknown_pool_is_not_found(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        with pytest.raises(NotFoundError):
            PoolRepository(session).get("nope")
        with pytest.raises(NotFoundError):
            PoolRepository(session).delete("nope")
