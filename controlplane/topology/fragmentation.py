"""Fragmentation figures per level, read from the maintained free counters.

For a level L (optionally restricted to the subtrees under one ``within`` subtree):
- ``total_free``: free devices (the same at every level: each device sits in one subtree).
- ``largest_free_block``: the most free devices under a single subtree at L: the biggest job
  that still fits inside one L-subtree.
- ``fully_free_subtrees``: subtrees at L whose every device is free.
- ``stranded_free``: free devices in subtrees at L that are partly used (``total_free`` minus
  the devices of the fully free subtrees): capacity that a job wanting whole L-subtrees
  cannot use.
- ``fragmentation_index``: ``1 - largest_free_block / min(total_free, largest_capacity)``,
  where ``largest_capacity`` is the size of the biggest subtree at L: how far the largest free
  block falls short of the largest block the free devices could form if they were packed
  together. 0 for an idle or perfectly packed cluster (and when nothing is free); close to 1
  when free devices are scattered one or two per subtree. (``1 - largest/total`` would call an
  idle cluster fragmented at every level below the root, so it is not used.)

Cost: one vectorised pass over the L-subtrees' counters (O(#subtrees at L)), never over devices
(except at the DEVICE level itself, where the subtrees are the devices).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from controlplane.topology.levels import Level


@dataclass(frozen=True, slots=True)
class LevelFragmentation:
    """Free capacity of one level; see the module docstring."""

    level: Level
    subtrees: int
    total_free: int
    largest_free_block: int
    fully_free_subtrees: int
    stranded_free: int
    fragmentation_index: float


def level_fragmentation(level: Level, free: npt.NDArray[np.int32],
                        capacity: npt.NDArray[np.int32]) -> LevelFragmentation:
    """Figures of one level from its subtrees' free counts and capacities (same order)."""
    total = int(free.sum())
    largest = int(free.max()) if free.size else 0
    whole = free == capacity
    free_in_whole = int((capacity * whole).sum())
    best_possible = min(total, int(capacity.max())) if free.size else 0
    index = 0.0 if best_possible == 0 else 1.0 - largest / best_possible
    return LevelFragmentation(level=level, subtrees=int(free.size), total_free=total,
                              largest_free_block=largest, fully_free_subtrees=int(np.count_nonzero(whole)),
                              stranded_free=total - free_in_whole, fragmentation_index=index)
