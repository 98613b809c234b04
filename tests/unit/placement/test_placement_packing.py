"""The packing candidates the search prices: each takes exactly the job's units, from free
devices, under the home it reports."""

from __future__ import annotations

import pytest

from controlplane.perfmodel import Layout
from controlplane.placement.packing import (
    STRATEGIES,
    Ordering,
    home_subtrees,
    orderings,
    pack,
    pack_aligned,
    pack_first_fit,
)
from controlplane.placement.units import UnitMap, unit_level
from controlplane.topology import Topology
from controlplane.topology.levels import Level
from tests.unit.placement.placement_factories import cluster, node, occupy, pool


def _units(topology: Topology, tp: int) -> UnitMap:
    return UnitMap(topology, [unit_level(topology, index, tp) for index in range(len(topology.pools))], tp)


def _fragmented() -> Topology:
    topology = cluster(pool("h100", nodes=8, nodes_per_rack=2, racks_per_spine=2))
    occupy(topology, {node("h100", 1): "all", node("h100", 2): [0], node("h100", 3): [0, 1, 2],
                      node("h100", 5): [0, 1, 2, 3, 4]})
    return topology


def _check(topology: Topology, units: UnitMap, layout: Layout, devices: list[int], home: int) -> None:
    assert len(devices) == layout.devices == len(set(devices))
    assert all(topology.is_free(device) for device in devices)
    home_devices = topology.tree.devices_under(topology.tree.at(home))
    assert all(device in home_devices for device in devices)
    assert units.units_of(home) >= layout.devices // layout.tp


@pytest.mark.parametrize("layout", [Layout(tp=2, dp=2), Layout(tp=2, pp=2, dp=4), Layout(tp=4, pp=2, dp=3),
                                    Layout(tp=1, dp=4, cp=2, pp=2)], ids=Layout.describe)
def test_every_candidate_takes_exactly_the_jobs_units_under_its_home(layout: Layout) -> None:
    topology = _fragmented()
    units = _units(topology, layout.tp)
    needed = layout.devices // layout.tp
    home = home_subtrees(units, needed, Level.REGION, 3)[0]
    for ordering in orderings(layout):
        for strategy in STRATEGIES:
            packing = pack(units, layout, home, ordering, strategy)
            _check(topology, units, layout, packing.devices.tolist(), packing.home)
        aligned = pack_aligned(units, layout, ordering, Level.REGION)
        if aligned is not None:
            _check(topology, units, layout, aligned.devices.tolist(), aligned.home)
        first_fit = pack_first_fit(units, layout, ordering)
        _check(topology, units, layout, first_fit.devices.tolist(), first_fit.home)


def test_first_fit_inside_one_domain_reports_that_domain_as_home() -> None:
    topology = cluster(pool("h100", nodes=2))
    units = _units(topology, 2)
    packing = pack_first_fit(units, Layout(tp=2, dp=2), Ordering(("dp",)))
    assert topology.tree.level_of(packing.home) is Level.DOMAIN


def test_an_ordering_puts_its_innermost_dimension_on_consecutive_units() -> None:
    layout = Layout(tp=1, pp=2, dp=3)
    megatron = Ordering(("dp", "pp")).slot_of_rank_unit(layout).tolist()
    pipelines_first = Ordering(("pp", "dp")).slot_of_rank_unit(layout).tolist()
    assert megatron == [0, 1, 2, 3, 4, 5]
    assert pipelines_first == [0, 2, 4, 1, 3, 5]  # rank unit (pp=0, dp=1) sits in slot 2
