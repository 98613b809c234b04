"""``Topology``: the static tree plus its free state, with capacity queries and allocation.

Vocabulary:
- device id: an ``int`` in ``0..device_count-1``, stable for a given build input.
- ``Subtree``: a handle on a vertex (level, name, id); get one from ``subtree(level, name)``,
  ``root``, ``nodes()``, ``children()``, ``path()``.
- owner: an opaque string (an attempt or job id) holding devices.
- free device: unowned and on an available node.

Complexity at 10,000 nodes of 8 devices: ``free_devices`` O(1); ``allocate``/``release``
O(depth) per device; ``fragmentation`` O(#subtrees per level) over maintained counters;
``distance`` O(depth); ``snapshot`` copies a few arrays.

Allocation is all-or-nothing: a request that names a device twice, an owned device or a device
on an unavailable node changes nothing and raises. A device on a node that becomes unavailable
stays with its owner until released; releasing it does not make it free until the node is back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from controlplane.domain.errors import ConflictError, InvalidInputError
from controlplane.topology.fragmentation import LevelFragmentation, level_fragmentation
from controlplane.topology.levels import LEVELS, Hop, Level, LinkModel
from controlplane.topology.state import UNOWNED, FreeState
from controlplane.topology.tree import HopArrays, NodeInfo, PoolInfo, Subtree, TopologyTree


class Topology:
    """A cluster tree and who holds what in it. Only ``FreeState`` changes; ``snapshot()``
    gives an independent copy sharing the static tree."""

    def __init__(self, tree: TopologyTree, state: FreeState | None = None) -> None:
        self.tree = tree
        self.state = state if state is not None else FreeState.all_free(tree)
        self._device_base = tree.level_offsets[Level.DEVICE]
        self._node_base = tree.level_offsets[Level.NODE]

    def snapshot(self) -> Topology:
        """An independent copy of the free state over the same tree, for trying allocations."""
        return Topology(self.tree, self.state.copy())

    # -- structure (delegated to the tree) ---------------------------------------------------

    @property
    def root(self) -> Subtree:
        return self.tree.root

    @property
    def device_count(self) -> int:
        return self.tree.device_count

    @property
    def pools(self) -> tuple[PoolInfo, ...]:
        return self.tree.pools

    def count(self, level: Level) -> int:
        """Number of subtrees at a level."""
        return self.tree.count(level)

    def subtree(self, level: Level, name: str) -> Subtree:
        return self.tree.subtree(level, name)

    def parent(self, subtree: Subtree) -> Subtree | None:
        return self.tree.parent_of(subtree)

    def children(self, subtree: Subtree) -> list[Subtree]:
        return self.tree.children(subtree)

    def descendants(self, subtree: Subtree, level: Level) -> list[Subtree]:
        return self.tree.descendants(subtree, level)

    def devices_under(self, subtree: Subtree) -> range:
        return self.tree.devices_under(subtree)

    def path(self, device: int) -> list[Subtree]:
        return self.tree.path(device)

    def nodes(self, pool: str | None = None) -> list[Subtree]:
        return self.tree.nodes(pool)

    def node_of(self, device: int) -> Subtree:
        return self.tree.node_of(device)

    def node_info(self, node: Subtree | str) -> NodeInfo:
        return self.tree.node_info(node)

    def scaleup_domain_of(self, device: int) -> Subtree:
        return self.tree.scaleup_domain_of(device)

    def device_name(self, device: int) -> str:
        return self.tree.device_name(device)

    def device_id(self, node: str, local_index: int) -> int:
        return self.tree.device_id(node, local_index)

    def device_by_name(self, name: str) -> int:
        return self.tree.device_by_name(name)

    def pool(self, name: str) -> PoolInfo:
        return self.tree.pool(name)

    def pool_of(self, device: int) -> PoolInfo:
        return self.tree.pool_of(device)

    def link_model(self, pool: str) -> LinkModel:
        return self.tree.pool(pool).link_model

    def distance(self, a: int, b: int) -> Hop:
        return self.tree.distance(a, b)

    def distances(self, a: Sequence[int] | npt.ArrayLike, b: Sequence[int] | npt.ArrayLike) -> HopArrays:
        return self.tree.distances(a, b)

    def distance_matrix(self, devices: Sequence[int] | npt.ArrayLike) -> HopArrays:
        return self.tree.distance_matrix(devices)

    # -- capacity queries --------------------------------------------------------------------

    def capacity(self, subtree: Subtree) -> int:
        """All devices under a subtree, free or not."""
        return int(self.tree.capacity[self.tree.check(subtree)])

    def free_devices(self, subtree: Subtree) -> int:
        """Free devices under a subtree, O(1)."""
        return int(self.state.free[self.tree.check(subtree)])

    def free_devices_in_pool(self, pool: str) -> int:
        """Free devices of one pool, O(1) (pools are not subtrees: several may share a zone)."""
        return int(self.state.pool_free[self.tree.pool_index(pool)])

    def free_device_ids(self, subtree: Subtree, limit: int | None = None) -> list[int]:
        """Ids of the free devices under a subtree, ascending (so domains fill in order)."""
        devices = self.tree.devices_under(subtree)
        mask = self.state.free[self._device_base + devices.start:self._device_base + devices.stop]
        ids = np.flatnonzero(mask)
        if limit is not None:
            ids = ids[:max(limit, 0)]
        return (ids + devices.start).tolist()

    def is_free(self, device: int) -> bool:
        return bool(self.state.free[self._device_base + self.tree.check_device(device)])

    def owner_of(self, device: int) -> str | None:
        code = int(self.state.owner[self.tree.check_device(device)])
        return None if code == UNOWNED else self.state.owner_names[code]

    def devices_of(self, owner: str) -> list[int]:
        code = self.state.owner_codes.get(owner)
        return [] if code is None else np.flatnonzero(self.state.owner == code).tolist()

    def owners(self) -> list[str]:
        return sorted(self.state.owner_codes)

    def subtrees_with_free(self, level: Level, at_least: int, within: Subtree | None = None,
                           pool: str | None = None, limit: int | None = None) -> list[Subtree]:
        """Subtrees at ``level`` (under ``within``, wholly in ``pool``) with at least
        ``at_least`` free devices, in best-fit order: fewest free devices first, then tree order."""
        vertices = self._vertices(level, within, pool)
        counts = self.state.free[vertices]
        fitting = np.flatnonzero(counts >= at_least)
        ordered = vertices[fitting[np.argsort(counts[fitting], kind="stable")]]
        if limit is not None:
            ordered = ordered[:max(limit, 0)]
        return [self.tree.at(int(vertex)) for vertex in ordered]

    def fragmentation(self, levels: Iterable[Level] | None = None, within: Subtree | None = None,
                      pool: str | None = None) -> dict[Level, LevelFragmentation]:
        """Per-level fragmentation figures (``controlplane.topology.fragmentation``), by default
        for every level from CLUSTER to DOMAIN, over the whole tree, under ``within``, and/or
        over the subtrees wholly in ``pool`` (levels above a pool's spines then count none)."""
        chosen = [level for level in LEVELS if level is not Level.DEVICE] if levels is None else list(levels)
        figures: dict[Level, LevelFragmentation] = {}
        for level in chosen:
            if pool is None:
                span = self.tree.descendant_range(within or self.root, level)
                free, capacity = self.state.free[span.start:span.stop], self.tree.capacity[span.start:span.stop]
            else:
                vertices = self._vertices(level, within, pool)
                free, capacity = self.state.free[vertices], self.tree.capacity[vertices]
            figures[level] = level_fragmentation(level, free, capacity)
        return figures

    # -- changes -----------------------------------------------------------------------------

    def allocate(self, device_ids: Iterable[int], owner: str) -> None:
        """Give free devices to ``owner``, all or none."""
        if not owner:
            raise InvalidInputError("an allocation needs a non-empty owner", field="owner")
        ids = self._checked_ids(device_ids)
        if ids.size == 0:
            return
        owned = ids[self.state.owner[ids] != UNOWNED]
        if owned.size:
            device = int(owned[0])
            holder = self.owner_of(device)
            raise ConflictError(
                f"device {self.device_name(device)} (id {device}) is already allocated to {holder!r}",
                field="device_ids", hint=f"release it first, or pick free devices; {owned.size} of the "
                                         f"{ids.size} requested devices are taken",
                details={"device": device, "owner": holder, "requested_by": owner})
        stranded = ids[~self._on_available_node(ids)]
        if stranded.size:
            device = int(stranded[0])
            raise ConflictError(
                f"device {self.device_name(device)} (id {device}) is on unavailable node "
                f"{self.node_of(device).name}", field="device_ids",
                hint="pick devices on available nodes", details={"device": device})
        code = self.state.code_for(owner)
        self.state.owner[ids] = code
        self.state.held[code] += int(ids.size)
        self._count(ids, -1)

    def release(self, device_ids: Iterable[int]) -> None:
        """Return owned devices, all or none; releasing an unowned device is refused."""
        ids = self._checked_ids(device_ids)
        if ids.size == 0:
            return
        unowned = ids[self.state.owner[ids] == UNOWNED]
        if unowned.size:
            device = int(unowned[0])
            raise ConflictError(f"device {self.device_name(device)} (id {device}) is not allocated",
                                field="device_ids", hint="release only devices an owner holds",
                                details={"device": device})
        self._free_owned(ids)

    def release_owner(self, owner: str) -> list[int]:
        """Return every device ``owner`` holds; the ids released (empty if none, so it is safe
        to repeat)."""
        code = self.state.owner_codes.get(owner)
        if code is None:
            return []
        ids = np.flatnonzero(self.state.owner == code)
        self._free_owned(ids)
        return ids.tolist()

    def mark_node_unavailable(self, node: Subtree | str) -> bool:
        """Take a node out of service (cordon, loss, preemption). Its free devices stop being
        free; owned devices stay owned. Returns whether anything changed."""
        vertex = self._node_vertex(node)
        index = vertex - self._node_base
        if not self.state.node_available[index]:
            return False
        free_ids = np.asarray(self.free_device_ids(self.tree.at(vertex)), dtype=np.intp)
        self.state.node_available[index] = False
        self._count(free_ids, -1)
        return True

    def mark_node_available(self, node: Subtree | str) -> bool:
        """Put a node back in service: its unowned devices become free. Returns whether
        anything changed."""
        vertex = self._node_vertex(node)
        index = vertex - self._node_base
        if self.state.node_available[index]:
            return False
        self.state.node_available[index] = True
        devices = self.tree.devices_under(self.tree.at(vertex))
        ids = np.arange(devices.start, devices.stop)
        ids = ids[self.state.owner[ids] == UNOWNED]
        self._count(ids, 1)
        return True

    def is_node_available(self, node: Subtree | str) -> bool:
        return bool(self.state.node_available[self._node_vertex(node) - self._node_base])

    def unavailable_nodes(self) -> list[Subtree]:
        return [self.tree.at(self._node_base + int(i)) for i in np.flatnonzero(~self.state.node_available)]

    # -- helpers -----------------------------------------------------------------------------

    def _vertices(self, level: Level, within: Subtree | None, pool: str | None) -> npt.NDArray[np.intp]:
        """Vertex ids at ``level`` under ``within`` (default: the root), restricted to ``pool``."""
        span = self.tree.descendant_range(within or self.root, level)
        vertices = np.arange(span.start, span.stop, dtype=np.intp)
        if pool is not None:
            vertices = vertices[self.tree.vertex_pool[vertices] == self.tree.pool_index(pool)]
        return vertices

    def _free_owned(self, ids: npt.NDArray[np.intp]) -> None:
        codes = self.state.owner[ids]
        if ids.size and (codes == codes[0]).all():
            self.state.drop(int(codes[0]), int(ids.size))
        else:
            for code, count in Counter(codes.tolist()).items():
                self.state.drop(code, count)
        self.state.owner[ids] = UNOWNED
        on_available = ids[self._on_available_node(ids)]
        self._count(on_available, 1)

    def _count(self, ids: npt.NDArray[np.intp], delta: int) -> None:
        """Add ``delta`` to the free count of every ancestor of every device, and to its pool."""
        # intp indices and a delta of the counters' own dtype keep np.add.at on its fast path.
        free, pool_free = self.state.free, self.state.pool_free
        np.add.at(free, self.tree.device_ancestors[ids].ravel().astype(np.intp), free.dtype.type(delta))
        np.add.at(pool_free, self.tree.device_pool[ids].astype(np.intp), pool_free.dtype.type(delta))

    def _on_available_node(self, ids: npt.NDArray[np.intp]) -> npt.NDArray[np.bool_]:
        return self.state.node_available[self.tree.device_ancestors[ids, Level.NODE] - self._node_base]

    def _checked_ids(self, device_ids: Iterable[int]) -> npt.NDArray[np.intp]:
        ids = np.fromiter(device_ids, dtype=np.intp)
        if ids.size == 0:
            return ids
        if ids.min() < 0 or ids.max() >= self.device_count:
            self.tree.check_device(int(ids[(ids < 0) | (ids >= self.device_count)][0]))
        ordered = np.sort(ids)
        repeats = ordered[1:][ordered[1:] == ordered[:-1]]
        if repeats.size:
            repeated = int(repeats[0])
            raise InvalidInputError(f"device {self.device_name(repeated)} (id {repeated}) is listed twice",
                                    field="device_ids")
        return ids

    def _node_vertex(self, node: Subtree | str) -> int:
        handle = self.tree.subtree(Level.NODE, node) if isinstance(node, str) else node
        vertex = self.tree.check(handle)
        if handle.level is not Level.NODE:
            raise InvalidInputError(f"{handle.name!r} is a {handle.level.label}, not a node", field="node")
        return vertex
