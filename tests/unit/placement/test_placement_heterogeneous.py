"""Heterogeneous pipelines: when one type lacks room and mixing is allowed, stages go on
different types and layers follow speed and memory so that stage times balance."""

from __future__ import annotations

import pytest

from controlplane.catalog import get_accelerator
from controlplane.perfmodel import as_device
from controlplane.placement import Placement, PlacementFailure, PlacementRequest, TopologyAwarePlacer
from controlplane.placement.stages import layer_seconds, predicted_bubble
from controlplane.topology import Topology
from tests.unit.placement.placement_factories import cluster, pool, request, small_model

placer = TopologyAwarePlacer()


def _mixed_cluster() -> Topology:
    return cluster(pool("h100", nodes=2), pool("a100", accelerator="A100-80GB", nodes=2, zone="use1-b"))


def _mixed_job(*, allow_mixed_types: bool = False) -> PlacementRequest:
    return request(tp=8, pp=4, model=small_model(32), micro_batches=16, allowed_accelerators=("H100-SXM", "A100-80GB"),
                   allow_mixed_types=allow_mixed_types)


def test_mixing_types_is_refused_unless_the_job_allows_it() -> None:
    result = placer.place(_mixed_job(), _mixed_cluster())
    assert isinstance(result, PlacementFailure)
    assert result.code == "insufficient_devices"


def test_stages_go_to_the_fastest_type_first_and_take_more_layers_there() -> None:
    result = placer.place(_mixed_job(allow_mixed_types=True), _mixed_cluster())
    assert isinstance(result, Placement), result
    assert result.stage_accelerators == ("H100-SXM", "H100-SXM", "A100-80GB", "A100-80GB")
    assert sum(result.stage_layers) == 32
    h100_layers, a100_layers = result.stage_layers[0], result.stage_layers[-1]
    assert h100_layers > a100_layers
    stage_size = 8
    for stage, accelerator in enumerate(result.stage_accelerators):
        ranks = range(stage * stage_size, (stage + 1) * stage_size)
        assert {result.accelerators[rank] for rank in ranks} == {accelerator}


def test_the_layer_split_balances_stage_times_better_than_an_even_split() -> None:
    job = _mixed_job(allow_mixed_types=True)
    result = placer.place(job, _mixed_cluster())
    assert isinstance(result, Placement)
    seconds = {name: layer_seconds(small_model(32), job.layout, as_device(get_accelerator(name)))
               for name in ("H100-SXM", "A100-80GB")}
    balanced = [layers * seconds[t] for layers, t in zip(result.stage_layers, result.stage_accelerators, strict=True)]
    even = [8 * seconds[t] for t in result.stage_accelerators]
    assert max(balanced) < max(even)
    assert result.predicted_bubble == pytest.approx(predicted_bubble(balanced, 16))
    assert result.predicted_bubble < predicted_bubble(even, 16)
    assert any("bubble" in reason for reason in result.reasons)


def test_a_type_with_room_for_everything_is_used_alone_even_when_mixing_is_allowed() -> None:
    topology = cluster(pool("h100", nodes=4), pool("a100", accelerator="A100-80GB", nodes=4, zone="use1-b"))
    result = placer.place(_mixed_job(allow_mixed_types=True), topology)
    assert isinstance(result, Placement)
    assert set(result.accelerators) == {"H100-SXM"}
    assert result.stage_layers == (8, 8, 8, 8)


def test_mixing_needs_the_model_to_split_layers() -> None:
    job = request(tp=8, pp=4, allow_mixed_types=True)
    result = placer.place(job, _mixed_cluster())
    assert isinstance(result, PlacementFailure)
    assert any("needs the job's model" in line for line in result.details)
