"""Checkpoint interval ``auto``: Young/Daly from measured cost and interruption rate, within bounds."""

from __future__ import annotations

import math

import pytest

from controlplane.resilience.checkpoint_interval import (
    CheckpointCosts,
    InterruptionRate,
    choose_interval,
    young_daly_interval,
)


def test_the_optimum_follows_daly_and_approaches_young_for_cheap_checkpoints() -> None:
    mtbf = 3600.0
    young = math.sqrt(2 * 1.0 * mtbf)

    daly = young_daly_interval(1.0, mtbf)

    assert daly == pytest.approx(young * (1 + math.sqrt(1 / 7200) / 3 + (1 / 7200) / 9) - 1.0)
    assert daly == pytest.approx(young, rel=0.01)
    assert young_daly_interval(5000.0, 2000.0) == 2000.0  # checkpoint costlier than 2 MTBF: once per MTBF


def test_more_nodes_and_more_preemptions_mean_shorter_intervals() -> None:
    costs = CheckpointCosts(snapshot_s=2.0)
    one = choose_interval(costs, InterruptionRate(preemptions_per_node_hour=0.05, nodes=1))
    many = choose_interval(costs, InterruptionRate(preemptions_per_node_hour=0.05, nodes=64))

    assert many.interval_s < one.interval_s
    assert many.decided_by == "young-daly" and "Young/Daly" in many.reason


def test_the_overhead_budget_bounds_the_interval_from_below() -> None:
    choice = choose_interval(CheckpointCosts(snapshot_s=10.0),
                             InterruptionRate(preemptions_per_node_hour=2.0, nodes=32), overhead_budget=0.035)

    assert choice.decided_by == "overhead-budget"
    assert choice.interval_s == pytest.approx(10.0 / 0.035)
    assert choice.overhead_fraction == pytest.approx(0.035)
    assert "3.5%" in choice.reason


def test_an_interval_is_never_shorter_than_a_persist() -> None:
    choice = choose_interval(CheckpointCosts(snapshot_s=0.01, persist_s=400.0),
                             InterruptionRate(preemptions_per_node_hour=1.0, nodes=8))

    assert choice.decided_by == "persist-time" and choice.interval_s == 400.0
    assert choice.expected_loss_s == pytest.approx(200.0 + 400.0)


def test_without_interruptions_the_maximum_applies() -> None:
    choice = choose_interval(CheckpointCosts(snapshot_s=1.0), InterruptionRate(), max_interval_s=7200.0)

    assert math.isinf(choice.optimum_s)
    assert choice.decided_by == "maximum" and choice.interval_s == 7200.0


def test_a_fixed_interval_is_reported_next_to_the_optimum() -> None:
    choice = choose_interval(CheckpointCosts(snapshot_s=1.0), InterruptionRate(preemptions_per_node_hour=1.0),
                             fixed_s=30.0)

    assert choice.decided_by == "fixed" and choice.interval_s == 30.0 and "Young/Daly would pick" in choice.reason


def test_the_interval_converts_to_whole_steps() -> None:
    choice = choose_interval(CheckpointCosts(snapshot_s=1.0), InterruptionRate(preemptions_per_node_hour=1.0))

    assert choice.steps(step_time_s=choice.interval_s / 10.5) == 10
    assert choice.steps(step_time_s=1e9) == 1


@pytest.mark.parametrize("kwargs", [{"overhead_budget": 0.0}, {"overhead_budget": 1.5},
                                    {"min_interval_s": 10.0, "max_interval_s": 5.0}])
def test_nonsense_bounds_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        choose_interval(CheckpointCosts(snapshot_s=1.0), InterruptionRate(), **kwargs)
