"""``FreeState``: the mutable half of a topology: who holds which device, which nodes are usable,
and how many free devices sit under every subtree.

Invariant (kept by ``Topology``, the only writer): for every vertex ``v`` of the tree,
``free[v]`` is the number of devices under ``v`` that are unowned and on an available node. A
device vertex's count is therefore 1 or 0, so the device block of ``free`` doubles as the free
mask. ``pool_free[p]`` counts the free devices of pool ``p`` the same way. Every change touches
the device's ancestors and its pool counter only: O(depth) per device.

Owners are opaque strings (attempt or job ids), stored as integer codes in ``owner`` (-1 =
unowned); ``held`` counts the devices of each code, and an owner holding none is forgotten.
``copy()`` duplicates the arrays (under a megabyte at 80,000 devices) and the owner registry;
scheduler snapshots are made of it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from controlplane.topology.levels import Level
from controlplane.topology.tree import TopologyTree

UNOWNED = -1


class FreeState:
    """Free counts per vertex, owner per device, availability per node."""

    __slots__ = ("_next_code", "free", "held", "node_available", "owner", "owner_codes", "owner_names",
                 "pool_free")

    def __init__(self, *, free: npt.NDArray[np.int32], pool_free: npt.NDArray[np.int32],
                 owner: npt.NDArray[np.int32], node_available: npt.NDArray[np.bool_],
                 owner_codes: dict[str, int], owner_names: dict[int, str], held: dict[int, int],
                 next_code: int) -> None:
        self.free = free
        self.pool_free = pool_free
        self.owner = owner
        self.node_available = node_available
        self.owner_codes = owner_codes
        self.owner_names = owner_names
        self.held = held
        self._next_code = next_code

    @classmethod
    def all_free(cls, tree: TopologyTree) -> FreeState:
        """Every device unowned, every node available."""
        pool_free = np.bincount(tree.device_pool, minlength=len(tree.pools)).astype(np.int32)
        return cls(free=tree.capacity.copy(), pool_free=pool_free,
                   owner=np.full(tree.device_count, UNOWNED, dtype=np.int32),
                   node_available=np.ones(tree.count(Level.NODE), dtype=np.bool_),
                   owner_codes={}, owner_names={}, held={}, next_code=0)

    def copy(self) -> FreeState:
        return FreeState(free=self.free.copy(), pool_free=self.pool_free.copy(), owner=self.owner.copy(),
                         node_available=self.node_available.copy(), owner_codes=dict(self.owner_codes),
                         owner_names=dict(self.owner_names), held=dict(self.held),
                         next_code=self._next_code)

    def code_for(self, owner: str) -> int:
        """The code of an owner, registering it on first use."""
        code = self.owner_codes.get(owner)
        if code is None:
            code = self._next_code
            self._next_code += 1
            self.owner_codes[owner] = code
            self.owner_names[code] = owner
            self.held[code] = 0
        return code

    def drop(self, code: int, count: int) -> None:
        """``count`` devices of an owner were released; forget the owner once it holds none,
        so the registry does not grow forever."""
        remaining = self.held[code] - count
        if remaining:
            self.held[code] = remaining
            return
        del self.held[code]
        self.owner_codes.pop(self.owner_names.pop(code))
