"""Builders of the cluster tree: from pool shapes (the plan) and from live node labels (the truth).

Both builders reduce their input to an ordered list of ``NodePlacement`` (where each node sits,
how many devices it has, how they split into domains) plus one ``PoolInfo`` per pool, and hand
it to ``assemble``, which numbers vertices level by level in depth-first order (regions, zones,
spines and racks in order of first appearance; nodes in input order within their rack) and
lays the tree out as arrays. Node naming is deterministic: pool shapes give ``<pool>-n0003``
in racks ``<pool>-r002`` under spines ``<pool>-s01``; live nodes keep their own names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from controlplane.domain.errors import InvalidInputError
from controlplane.topology import labels as label_keys
from controlplane.topology.labels import NodeLabels, rack_fallback, spine_fallback
from controlplane.topology.levels import LEVELS, Level
from controlplane.topology.links import (
    AcceleratorLinks,
    FabricDefaults,
    LinkDefaults,
    LinkOverrides,
    derive_link_model,
    lookup_accelerator_links,
)
from controlplane.topology.shapes import (
    DEFAULT_REGION,
    PoolShape,
    unpinned_zone,
    validate_pool_shapes,
)
from controlplane.topology.topology import Topology
from controlplane.topology.tree import PoolInfo, TopologyTree

ROOT_NAME = "cluster"


@dataclass(frozen=True, slots=True)
class NodePlacement:
    """One node as the assembler needs it; ``pool`` indexes the pool list."""

    name: str
    pool: int
    region: str
    zone: str
    spine: str
    rack: str
    devices: int
    devices_per_domain: int


def build_topology(pools: Sequence[PoolShape], *, link_defaults: LinkDefaults,
                   fabric: FabricDefaults | None = None) -> Topology:
    """The tree of a set of pools, every device free. Pools with zero nodes are listed in
    ``Topology.pools`` but add no vertices."""
    validate_pool_shapes(pools)
    fabric = fabric or FabricDefaults()
    infos: list[PoolInfo] = []
    placements: list[NodePlacement] = []
    for index, pool in enumerate(pools):
        prefix = f"pools[{index}]"
        accelerator_links = lookup_accelerator_links(pool.accelerator, pool.links, link_defaults,
                                                     f"{prefix}.accelerator")
        domain_size, scaleup_level = resolve_domains(pool.devices_per_node, pool.devices_per_domain,
                                                     pool.scaleup_level, accelerator_links)
        infos.append(_pool_info(pool, scaleup_level, accelerator_links, fabric, prefix))
        zone = pool.zone_name
        spines = [f"{pool.name}-s{s:02d}" for s in range(pool.spine_count)]
        racks = [f"{pool.name}-r{r:03d}" for r in range(pool.rack_count)]
        for n in range(pool.node_count):
            rack = n // pool.nodes_per_rack
            placements.append(NodePlacement(
                name=f"{pool.name}-n{n:04d}", pool=index, region=pool.region, zone=zone,
                spine=spines[rack // pool.racks_per_spine], rack=racks[rack],
                devices=pool.devices_per_node, devices_per_domain=domain_size))
    return Topology(assemble(placements, infos), None)


def build_topology_from_nodes(nodes: Sequence[NodeLabels], *, link_defaults: LinkDefaults,
                              pools: Sequence[PoolShape] = (),
                              fabric: FabricDefaults | None = None) -> Topology:
    """The tree of a live cluster from its nodes' labels (see ``controlplane.topology.labels``).

    ``pools`` optionally gives the registered pool shapes by name: their provider, link
    overrides and domain layout then apply to the nodes labelled with that pool. Node counts,
    racks and spines always come from the labels.
    """
    fabric = fabric or FabricDefaults()
    shapes = {shape.name: shape for shape in pools}
    infos: list[PoolInfo] = []
    pool_index: dict[str, int] = {}
    domain_layout: dict[str, tuple[int, Level]] = {}
    placements: list[NodePlacement] = []
    seen_names: set[str] = set()
    for position, node in enumerate(nodes):
        prefix = f"nodes[{position}]"
        if not node.name or node.name in seen_names:
            raise InvalidInputError(f"node name {node.name!r} is empty or repeated", field=f"{prefix}.name")
        seen_names.add(node.name)
        values = {key: node.get(key) for key in label_keys.REQUIRED}
        for key, value in values.items():
            if value is None:
                raise InvalidInputError(f"node {node.name!r} has no {key} label",
                                        field=f"{prefix}.labels[{key!r}]",
                                        hint="label every Suanli node with its pool, accelerator and devices")
        pool_name, accelerator = str(values[label_keys.POOL]), str(values[label_keys.ACCELERATOR])
        devices = _positive_int(str(values[label_keys.DEVICES]), f"{prefix}.labels[{label_keys.DEVICES!r}]")
        region = node.get(label_keys.REGION) or node.get(label_keys.KUBERNETES_REGION) or DEFAULT_REGION
        zone = node.get(label_keys.ZONE) or node.get(label_keys.KUBERNETES_ZONE) or unpinned_zone(region)
        shape = shapes.get(pool_name)
        capacity_type = node.get(label_keys.CAPACITY_TYPE) or (shape.capacity_type if shape else "on-demand")
        if pool_name not in pool_index:
            links = shape.links if shape else LinkOverrides()
            accelerator_links = lookup_accelerator_links(accelerator, links, link_defaults,
                                                         f"{prefix}.labels[{label_keys.ACCELERATOR!r}]")
            domain_layout[pool_name] = resolve_domains(
                devices, shape.devices_per_domain if shape else None,
                shape.scaleup_level if shape else Level.DOMAIN, accelerator_links)
            template = PoolShape(
                name=pool_name, accelerator=accelerator, node_count=1,
                devices_per_node=shape.devices_per_node if shape else devices, region=region, zone=zone,
                provider=shape.provider if shape else "unknown", capacity_type=capacity_type,
                nodes_per_rack=shape.nodes_per_rack if shape else 1, links=links)
            pool_index[pool_name] = len(infos)
            infos.append(_pool_info(template, domain_layout[pool_name][1], accelerator_links, fabric, prefix))
        info = infos[pool_index[pool_name]]
        for what, expected, actual in (("accelerator", info.accelerator, accelerator),
                                       ("capacity type", info.capacity_type, capacity_type)):
            if expected != actual:
                raise InvalidInputError(
                    f"node {node.name!r} has {what} {actual!r} but pool {pool_name!r} has {expected!r}",
                    field=f"{prefix}.labels", hint="a pool's nodes share one accelerator and capacity type")
        domain_size, scaleup_level = domain_layout[pool_name]
        if scaleup_level is Level.RACK or devices % domain_size:
            domain_size = devices
        placements.append(NodePlacement(
            name=node.name, pool=pool_index[pool_name], region=region, zone=zone,
            spine=node.get(label_keys.SPINE) or spine_fallback(zone),
            rack=node.get(label_keys.RACK) or rack_fallback(node.name),
            devices=devices, devices_per_domain=domain_size))
    return Topology(assemble(placements, infos), None)


def resolve_domains(devices_per_node: int, devices_per_domain: int | None, scaleup_level: Level,
                    accelerator_links: AcceleratorLinks | None) -> tuple[int, Level]:
    """(devices per intra-node domain, scale-up level): the pool's own choice, else the
    accelerator family's domain size, else one domain per node."""
    if devices_per_domain is not None or scaleup_level is Level.RACK:
        return devices_per_domain or devices_per_node, scaleup_level
    family = accelerator_links.domain_devices if accelerator_links else None
    if family is not None and family > devices_per_node:
        return devices_per_node, Level.RACK
    if family is not None and devices_per_node % family == 0:
        return family, Level.DOMAIN
    return devices_per_node, Level.DOMAIN


