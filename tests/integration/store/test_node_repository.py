"""Nodes: registered into a pool as ready, refreshed idempotently, moved between states."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session, sessionmaker

from controlplane.domain.errors import NotFoundError
from controlplane.store import (
    EventRepository,
    NodeRepository,
    NodeState,
    PoolRecord,
    UpsertOutcome,
    session_scope,
)


def test_a_registered_node_is_ready_and_refreshing_it_reports_changes_only(
        add_pool: Callable[..., PoolRecord], session_factory: sessionmaker[Session]) -> None:
    pool = add_pool()
    with session_scope(session_factory) as session:
        nodes = NodeRepository(session)
        node, created = nodes.upsert(pool_id=pool.id, name="ip-10-0-0-1", accelerator="H100", devices=8,
                                     labels={"rack": "r1"})
        same, unchanged = nodes.upsert(pool_id=pool.id, name="ip-10-0-0-1", accelerator="H100", devices=8,
                                       labels={"rack": "r1"})
        shrunk, updated = nodes.upsert(pool_id=pool.id, name="ip-10-0-0-1", accelerator="H100", devices=7,
                                       labels={"rack": "r1"})
    assert (created, unchanged, updated) == (UpsertOutcome.CREATED, UpsertOutcome.UNCHANGED,
                                             UpsertOutcome.UPDATED)
    assert node.state is NodeState.READY and node.labels == {"rack": "r1"}
    assert same == node and shrunk.devices == 7 and shrunk.id == node.id
    with session_scope(session_factory) as session:
        assert EventRepository(session).list(entity="node") == []  # only state changes are logged


def test_a_node_of_an_unknown_pool_is_refused(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session, pytest.raises(NotFoundError) as raised:
        NodeRepository(session).upsert(pool_id="nope", name="n", accelerator="H100", devices=8)
    assert raised.value.field == "pool_id"


def test_a_state_change_is_logged_and_repeating_it_is_a_no_op(
        add_pool: Callable[..., PoolRecord], session_factory: sessionmaker[Session]) -> None:
    pool = add_pool()
    with session_scope(session_factory) as session:
        node, _ = NodeRepository(session).upsert(pool_id=pool.id, name="n1", accelerator="H100", devices=8)
    with session_scope(session_factory) as session:
        nodes = NodeRepository(session)
        drained = nodes.set_state(node.id, NodeState.DRAINING, message="spot notice: 120 s")
        again = nodes.set_state(node.id, NodeState.DRAINING)
    assert drained.state is NodeState.DRAINING and again == drained
    with session_scope(session_factory) as session:
        [event] = EventRepository(session).list(type_prefix="node.state_changed")
    assert event.data == {"from": "ready", "to": "draining", "pool_id": pool.id}
    assert event.message == "spot notice: 120 s"


def test_nodes_are_listed_per_pool_and_state(add_pool: Callable[..., PoolRecord],
                                             session_factory: sessionmaker[Session]) -> None:
    pool, other = add_pool(), add_pool("other")
    with session_scope(session_factory) as session:
        nodes = NodeRepository(session)
        for name in ("n2", "n1", "n3"):
            nodes.upsert(pool_id=pool.id, name=name, accelerator="H100", devices=8)
        nodes.upsert(pool_id=other.id, name="m1", accelerator="H100", devices=8)
        lost = nodes.find_by_name("n3")
        assert lost is not None
        nodes.set_state(lost.id, NodeState.LOST)
    with session_scope(session_factory) as session:
        nodes = NodeRepository(session)
        assert [n.name for n in nodes.list_for_pool(pool.id)] == ["n1", "n2", "n3"]
        assert [n.name for n in nodes.list_for_pool(pool.id, states=[NodeState.READY])] == ["n1", "n2"]
        with pytest.raises(NotFoundError):
            nodes.set_state("nope", NodeState.READY)
