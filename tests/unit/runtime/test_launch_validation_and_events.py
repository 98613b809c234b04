"""Launch specs are checked the same way by every runtime; events are drained through a cursor."""

from __future__ import annotations

from dataclasses import replace

import pytest

from controlplane.domain.errors import ConflictError, InvalidInputError
from controlplane.runtime import CheckpointCommit, LaunchRejected, LaunchSpec, NodeObservation, Notice, RankSpec
from controlplane.runtime.events import EventLog
from controlplane.runtime.types import StepReport
from controlplane.runtime.validation import check_placement, check_spec_shape, is_repeat_launch


def spec(*nodes: str, devices: int = 1) -> LaunchSpec:
    return LaunchSpec(attempt_id="a", request_id="r", job_id="j", entrypoint="pkg.mod:main",
                      ranks=tuple(RankSpec(rank, node, local_rank=nodes[:rank].count(node), devices=devices)
                                  for rank, node in enumerate(nodes)))


def node(name: str, *, devices: int = 8, in_use: int = 0, alive: bool = True,
         cordoned: bool = False) -> NodeObservation:
    return NodeObservation(name=name, pool="p", accelerator="H100", devices=devices, labels={}, alive=alive,
                           cordoned=cordoned, devices_in_use=in_use)


@pytest.mark.parametrize(("change", "field"), [
    ({"attempt_id": ""}, "attempt_id"),
    ({"request_id": "has space"}, "request_id"),
    ({"entrypoint": "module_without_function"}, "entrypoint"),
    ({"entrypoint": ()}, "entrypoint"),
    ({"ranks": ()}, "ranks"),
    ({"env": {"1BAD": "x"}}, "env.1BAD"),
    ({"parallelism": {"tp": 0}}, "parallelism.tp"),
    ({"master_port": 70000}, "master_port"),
])
def test_a_malformed_spec_names_the_offending_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInputError) as error:
        check_spec_shape(replace(spec("n0"), **change))  # type: ignore[arg-type]

    assert error.value.field == field


def test_ranks_must_be_in_order_with_distinct_local_ranks_per_node() -> None:
    two = spec("n0", "n0")
    with pytest.raises(InvalidInputError) as repeated:
        check_spec_shape(replace(two, ranks=(two.ranks[0], replace(two.ranks[1], local_rank=0))))
    with pytest.raises(InvalidInputError) as coordinate:
        check_spec_shape(replace(two, ranks=(two.ranks[0], replace(two.ranks[1], coordinates={"tp": -1}))))

    assert repeated.value.field == "ranks[1].local_rank"
    assert coordinate.value.field == "ranks[1].coordinates.tp"
    check_spec_shape(two)
    check_spec_shape(replace(two, entrypoint=("python", "-m", "train")))


def test_placement_needs_live_uncordoned_nodes_with_enough_free_devices() -> None:
    check_placement(spec("n0", "n0", devices=4), {"n0": node("n0")})

    with pytest.raises(LaunchRejected, match="is not part of the cluster"):
        check_placement(spec("ghost"), {"n0": node("n0")})
    with pytest.raises(LaunchRejected, match="not alive"):
        check_placement(spec("n0"), {"n0": node("n0", alive=False)})
    with pytest.raises(LaunchRejected, match="cordoned"):
        check_placement(spec("n0"), {"n0": node("n0", cordoned=True)})
    with pytest.raises(LaunchRejected, match="has 3 free H100 device") as full:
        check_placement(spec("n1", "n0", "n0", devices=2), {"n0": node("n0", in_use=5), "n1": node("n1")})
    assert full.value.field == "ranks[1].node"
    assert full.value.details == {"node": "n0", "free": 3, "needed": 4}


def test_a_repeated_launch_is_recognised_and_a_reused_key_conflicts() -> None:
    first = spec("n0")
    by_request, by_attempt = {first.request_id: first}, {first.attempt_id: first}

    assert is_repeat_launch(first, by_request, by_attempt)
    assert not is_repeat_launch(replace(first, attempt_id="b", request_id="r2"), by_request, by_attempt)
    with pytest.raises(ConflictError):
        is_repeat_launch(replace(first, env={"X": "1"}), by_request, by_attempt)
    with pytest.raises(ConflictError):
        is_repeat_launch(replace(first, request_id="r2"), by_request, by_attempt)


def test_events_after_a_cursor_are_returned_once_and_acknowledged_ones_dropped() -> None:
    log = EventLog()
    report = StepReport("a", 0, 1, 2.0, 8, 10.0)
    commit = CheckpointCommit("a", 1, "file:///c", 5, 11.0)
    notice = Notice("n0", "preemption", 130.0, "test")
    log.extend([report, commit])

    everything = log.read(None)
    log.append(notice)
    after = log.read(everything.cursor)
    again = log.read(after.cursor)

    assert (everything.step_reports, everything.checkpoint_commits, everything.cursor) == ((report,), (commit,), 2)
    assert (after.step_reports, after.notices, after.cursor) == ((), (notice,), 3)
    assert (again.step_reports, again.checkpoint_commits, again.notices) == ((), (), ())
    assert log.read(None).notices == ()  # acknowledged events are gone


def test_an_unacknowledging_reader_keeps_only_the_newest_events() -> None:
    log = EventLog(capacity=2)
    for step in range(1, 4):
        log.append(StepReport("a", 0, step, None, None, float(step)))

    assert [report.step for report in log.read(None).step_reports] == [2, 3]
