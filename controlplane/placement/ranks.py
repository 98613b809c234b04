"""Rank arithmetic of a parallel layout: coordinates and communication groups.

Owns the numbering convention stated in ``controlplane.placement.types`` (Megatron-Core's
``tp-cp-ep-dp-pp``: ``rank = tp + TP·(cp + CP·(dp + DP·pp))``, experts carved out of the
``cp × dp`` ranks of a stage) as array code, so that a 4,096-rank job is enumerated in
microseconds:

- ``rank_grid(layout)``: the ranks as an array of shape ``(pp, dp, cp, tp)``.
- ``group_arrays(layout)``: each group kind as a 2-D array, one group per row, members in
  the order of the varying coordinate (pipeline groups in stage order).
- ``coordinates(layout)`` / ``groups_as_tuples(layout)``: the same as the frozen values a
  ``Placement`` carries.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from controlplane.perfmodel.shapes import Layout
from controlplane.placement.types import RankCoordinates

RankArray = npt.NDArray[np.int64]


def rank_grid(layout: Layout) -> RankArray:
    """Rank ids laid out as ``grid[pp, dp, cp, tp]``."""
    return np.arange(layout.devices, dtype=np.int64).reshape(layout.pp, layout.dp, layout.cp, layout.tp)


def group_arrays(layout: Layout) -> dict[str, RankArray]:
    """Every group kind of ``layout`` as a ``(groups, members)`` array (see ``types``)."""
    grid = rank_grid(layout)
    pp, dp, cp, tp, ep = layout.pp, layout.dp, layout.cp, layout.tp, layout.ep
    groups: dict[str, RankArray] = {
        "tp": grid.reshape(-1, tp),
        "cp": grid.transpose(0, 1, 3, 2).reshape(-1, cp),
        "dp": grid.transpose(0, 2, 3, 1).reshape(-1, dp),
        "pp": grid.transpose(1, 2, 3, 0).reshape(-1, pp),
    }
    data_context = grid.transpose(0, 3, 1, 2).reshape(pp, tp, dp * cp)  # index j = cp + CP·dp
    if cp > 1:
        groups["dp_cp"] = data_context.reshape(-1, dp * cp)
    if ep > 1:
        replicas = dp * cp // ep
        expert = data_context.reshape(pp, tp, replicas, ep)
        groups["ep"] = expert.reshape(-1, ep)
        groups["edp"] = expert.transpose(0, 1, 3, 2).reshape(-1, replicas)
    return groups


def stage_of(layout: Layout, ranks: RankArray) -> RankArray:
    """Pipeline stage of each rank."""
    return ranks // (layout.tp * layout.cp * layout.dp)


def coordinates(layout: Layout) -> tuple[RankCoordinates, ...]:
    """The coordinates of every rank, in rank order."""
    tp, cp, dp, ep = layout.tp, layout.cp, layout.dp, layout.ep
    ranks = np.arange(layout.devices, dtype=np.int64)
    t = ranks % tp
    c = (ranks // tp) % cp
    d = (ranks // (tp * cp)) % dp
    p = ranks // (tp * cp * dp)
    e = (c + cp * d) % ep
    return tuple(RankCoordinates(*values) for values in zip(ranks.tolist(), t.tolist(), p.tolist(), d.tolist(),
                                                             e.tolist(), c.tolist(), strict=True))


def groups_as_tuples(layout: Layout) -> dict[str, tuple[tuple[int, ...], ...]]:
    """``group_arrays`` as tuples of tuples, for a ``Placement``."""
    return {kind: tuple(tuple(row) for row in array.tolist()) for kind, array in group_arrays(layout).items()}
