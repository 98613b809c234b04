"""The candidate search of the topology-aware placer over one set of same-type pools.

Owns ``search``: count the free units of the pools (``units.UnitMap``), pick candidate homes
(``packing.home_subtrees``), pack every (ordering, strategy) pair into the best-fit home and
the best pair into the next homes, add the block-aligned candidate of every ordering
(``packing.pack_aligned``) and first fit's units under the default and the best ordering
(``packing.pack_first_fit``, so the search never does worse than first fit), price each
candidate with the cost model, and keep the one with the lowest ``(communication cost,
fragmentation)`` key. Identical device arrays are priced once. At most
``3 × orderings + homes + 1`` candidates are priced (≤ 22), so the search is a small constant
number of vectorised cost evaluations whatever the cluster size.

A ``Shortfall`` says why the pools cannot host the job (too few free units, or TP too wide).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from controlplane.perfmodel.shapes import Layout
from controlplane.placement.cost import total_cost
from controlplane.placement.eligibility import EligiblePool
from controlplane.placement.packing import (
    STRATEGIES,
    Packing,
    fragmentation_key,
    home_subtrees,
    orderings,
    pack,
    pack_aligned,
    pack_first_fit,
)
from controlplane.placement.units import UnitMap, unit_level
from controlplane.topology.levels import Level
from controlplane.topology.topology import Topology

IntArray = npt.NDArray[np.int64]
CostFunction = Callable[[IntArray], dict[str, float]]
HOME_LIMIT = 3


@dataclass(frozen=True)
class Shortfall:
    """Why some pools cannot host a job."""

    scope: str
    accelerator: str
    free_units: int
    needed_units: int
    tp: int
    refusals: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.refusals and self.free_units == 0:
            return f"{self.accelerator} in {self.scope}: " + "; ".join(self.refusals)
        return (f"{self.accelerator} in {self.scope}: room for {self.free_units} of the {self.needed_units} "
                f"tensor-parallel groups of {self.tp} devices")


@dataclass(frozen=True)
class SearchResult:
    """The chosen candidate and what it was compared with."""

    packing: Packing
    breakdown: dict[str, float]
    cost: float
    fragmentation: tuple[int, ...]
    units: UnitMap
    evaluated: int
    runner_up_cost: float | None
    unit_levels: tuple[str, ...]

    @property
    def home_level(self) -> Level:
        return self.units.topology.tree.level_of(self.packing.home)


def _cost_key(cost: float) -> float:
    return float(f"{cost:.9e}")


def search(topology: Topology, pools: Sequence[EligiblePool], layout: Layout, price: CostFunction, *,
           top: Level, scope: str, accelerator: str, home_limit: int = HOME_LIMIT) -> SearchResult | Shortfall:
    """The cheapest placement of ``layout`` in ``pools`` under one subtree (module docstring)."""
    needed = layout.devices // layout.tp
    levels = [unit_level(topology, pool.index, layout.tp) for pool in pools]
    refusals = tuple(level.refusal for level in levels if level.refusal is not None)
    usable = [level for level in levels if level.level is not None]
    if not usable:
        return Shortfall(scope, accelerator, 0, needed, layout.tp, refusals)
    units = UnitMap(topology, usable, layout.tp)
    homes = home_subtrees(units, needed, top, home_limit)
    if not homes:
        return Shortfall(scope, accelerator, units.total, needed, layout.tp, refusals)

    priced: dict[bytes, tuple[dict[str, float], float]] = {}
    scored: list[tuple[tuple[float, tuple[int, ...], int], Packing, dict[str, float], tuple[int, ...]]] = []

    def consider(packing: Packing) -> None:
        signature = packing.devices.tobytes()
        if signature not in priced:
            breakdown = price(packing.devices)
            priced[signature] = (breakdown, total_cost(breakdown))
        breakdown, cost = priced[signature]
        fragmentation = fragmentation_key(units, packing)
        key = (_cost_key(cost), tuple(-block for block in fragmentation), len(scored))
        scored.append((key, packing, breakdown, fragmentation))

    for ordering in orderings(layout):
        for strategy in STRATEGIES:
            consider(pack(units, layout, homes[0], ordering, strategy))
    best = min(scored, key=lambda item: item[0])
    for home in homes[1:]:
        consider(pack(units, layout, home, best[1].ordering, best[1].strategy))
    for ordering in orderings(layout):
        aligned = pack_aligned(units, layout, ordering, top)
        if aligned is not None:
            consider(aligned)
    best = min(scored, key=lambda item: item[0])
    for ordering in dict.fromkeys((orderings(layout)[0], best[1].ordering)):
        consider(pack_first_fit(units, layout, ordering))
    scored.sort(key=lambda item: item[0])
    _, packing, breakdown, fragmentation = scored[0]
    distinct_costs = sorted({cost_key for (cost_key, *_), *_ in scored})
    runner_up = distinct_costs[1] if len(distinct_costs) > 1 else None
    unit_levels = tuple(f"{topology.pools[level.pool].name}: {level.level.label}" for level in usable
                        if level.level is not None)
    return SearchResult(packing=packing, breakdown=breakdown, cost=total_cost(breakdown),
                        fragmentation=fragmentation, units=units, evaluated=len(priced),
                        runner_up_cost=runner_up, unit_levels=unit_levels)