def assemble(placements: Sequence[NodePlacement], pools: Sequence[PoolInfo]) -> TopologyTree:
    """Lay the nodes out as a ``TopologyTree`` (see the module docstring for the numbering)."""
    hierarchy: dict[str, dict[str, dict[str, dict[str, list[int]]]]] = {}
    owner_of: dict[Level, dict[str, str]] = {Level.ZONE: {}, Level.SPINE: {}, Level.RACK: {}}
    for index, node in enumerate(placements):
        for level, name, parent in ((Level.ZONE, node.zone, node.region),
                                    (Level.SPINE, node.spine, node.zone),
                                    (Level.RACK, node.rack, node.spine)):
            known = owner_of[level].setdefault(name, parent)
            if known != parent:
                raise InvalidInputError(
                    f"{level.label} {name!r} of node {node.name!r} is under {parent!r}, "
                    f"but another node puts it under {known!r}",
                    field=f"nodes[{index}]", hint=f"{level.label} names must be unique across the cluster")
        zones = hierarchy.setdefault(node.region, {})
        spines = zones.setdefault(node.zone, {})
        racks = spines.setdefault(node.spine, {})
        racks.setdefault(node.rack, []).append(index)

    names: list[str] = [ROOT_NAME]
    parents: list[int] = [-1]
    offsets = [0, 1]
    frontier: list[tuple[int, object]] = [(0, hierarchy)]
    for _level in (Level.REGION, Level.ZONE, Level.SPINE, Level.RACK):
        next_frontier: list[tuple[int, object]] = []
        for parent_vertex, children in frontier:
            assert isinstance(children, dict)
            for name, subtree in children.items():
                next_frontier.append((len(names), subtree))
                names.append(name)
                parents.append(parent_vertex)
        frontier = next_frontier
        offsets.append(len(names))
    if len({node.name for node in placements}) != len(placements):
        raise InvalidInputError("node names repeat", field="nodes", hint="every node needs a unique name")
    node_order: list[int] = []
    for rack_vertex, members in frontier:
        assert isinstance(members, list)
        for index in members:
            names.append(placements[index].name)
            parents.append(rack_vertex)
            node_order.append(index)
    offsets.append(len(names))

    node_vertices = np.arange(offsets[Level.NODE], offsets[Level.NODE + 1], dtype=np.int32)
    node_devices = np.array([placements[i].devices for i in node_order], dtype=np.int32)
    domain_sizes_per_node = np.array([placements[i].devices_per_domain for i in node_order], dtype=np.int32)
    node_pools = np.array([placements[i].pool for i in node_order], dtype=np.int16)
    domains_per_node = node_devices // np.maximum(domain_sizes_per_node, 1)
    domain_parents = np.repeat(node_vertices, domains_per_node)
    domain_vertices = np.arange(offsets[-1], offsets[-1] + domain_parents.size, dtype=np.int32)
    offsets.append(offsets[-1] + domain_parents.size)
    device_parents = np.repeat(domain_vertices, np.repeat(domain_sizes_per_node, domains_per_node))
    offsets.append(offsets[-1] + device_parents.size)

    upper_parents = np.array(parents, dtype=np.int32)
    parent_of = np.concatenate([upper_parents, domain_parents, device_parents]).astype(np.int32)
    device_count = device_parents.size
    ancestors = np.empty((device_count, len(LEVELS)), dtype=np.int32)
    ancestors[:, Level.DEVICE] = np.arange(offsets[Level.DEVICE], offsets[Level.DEVICE] + device_count)
    for level in reversed(LEVELS[:-1]):
        ancestors[:, level] = parent_of[ancestors[:, level + 1]]
    return TopologyTree(level_offsets=offsets, parent=parent_of, names=names, device_ancestors=ancestors,
                        device_pool=np.repeat(node_pools, node_devices), pools=pools)


def _pool_info(pool: PoolShape, scaleup_level: Level, accelerator_links: AcceleratorLinks | None,
               fabric: FabricDefaults, prefix: str) -> PoolInfo:
    link_model = derive_link_model(devices_per_node=pool.devices_per_node, nodes_per_rack=pool.nodes_per_rack,
                                   scaleup_level=scaleup_level, overrides=pool.links,
                                   accelerator_links=accelerator_links, fabric=fabric, field_prefix=prefix)
    return PoolInfo(name=pool.name, provider=pool.provider, accelerator=pool.accelerator,
                    capacity_type=pool.capacity_type, region=pool.region, zone=pool.zone_name,
                    scaleup_level=scaleup_level, link_model=link_model)


def _positive_int(text: str, field_path: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise InvalidInputError(f"expected a positive device count, got {text!r}", field=field_path)
    return value
