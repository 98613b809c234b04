"""Spot traces replayed as notices, removals and returns — onto plans and onto ``SimRuntime``."""

from __future__ import annotations

from pathlib import Path

import pytest

from controlplane.domain.errors import InvalidInputError
from controlplane.runtime import LaunchSpec, RankSpec
from controlplane.runtime.cluster_definition import VirtualNode
from controlplane.runtime.sim import SimRuntime, SimWorkload
from controlplane.simulator.spot import NodeChange, read_availability_trace
from controlplane.spot import TraceEvent, TraceReplayer, plan_replay, read_count_trace, read_event_trace_slots

DATA = Path(__file__).resolve().parents[2] / "data" / "spot_traces"
NAMES = ["n0", "n1", "n2"]


def kinds(events: list[TraceEvent]) -> list[tuple[float, str, str, float | None]]:
    return [(e.time, e.node, e.kind, e.deadline) for e in events]


def test_each_removal_is_preceded_by_a_notice_with_the_removal_as_deadline() -> None:
    events = plan_replay([NodeChange(1000.0, 1, False), NodeChange(1500.0, 1, True)], NAMES, warning_s=120)
    assert kinds(events) == [(880.0, "n1", "notice", 1000.0), (1000.0, "n1", "remove", None),
                             (1500.0, "n1", "add", None)]


def test_a_notice_never_precedes_the_nodes_return_or_the_start() -> None:
    changes = [NodeChange(50.0, 0, False), NodeChange(100.0, 0, True), NodeChange(130.0, 0, False)]
    events = plan_replay(changes, NAMES, warning_s=120)
    assert kinds(events) == [(0.0, "n0", "notice", 50.0), (50.0, "n0", "remove", None), (100.0, "n0", "add", None),
                             (100.0, "n0", "notice", 130.0), (130.0, "n0", "remove", None)]


def test_the_initial_state_needs_no_notice_and_duplicates_are_dropped() -> None:
    changes = [NodeChange(0.0, 2, False), NodeChange(10.0, 2, False), NodeChange(20.0, 2, True),
               NodeChange(30.0, 2, True)]
    assert kinds(plan_replay(changes, NAMES, warning_s=30)) == [(0.0, "n2", "remove", None),
                                                               (20.0, "n2", "add", None)]


def test_without_warning_losses_are_hard() -> None:
    assert [e.kind for e in plan_replay([NodeChange(9.0, 0, False)], NAMES, warning_s=0)] == ["remove"]


def test_event_traces_give_each_live_trace_node_its_own_slot() -> None:
    text = "0,add,a\n0,add,b\n5000,remove,a\n6000,add,c\n7000,add,d\n8000,remove,b\n"
    changes = read_event_trace_slots(text, pool_nodes=2)
    live = [(c.time, c.node, c.available) for c in changes if c.time > 0 or c.available]
    assert live == [(0.0, 0, True), (0.0, 1, True), (5.0, 0, False), (6.0, 0, True), (8.0, 1, False)]  # d: no slot
    with pytest.raises(InvalidInputError, match=":1:"):
        read_event_trace_slots("0,launch,a\n", pool_nodes=2)


def test_count_traces_remove_and_return_as_many_nodes_as_the_count_moves() -> None:
    text = ("2021-12-10, 13:07:45, 4\n2021-12-10, 13:08:45, 4\n2021-12-10, 13:09:45, 2\n"
            "2021-12-10, 13:10:45, 2\n2021-12-10, 13:20:45, 3\n")
    changes = read_count_trace(text, pool_nodes=4)
    assert [(c.time, c.available) for c in changes] == [(120.0, False), (120.0, False), (780.0, True)]
    assert read_count_trace(text, pool_nodes=4) == changes  # repeatable
    with pytest.raises(InvalidInputError, match=":1:"):
        read_count_trace("yesterday, 4\n", pool_nodes=4)


def test_the_bamboo_p3_trace_replays_with_a_notice_before_every_loss() -> None:
    changes = read_event_trace_slots((DATA / "bamboo_p3-trace.csv").read_text(), pool_nodes=32)
    events = plan_replay(changes, [f"n{i}" for i in range(32)], warning_s=120)
    removals = [e for e in events if e.kind == "remove" and e.time > 0]
    notices = [e for e in events if e.kind == "notice"]
    assert len(removals) == len(notices) > 100
    assert all(0 < n.deadline - n.time <= 120 for n in notices if n.deadline is not None)


def test_the_replayer_drives_a_sim_runtime_through_notice_and_loss() -> None:
    nodes = [VirtualNode(f"n{i}", "spot-pool", "H100", 8, "aws", "us-east-1", "us-east-1a", "r1", "spot", 8)
             for i in range(2)]
    sim = SimRuntime(nodes, workload=SimWorkload(step_seconds=1.0))
    sim.launch(LaunchSpec("a1", "r1", "job", "pkg:main", (RankSpec(0, "n0", devices=8), RankSpec(1, "n1", devices=8))))
    text = '{"metadata": {"gap_seconds": 600}, "data": [0, 0, 1, 0]}'
    events = plan_replay(read_availability_trace(text, pool_nodes=1), ["n1"], warning_s=120)
    replayer = TraceReplayer(events, source="cant-be-late")

    replayer.advance(sim, 1200.0)
    observation = sim.observe()
    (notice,) = observation.notices
    assert (notice.node, notice.deadline, notice.source) == ("n1", 1200.0, "cant-be-late")
    attempt = observation.attempt("a1")
    assert attempt is not None and attempt.state == "lost" and attempt.ended_at == 1200.0

    replayer.advance(sim, 2000.0)
    assert replayer.done
    assert sim.observe().node("n1").alive  # type: ignore[union-attr]
