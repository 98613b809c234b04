"""``TopologyTree``: the static cluster tree, stored as arrays, with lookups and distance queries.

Storage. Every subtree is a *vertex* with a global integer id. Vertices of one level occupy one
contiguous block of ids (``level_offsets``), numbered in depth-first order, so that

- the children of a vertex are a contiguous id range (``child_lo``/``child_hi``),
- the devices under a vertex are a contiguous range of device ids (``dev_lo``/``dev_hi``), and
- the descendants of a vertex at any level are a contiguous id range.

Device ids are ``0..device_count-1``; device ``d`` is vertex ``level_offsets[DEVICE] + d``.
``device_ancestors[d, L]`` is the vertex id of ``d``'s ancestor at level ``L`` (column DEVICE is
the device's own vertex). Two devices' lowest common ancestor is at level
``(number of equal columns) - 1``, since equal ancestors form a prefix of the row.

Names. Regions, zones, spines, racks and nodes carry the names the builder gave them; domains
are named ``<node>/dom<k>`` and devices ``<node>/dev<k>``, computed on demand.

Nothing here changes after construction (the arrays are read-only); free capacity lives in
``FreeState``.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from controlplane.domain.errors import InvalidInputError, NotFoundError
from controlplane.topology.levels import LEVELS, Hop, Level, LinkModel

IntArray = npt.NDArray[np.int32]
DOMAIN_PREFIX = "dom"
DEVICE_PREFIX = "dev"


@dataclass(frozen=True, slots=True)
class Subtree:
    """A handle on one vertex of the tree: its id, level and name."""

    vertex: int
    level: Level
    name: str


NO_POOL = -1


@dataclass(frozen=True, slots=True)
class PoolInfo:
    """What the tree knows about one pool."""

    name: str
    provider: str
    accelerator: str
    capacity_type: str
    region: str
    zone: str
    scaleup_level: Level
    link_model: LinkModel


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """One node: where it sits, what it holds, and its device ids."""

    name: str
    pool: str
    accelerator: str
    capacity_type: str
    region: str
    zone: str
    spine: str
    rack: str
    devices: range


@dataclass(frozen=True, slots=True)
class HopArrays:
    """Element-wise ``Hop`` figures for many device pairs (see ``Hop``)."""

    level: npt.NDArray[np.int8]
    bandwidth_gbytes_per_s: npt.NDArray[np.float64]
    latency_us: npt.NDArray[np.float64]
    scaleup: npt.NDArray[np.bool_]


class TopologyTree:
    """The static tree. Built by ``controlplane.topology.builder``; see the module docstring."""

    def __init__(self, *, level_offsets: Sequence[int], parent: IntArray, names: Sequence[str],
                 device_ancestors: IntArray, device_pool: npt.NDArray[np.int16],
                 pools: Sequence[PoolInfo]) -> None:
        self.level_offsets: tuple[int, ...] = tuple(level_offsets)
        self.parent = parent
        self.device_ancestors = device_ancestors
        self.device_pool = device_pool
        self.pools: tuple[PoolInfo, ...] = tuple(pools)
        self._names = list(names)
        self.device_count = int(device_ancestors.shape[0])
        vertex_count = self.level_offsets[-1]
        self.child_lo = np.zeros(vertex_count, dtype=np.int32)
        self.child_hi = np.zeros(vertex_count, dtype=np.int32)
        self.dev_lo = np.zeros(vertex_count, dtype=np.int32)
        self.dev_hi = np.zeros(vertex_count, dtype=np.int32)
        for level in LEVELS:
            lo, hi = self.block(level)
            ids = np.arange(lo, hi, dtype=np.int32)
            column = device_ancestors[:, level]
            self.dev_lo[lo:hi] = np.searchsorted(column, ids, side="left")
            self.dev_hi[lo:hi] = np.searchsorted(column, ids, side="right")
            if level is not Level.DEVICE:
                child_lo, child_hi = self.block(Level(level + 1))
                child_parents = parent[child_lo:child_hi]
                self.child_lo[lo:hi] = child_lo + np.searchsorted(child_parents, ids, side="left")
                self.child_hi[lo:hi] = child_lo + np.searchsorted(child_parents, ids, side="right")
        self.capacity = (self.dev_hi - self.dev_lo).astype(np.int32)
        self.vertex_pool = self._vertex_pools()
        self._by_name: dict[Level, dict[str, int]] = {
            level: {self._names[v]: v for v in range(*self.block(level))}
            for level in LEVELS if level < Level.DOMAIN
        }
        self._pool_index = {pool.name: index for index, pool in enumerate(self.pools)}
        bottlenecks = [[pool.link_model.bottleneck_below(level) for level in LEVELS] for pool in self.pools]
        self._up_bandwidth = np.array([[bw for bw, _ in row] for row in bottlenecks], dtype=np.float64)
        self._up_latency = np.array([[lat for _, lat in row] for row in bottlenecks], dtype=np.float64)
        self._scaleup_level = np.array([pool.scaleup_level for pool in self.pools], dtype=np.int8)
        for array in (self.parent, self.device_ancestors, self.device_pool, self.child_lo, self.child_hi,
                      self.dev_lo, self.dev_hi, self.capacity, self.vertex_pool, self._up_bandwidth,
                      self._up_latency, self._scaleup_level):
            array.flags.writeable = False

    def _vertex_pools(self) -> npt.NDArray[np.int16]:
        """Pool index of every vertex whose devices all belong to one pool; -1 for vertices
        spanning pools (a shared zone, a rack labelled into two pools) or holding no device."""
        result = np.full(self.level_offsets[-1], NO_POOL, dtype=np.int16)
        if self.device_count == 0:
            return result
        for level in LEVELS:
            lo, hi = self.block(level)
            starts = self.dev_lo[lo:hi]
            lowest = np.minimum.reduceat(self.device_pool, starts)
            highest = np.maximum.reduceat(self.device_pool, starts)
            result[lo:hi] = np.where(lowest == highest, lowest, NO_POOL)
        return result

    # -- structure ---------------------------------------------------------------------------

    def block(self, level: Level) -> tuple[int, int]:
        """The vertex id range ``[lo, hi)`` of one level."""
        return self.level_offsets[level], self.level_offsets[level + 1]

    def count(self, level: Level) -> int:
        lo, hi = self.block(level)
        return hi - lo

    @property
    def root(self) -> Subtree:
        return self.at(0)

    def level_of(self, vertex: int) -> Level:
        return Level(bisect.bisect_right(self.level_offsets, vertex) - 1)

    def at(self, vertex: int) -> Subtree:
        """The subtree handle of a vertex id."""
        if not 0 <= vertex < self.level_offsets[-1]:
            raise NotFoundError(f"vertex {vertex} is not in this topology")
        level = self.level_of(vertex)
        return Subtree(vertex, level, self._name(vertex, level))

    def subtree(self, level: Level, name: str) -> Subtree:
        """Look a subtree up by level and name (``<node>/dom<k>``, ``<node>/dev<k>`` below nodes)."""
        if level >= Level.DOMAIN:
            node_name, _, local = name.rpartition("/")
            prefix = DOMAIN_PREFIX if level is Level.DOMAIN else DEVICE_PREFIX
            node = self._by_name[Level.NODE].get(node_name)
            if node is not None and local.startswith(prefix) and local[len(prefix):].isdigit():
                index = int(local[len(prefix):])
                if level is Level.DOMAIN and index < self.child_hi[node] - self.child_lo[node]:
                    return Subtree(int(self.child_lo[node]) + index, level, name)
                if level is Level.DEVICE and index < self.capacity[node]:
                    return self.device(int(self.dev_lo[node]) + index)
        else:
            vertex = self._by_name[level].get(name)
            if vertex is not None:
                return Subtree(vertex, level, name)
        raise NotFoundError(f"no {level.label} named {name!r} in this topology")

    def check(self, subtree: Subtree) -> int:
        """The vertex id of a handle, refusing handles that do not belong to this tree (say, a
        handle kept across a rebuild whose vertex now holds something else)."""
        vertex = subtree.vertex
        if (not 0 <= vertex < self.level_offsets[-1] or self.level_of(vertex) is not subtree.level
                or self._name(vertex, subtree.level) != subtree.name):
            raise NotFoundError(f"{subtree.level.label} {subtree.name!r} is not in this topology",
                                hint="look it up again with subtree(level, name)")
        return vertex

    def parent_of(self, subtree: Subtree) -> Subtree | None:
        vertex = self.check(subtree)
        return None if vertex == 0 else self.at(int(self.parent[vertex]))

    def children(self, subtree: Subtree) -> list[Subtree]:
        vertex = self.check(subtree)
        return [self.at(child) for child in range(int(self.child_lo[vertex]), int(self.child_hi[vertex]))]

    def descendant_range(self, subtree: Subtree, level: Level) -> range:
        """Vertex ids of the descendants of ``subtree`` at ``level`` (itself if same level)."""
        vertex = self.check(subtree)
        if level < subtree.level:
            raise InvalidInputError(f"a {level.label} is not below a {subtree.level.label}", field="level")
        if level is subtree.level:
            return range(vertex, vertex + 1)
        first = int(self.dev_lo[vertex])
        last = int(self.dev_hi[vertex]) - 1
        if last < first:
            return range(0)
        return range(int(self.device_ancestors[first, level]), int(self.device_ancestors[last, level]) + 1)

    def descendants(self, subtree: Subtree, level: Level) -> list[Subtree]:
        return [self.at(vertex) for vertex in self.descendant_range(subtree, level)]

    def devices_under(self, subtree: Subtree) -> range:
        """Device ids under a subtree (contiguous)."""
        vertex = self.check(subtree)
        return range(int(self.dev_lo[vertex]), int(self.dev_hi[vertex]))

    # -- devices and nodes -------------------------------------------------------------------

    def check_device(self, device: int) -> int:
        if not 0 <= device < self.device_count:
            raise NotFoundError(f"device {device} is not in this topology",
                                hint=f"device ids run from 0 to {self.device_count - 1}")
        return device

    def device(self, device: int) -> Subtree:
        """The DEVICE-level handle of a device id."""
        return self.at(self.level_offsets[Level.DEVICE] + self.check_device(device))

    def device_name(self, device: int) -> str:
        return self.device(device).name

    def device_id(self, node: str, local_index: int) -> int:
        """The id of the ``local_index``-th device of a node."""
        vertex = self.subtree(Level.NODE, node).vertex
        if not 0 <= local_index < self.capacity[vertex]:
            raise NotFoundError(f"node {node!r} has no device {local_index}",
                                hint=f"it has {int(self.capacity[vertex])} devices")
        return int(self.dev_lo[vertex]) + local_index

    def device_by_name(self, name: str) -> int:
        """The id of a device named ``<node>/dev<k>``."""
        return self.subtree(Level.DEVICE, name).vertex - self.level_offsets[Level.DEVICE]

    def node_of(self, device: int) -> Subtree:
        return self.at(int(self.device_ancestors[self.check_device(device), Level.NODE]))

    def scaleup_domain_of(self, device: int) -> Subtree:
        """The smallest subtree that is one scale-up domain: the DOMAIN, or the RACK for
        rack-scale pools."""
        level = self.pools[int(self.device_pool[self.check_device(device)])].scaleup_level
        return self.at(int(self.device_ancestors[device, level]))

    def path(self, device: int) -> list[Subtree]:
        """Ancestors of a device from the root down to the device itself."""
        return [self.at(int(vertex)) for vertex in self.device_ancestors[self.check_device(device)]]

    def nodes(self, pool: str | None = None) -> list[Subtree]:
        lo, hi = self.block(Level.NODE)
        vertices = np.arange(lo, hi)
        if pool is not None:
            pool_index = self.pool_index(pool)
            vertices = vertices[self.device_pool[self.dev_lo[lo:hi]] == pool_index]
        return [Subtree(int(v), Level.NODE, self._names[v]) for v in vertices]

    def node_info(self, node: Subtree | str) -> NodeInfo:
        handle = self.subtree(Level.NODE, node) if isinstance(node, str) else node
        vertex = self.check(handle)
        if handle.level is not Level.NODE:
            raise InvalidInputError(f"{handle.name!r} is a {handle.level.label}, not a node", field="node")
        pool = self.pools[int(self.device_pool[self.dev_lo[vertex]])]
        rack = int(self.parent[vertex])
        return NodeInfo(name=self._names[vertex], pool=pool.name, accelerator=pool.accelerator,
                        capacity_type=pool.capacity_type,
                        region=self._names[int(self.device_ancestors[self.dev_lo[vertex], Level.REGION])],
                        zone=self._names[int(self.device_ancestors[self.dev_lo[vertex], Level.ZONE])],
                        spine=self._names[int(self.parent[rack])], rack=self._names[rack],
                        devices=range(int(self.dev_lo[vertex]), int(self.dev_hi[vertex])))

    def pool_index(self, name: str) -> int:
        try:
            return self._pool_index[name]
        except KeyError:
            raise NotFoundError(f"no pool named {name!r} in this topology",
                                hint=f"pools: {', '.join(self._pool_index)}") from None

    def pool(self, name: str) -> PoolInfo:
        return self.pools[self.pool_index(name)]

    def pool_of(self, device: int) -> PoolInfo:
        return self.pools[int(self.device_pool[self.check_device(device)])]

    # -- distance ----------------------------------------------------------------------------

    def distance(self, a: int, b: int) -> Hop:
        """Lowest common ancestor, bottleneck bandwidth and latency between two devices."""
        self.check_device(a)
        self.check_device(b)
        level = int(np.count_nonzero(self.device_ancestors[a] == self.device_ancestors[b])) - 1
        pool_a = int(self.device_pool[a])
        pool_b = int(self.device_pool[b])
        bandwidth = min(self._up_bandwidth[pool_a, level], self._up_bandwidth[pool_b, level])
        latency = self._up_latency[pool_a, level] + self._up_latency[pool_b, level]
        scaleup = pool_a == pool_b and level >= self._scaleup_level[pool_a]
        return Hop(Level(level), float(bandwidth), float(latency), bool(scaleup))

    def distances(self, a: Sequence[int] | npt.ArrayLike, b: Sequence[int] | npt.ArrayLike) -> HopArrays:
        """``distance`` element-wise over equally shaped arrays of device ids (any shape)."""
        ids_a = self._device_array(a)
        ids_b = self._device_array(b)
        if ids_a.shape != ids_b.shape:
            raise InvalidInputError(f"shapes differ: {ids_a.shape} and {ids_b.shape}", field="b")
        equal = self.device_ancestors[ids_a] == self.device_ancestors[ids_b]
        return self._hops(np.count_nonzero(equal, axis=-1) - 1, ids_a, ids_b)

    def distance_matrix(self, devices: Sequence[int] | npt.ArrayLike) -> HopArrays:
        """All-pairs ``distance`` over a list of devices, as ``n`` by ``n`` arrays."""
        ids = self._device_array(devices)
        if ids.ndim != 1:
            raise InvalidInputError("expected a flat list of device ids", field="devices")
        rows = self.device_ancestors[ids]
        equal = rows[:, None, :] == rows[None, :, :]
        ids_a = np.broadcast_to(ids[:, None], (ids.size, ids.size))
        ids_b = np.broadcast_to(ids[None, :], (ids.size, ids.size))
        return self._hops(np.count_nonzero(equal, axis=-1) - 1, ids_a, ids_b)

    def _hops(self, levels: npt.NDArray[np.intp], ids_a: npt.NDArray[np.intp],
              ids_b: npt.NDArray[np.intp]) -> HopArrays:
        pool_a = self.device_pool[ids_a]
        pool_b = self.device_pool[ids_b]
        return HopArrays(
            level=levels.astype(np.int8),
            bandwidth_gbytes_per_s=np.minimum(self._up_bandwidth[pool_a, levels],
                                              self._up_bandwidth[pool_b, levels]),
            latency_us=self._up_latency[pool_a, levels] + self._up_latency[pool_b, levels],
            scaleup=(pool_a == pool_b) & (levels >= self._scaleup_level[pool_a]),
        )

    def _device_array(self, devices: Sequence[int] | npt.ArrayLike) -> npt.NDArray[np.intp]:
        ids = np.asarray(devices, dtype=np.intp)
        if ids.size and (ids.min() < 0 or ids.max() >= self.device_count):
            bad = int(ids[(ids < 0) | (ids >= self.device_count)].flat[0])
            self.check_device(bad)
        return ids

    # -- names -------------------------------------------------------------------------------

    def _name(self, vertex: int, level: Level) -> str:
        if level < Level.DOMAIN:
            return self._names[vertex]
        if level is Level.DOMAIN:
            node = int(self.parent[vertex])
            return f"{self._names[node]}/{DOMAIN_PREFIX}{vertex - int(self.child_lo[node])}"
        device = vertex - self.level_offsets[Level.DEVICE]
        node = int(self.device_ancestors[device, Level.NODE])
        return f"{self._names[node]}/{DEVICE_PREFIX}{device - int(self.dev_lo[node])}"
