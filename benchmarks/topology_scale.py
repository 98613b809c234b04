"""Benchmark: the cluster topology model at 10,000 nodes x 8 devices.

Claim: the array-based tree with incrementally maintained free counters builds in well under a
second and answers capacity, fragmentation and distance queries far faster than recomputing
from device state. Baselines, measured in the same run on the same cluster and workload:

- "objects": one Python object per vertex and per device (the obvious design), with free
  counts recomputed by scanning devices when asked and distances found by walking parents;
- "rescan": the same arrays as ours, but free counts recomputed per query with a vectorised
  NumPy pass over all 80,000 devices (``np.bincount`` per level) instead of kept up to date.

Workload: four H100 pools of 2,500 nodes (two regions, four zones, catalog link figures), filled
to about half with random jobs; then cycles of: allocate 1-8 free devices of a random node,
read the free count of its zone and the fragmentation of every level, release the job.

Run: ``.venv/bin/python benchmarks/topology_scale.py``
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from controlplane.topology import Level, LinkModel, PoolShape, Topology, build_topology, catalog_link_defaults

NODES_PER_POOL = 2_500
DEVICES_PER_NODE = 8
DISTANCE_QUERIES = 10_000
CYCLES = 10_000
NAIVE_CYCLES = 100
RESCAN_CYCLES = 1_000
FRAGMENTATION_LEVELS = [level for level in Level if level is not Level.DEVICE]


def pool_shapes() -> list[PoolShape]:
    return [PoolShape(name=f"h100-{k}", accelerator="H100", node_count=NODES_PER_POOL,
                      devices_per_node=DEVICES_PER_NODE, region=f"region-{k // 2}", zone=f"zone-{k}")
            for k in range(4)]


# -- the "objects" baseline ---------------------------------------------------------------------


@dataclass(eq=False)
class Vertex:
    name: str
    level: Level
    parent: Vertex | None
    link: LinkModel
    children: list[Vertex] = field(default_factory=list)
    owner: str | None = None


class ObjectTree:
    """One object per vertex; nothing maintained, everything recomputed when asked."""

    def __init__(self, pools: list[PoolShape], links: dict[str, LinkModel]) -> None:
        self.root = Vertex("cluster", Level.CLUSTER, None, links[pools[0].name])
        self.devices: list[Vertex] = []
        self.by_name: dict[str, Vertex] = {}
        for pool in pools:
            link = links[pool.name]
            region = self._child(self.root, pool.region, Level.REGION, link)
            zone = self._child(region, pool.zone_name, Level.ZONE, link)
            for n in range(pool.node_count):
                rack_index = n // pool.nodes_per_rack
                spine = self._child(zone, f"{pool.name}-s{rack_index // pool.racks_per_spine:02d}", Level.SPINE, link)
                rack = self._child(spine, f"{pool.name}-r{rack_index:03d}", Level.RACK, link)
                node = self._child(rack, f"{pool.name}-n{n:04d}", Level.NODE, link)
                domain = self._child(node, f"{node.name}/dom0", Level.DOMAIN, link)
                for d in range(pool.devices_per_node):
                    device = self._child(domain, f"{node.name}/dev{d}", Level.DEVICE, link)
                    self.devices.append(device)

    def _child(self, parent: Vertex, name: str, level: Level, link: LinkModel) -> Vertex:
        existing = self.by_name.get(name)
        if existing is None:
            existing = Vertex(name, level, parent, link)
            parent.children.append(existing)
            self.by_name[name] = existing
        return existing

    def ancestors(self, vertex: Vertex) -> list[Vertex]:
        chain = []
        current: Vertex | None = vertex
        while current is not None:
            chain.append(current)
            current = current.parent
        return chain

    def distance(self, a: int, b: int) -> tuple[Level, float, float]:
        up_a, up_b = self.ancestors(self.devices[a]), self.ancestors(self.devices[b])
        common = {id(vertex) for vertex in up_b}
        lca = next(vertex for vertex in up_a if id(vertex) in common)
        bandwidth, latency = float("inf"), 0.0
        for chain in (up_a, up_b):
            for vertex in chain:
                if vertex is lca:
                    break
                spec = vertex.link.uplink(vertex.level)
                bandwidth = min(bandwidth, spec.gbytes_per_s)
                latency += spec.latency_us
        return lca.level, bandwidth, latency

    def free_under(self, vertex: Vertex) -> int:
        if vertex.level is Level.DEVICE:
            return int(vertex.owner is None)
        return sum(self.free_under(child) for child in vertex.children)

    def fragmentation(self) -> dict[Level, tuple[int, int]]:
        counts: dict[int, int] = {}
        for device in self.devices:
            if device.owner is None:
                for vertex in self.ancestors(device):
                    counts[id(vertex)] = counts.get(id(vertex), 0) + 1
        largest: dict[Level, int] = {}
        for vertex in self.by_name.values():
            largest[vertex.level] = max(largest.get(vertex.level, 0), counts.get(id(vertex), 0))
        total = counts.get(id(self.root), 0)
        return {level: (total, largest.get(level, 0)) for level in FRAGMENTATION_LEVELS if level > Level.CLUSTER}


# -- the "rescan" baseline ----------------------------------------------------------------------


def rescan_counts(topology: Topology, free_mask: np.ndarray) -> dict[Level, np.ndarray]:
    """Free devices per subtree at every level, recomputed from the device mask."""
    counts: dict[Level, np.ndarray] = {}
    for level in FRAGMENTATION_LEVELS:
        lo, hi = topology.tree.block(level)
        counts[level] = np.bincount(topology.tree.device_ancestors[:, level] - lo, weights=free_mask,
                                    minlength=hi - lo)
    return counts


# -- measurement --------------------------------------------------------------------------------


def timed(action: Callable[[], object], repeats: int = 1) -> float:
    """Median wall time of ``action`` in seconds."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def fill_half(topology: Topology, rng: np.random.Generator) -> None:
    node_base = topology.tree.level_offsets[Level.NODE]
    for job in range(topology.count(Level.NODE)):
        node = topology.tree.at(node_base + int(rng.integers(0, topology.count(Level.NODE))))
        free = topology.free_device_ids(node, limit=int(rng.integers(1, DEVICES_PER_NODE + 1)))
        if free:
            topology.allocate(free, owner=f"fill-{job}")


