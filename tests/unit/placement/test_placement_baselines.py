"""The baselines: first fit packs pods in tree order, round robin spreads them, and the
device-granular variants ignore tensor parallelism altogether."""

from __future__ import annotations

import pytest

from controlplane.domain.errors import InvalidInputError
from controlplane.placement import FirstFitPlacer, Placement, RoundRobinPlacer
from tests.unit.placement.placement_factories import cluster, node, occupy, pool, request


def _placed(result: object) -> Placement:
    assert isinstance(result, Placement), result
    return result


def test_first_fit_fills_nodes_in_tree_order() -> None:
    topology = cluster(pool("h100", nodes=4))
    occupy(topology, {node("h100", 0): [0, 1, 2, 3, 4, 5]})
    result = _placed(FirstFitPlacer().place(request(tp=2, dp=6), topology))
    assert result.nodes == (node("h100", 0),) * 2 + (node("h100", 1),) * 8 + (node("h100", 2),) * 2
    assert result.placer == "first-fit"


def test_round_robin_spreads_one_pod_per_node_per_round() -> None:
    topology = cluster(pool("h100", nodes=4))
    result = _placed(RoundRobinPlacer().place(request(tp=2, dp=6), topology))
    pods = [result.nodes[rank] for rank in range(0, 12, 2)]
    assert pods == [node("h100", i) for i in (0, 1, 2, 3, 0, 1)]


def test_device_granular_first_fit_lets_tensor_groups_straddle_nodes() -> None:
    topology = cluster(pool("h100", nodes=2))
    occupy(topology, {node("h100", 0): [0, 1, 2, 3]})
    result = _placed(FirstFitPlacer(granularity="device").place(request(tp=8), topology))
    assert len(set(result.nodes)) == 2


def test_baselines_report_cost_with_the_same_model() -> None:
    topology = cluster(pool("h100", nodes=4))
    for placer in (FirstFitPlacer(), RoundRobinPlacer()):
        result = _placed(placer.place(request(tp=8, pp=2, dp=2), topology))
        assert result.comm_cost_s > 0
        assert result.predicted_bubble == pytest.approx(1 / 9)


def test_an_unknown_granularity_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        FirstFitPlacer(granularity="rack")  # type: ignore[arg-type]