def cycle_plan(topology: Topology, rng: np.random.Generator, count: int) -> list[tuple[list[int], int]]:
    """(devices to allocate, zone vertex) for each cycle, chosen up front so every variant runs
    the same workload."""
    node_base = topology.tree.level_offsets[Level.NODE]
    plan: list[tuple[list[int], int]] = []
    while len(plan) < count:
        node = topology.tree.at(node_base + int(rng.integers(0, topology.count(Level.NODE))))
        free = topology.free_device_ids(node, limit=int(rng.integers(1, DEVICES_PER_NODE + 1)))
        if free:
            plan.append((free, int(topology.tree.device_ancestors[free[0], Level.ZONE])))
    return plan


def main() -> None:
    rng = np.random.default_rng(2024)
    pools = pool_shapes()
    links = catalog_link_defaults()
    build_s = timed(lambda: build_topology(pools, link_defaults=links), repeats=5)
    topology = build_topology(pools, link_defaults=links)
    link_models = {pool.name: pool.link_model for pool in topology.pools}
    objects_build_s = timed(lambda: ObjectTree(pools, link_models), repeats=3)
    objects = ObjectTree(pools, link_models)

    pairs = rng.integers(0, topology.device_count, size=(DISTANCE_QUERIES, 2)).tolist()
    distance_s = timed(lambda: [topology.distance(a, b) for a, b in pairs], repeats=3)
    pair_array = np.array(pairs)
    batch_s = timed(lambda: topology.distances(pair_array[:, 0], pair_array[:, 1]), repeats=3)
    objects_distance_s = timed(lambda: [objects.distance(a, b) for a, b in pairs])
    for a, b in pairs[:500]:
        hop, (level, bandwidth, latency) = topology.distance(a, b), objects.distance(a, b)
        assert (hop.level, hop.bandwidth_gbytes_per_s, hop.latency_us) == (level, bandwidth, latency)

    fill_half(topology, rng)
    for device in range(topology.device_count):
        objects.devices[device].owner = topology.owner_of(device)
    plan = cycle_plan(topology, rng, CYCLES)
    zones = {vertex: topology.tree.at(vertex) for _, vertex in plan}

    def ours(steps: list[tuple[list[int], int]]) -> None:
        for devices, zone in steps:
            topology.allocate(devices, "bench")
            topology.free_devices(zones[zone])
            topology.fragmentation(FRAGMENTATION_LEVELS)
            topology.release(devices)

    free_mask = np.array([topology.is_free(d) for d in range(topology.device_count)], dtype=np.float64)

    def rescan(steps: list[tuple[list[int], int]]) -> None:
        zone_lo = topology.tree.level_offsets[Level.ZONE]
        for devices, zone in steps:
            free_mask[devices] = 0.0
            counts = rescan_counts(topology, free_mask)
            _ = counts[Level.ZONE][zone - zone_lo]
            _ = {level: (int(c.sum()), int(c.max())) for level, c in counts.items()}
            free_mask[devices] = 1.0

    def naive(steps: list[tuple[list[int], int]]) -> None:
        for devices, zone in steps:
            for device in devices:
                objects.devices[device].owner = "bench"
            objects.free_under(objects.by_name[zones[zone].name])
            objects.fragmentation()
            for device in devices:
                objects.devices[device].owner = None

    cycle_s = timed(lambda: ours(plan)) / CYCLES
    rescan_s = timed(lambda: rescan(plan[:RESCAN_CYCLES])) / RESCAN_CYCLES
    naive_s = timed(lambda: naive(plan[:NAIVE_CYCLES])) / NAIVE_CYCLES
    free_query_s = timed(lambda: [topology.free_devices(zones[z]) for _, z in plan], repeats=3) / CYCLES
    naive_free_s = timed(lambda: [objects.free_under(objects.by_name[zones[z].name])
                                  for _, z in plan[:NAIVE_CYCLES]]) / NAIVE_CYCLES
    fragmentation_s = timed(lambda: [topology.fragmentation(FRAGMENTATION_LEVELS) for _ in range(1_000)],
                            repeats=3) / 1_000
    rescan_fragmentation_s = timed(lambda: [rescan_counts(topology, free_mask) for _ in range(200)],
                                   repeats=3) / 200
    snapshot_s = timed(lambda: [topology.snapshot() for _ in range(100)], repeats=3) / 100
    figures = topology.fragmentation(FRAGMENTATION_LEVELS)
    naive_figures = objects.fragmentation()
    for level, (total, largest) in naive_figures.items():
        assert (figures[level].total_free, figures[level].largest_free_block) == (total, largest), level

    rows = [
        ("build 10,000 nodes x 8 devices", build_s, objects_build_s, "objects"),
        (f"{DISTANCE_QUERIES:,} distance queries (one by one)", distance_s, objects_distance_s, "objects"),
        (f"{DISTANCE_QUERIES:,} distance queries (vectorised)", batch_s, objects_distance_s, "objects"),
        ("free devices of a zone (per query)", free_query_s, naive_free_s, "objects"),
        ("fragmentation, 7 levels (per query)", fragmentation_s, rescan_fragmentation_s, "rescan"),
        ("alloc + zone free + fragmentation + release (per cycle)", cycle_s, rescan_s, "rescan"),
        ("alloc + zone free + fragmentation + release (per cycle)", cycle_s, naive_s, "objects"),
    ]
    print(f"topology_scale: {topology.device_count:,} devices, {topology.count(Level.NODE):,} nodes, "
          f"{topology.count(Level.RACK):,} racks, {topology.count(Level.SPINE):,} spines; "
          f"{80_000 - topology.free_devices(topology.root):,} devices held by background jobs")
    print(f"python {platform.python_version()}, numpy {np.__version__}, {cpu_model()}, "
          f"{os.cpu_count()} logical CPUs")
    print(f"cycles: ours {CYCLES:,}, rescan {RESCAN_CYCLES:,}, objects {NAIVE_CYCLES:,}; "
          f"snapshot() copy: {snapshot_s * 1e3:.2f} ms\n")
    print("| operation | ours | baseline | baseline time | speedup |")
    print("|---|---:|---|---:|---:|")
    for name, ours_s, base_s, base in rows:
        print(f"| {name} | {format_seconds(ours_s)} | {base} | {format_seconds(base_s)} | {base_s / ours_s:,.1f}x |")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def format_seconds(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


if __name__ == "__main__":
    main()
