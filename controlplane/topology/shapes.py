"""``PoolShape``: the part of an accelerator pool that decides its place and shape in the tree.

A pool lives in one region and zone (a pool that pins no zone gets the synthetic zone
``<region>/any``); pools naming the same zone share that zone's subtree,
each with its own spines and racks. Nodes fill racks in order (``nodes_per_rack``, the last
rack may be partial), racks fill spines (``racks_per_spine``). A node holds
``devices_per_node`` devices split into scale-up domains of ``devices_per_domain`` (``None``:
one domain per node). ``scaleup_level=Level.RACK`` says the whole rack is one scale-up domain
(GB200 NVL72, a TPU slice spread over hosts): the tree keeps its shape and the link model makes
node-to-node traffic inside the rack run at scale-up speed.

Defaults: 4 nodes per rack (a 40 kW rack of 8-GPU HGX servers) and 8 racks per spine (32
nodes, the size of a DGX SuperPOD scalable unit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from controlplane.domain.errors import InvalidInputError
from controlplane.topology.levels import Level
from controlplane.topology.links import LinkOverrides
from jobspecs.pool import AcceleratorPool

DEFAULT_NODES_PER_RACK = 4
DEFAULT_RACKS_PER_SPINE = 8
DEFAULT_REGION = "default"
SCALEUP_LEVELS = (Level.DOMAIN, Level.RACK)


@dataclass(frozen=True, slots=True)
class PoolShape:
    """Shape and placement of one pool's nodes; see the module docstring."""

    name: str
    accelerator: str
    node_count: int
    devices_per_node: int
    region: str = DEFAULT_REGION
    zone: str | None = None
    provider: str = "on-prem"
    capacity_type: str = "on-demand"
    nodes_per_rack: int = DEFAULT_NODES_PER_RACK
    racks_per_spine: int = DEFAULT_RACKS_PER_SPINE
    devices_per_domain: int | None = None
    scaleup_level: Level = Level.DOMAIN
    links: LinkOverrides = field(default_factory=LinkOverrides)

    @property
    def zone_name(self) -> str:
        return self.zone or unpinned_zone(self.region)

    @property
    def rack_count(self) -> int:
        return -(-self.node_count // self.nodes_per_rack)

    @property
    def spine_count(self) -> int:
        return -(-self.rack_count // self.racks_per_spine)

    def validate(self, field_prefix: str = "pool") -> None:
        """Raise ``InvalidInputError`` naming the first field that cannot describe a pool."""
        if not self.name:
            raise InvalidInputError("a pool needs a name", field=f"{field_prefix}.name")
        for name in ("region", "accelerator"):
            if not getattr(self, name):
                raise InvalidInputError(f"pool {self.name!r} needs a {name}", field=f"{field_prefix}.{name}")
        for name in ("node_count", "devices_per_node", "nodes_per_rack", "racks_per_spine"):
            value = getattr(self, name)
            smallest = 0 if name == "node_count" else 1
            if not isinstance(value, int) or value < smallest:
                raise InvalidInputError(f"must be an integer of at least {smallest}, got {value!r}",
                                        field=f"{field_prefix}.{name}")
        if self.scaleup_level not in SCALEUP_LEVELS:
            raise InvalidInputError(
                f"scale-up domains span a node's domain or a whole rack, not a {self.scaleup_level.label}",
                field=f"{field_prefix}.scaleup_level", hint="use Level.DOMAIN or Level.RACK")
        validate_domain_size(self.devices_per_node, self.devices_per_domain, self.scaleup_level,
                             f"{field_prefix}.devices_per_domain")


def unpinned_zone(region: str) -> str:
    """The synthetic zone of pools that pin a region but no zone."""
    return f"{region}/any"


def validate_domain_size(devices_per_node: int, devices_per_domain: int | None, scaleup_level: Level,
                         field_path: str) -> None:
    """Domains must split a node evenly; a rack-scale domain keeps one domain per node."""
    if devices_per_domain is None:
        return
    if devices_per_domain < 1 or devices_per_node % devices_per_domain:
        raise InvalidInputError(
            f"{devices_per_domain} devices per domain do not split a node of {devices_per_node} evenly",
            field=field_path, hint="use a divisor of the devices per node, or leave it unset")
    if scaleup_level is Level.RACK and devices_per_domain != devices_per_node:
        raise InvalidInputError("a rack-scale domain keeps one domain per node", field=field_path,
                                hint="leave devices_per_domain unset when scaleup_level is RACK")


def validate_pool_shapes(pools: Sequence[PoolShape]) -> None:
    """Each pool valid, names unique, each zone in one region only."""
    seen: set[str] = set()
    zone_region: dict[str, str] = {}
    for index, pool in enumerate(pools):
        prefix = f"pools[{index}]"
        pool.validate(prefix)
        if pool.name in seen:
            raise InvalidInputError(f"pool name {pool.name!r} appears twice", field=f"{prefix}.name")
        seen.add(pool.name)
        region = zone_region.setdefault(pool.zone_name, pool.region)
        if region != pool.region:
            raise InvalidInputError(
                f"zone {pool.zone_name!r} is in region {region!r} for another pool, not {pool.region!r}",
                field=f"{prefix}.region", hint="a zone belongs to exactly one region")


GBITS_PER_GBYTE = 8.0


def pool_shape_from_spec(pool: AcceleratorPool, *, devices_per_domain: int | None = None,
                         scaleup_level: Level = Level.DOMAIN) -> PoolShape:
    """The shape of an ``AcceleratorPool`` spec, modelling ``spec.nodes.max`` nodes.

    Units: ``intraNodeGBps`` follows vendor habit like the catalog's ``interconnect_gbps``
    (bidirectional aggregate, NVLink 4 = 900), so it is halved to GB/s per direction;
    ``nodeNetworkGbps`` and ``rackUplinkGbps`` are Gbit/s and are divided by 8. The spec has
    no domain fields, so intra-node domains and rack-scale domains come from the arguments
    (or, at build time, from the accelerator's defaults).
    """
    spec = pool.spec
    topology = spec.topology
    return PoolShape(
        name=pool.metadata.name,
        accelerator=spec.accelerator,
        node_count=spec.nodes.max,
        devices_per_node=spec.devices_per_node,
        region=spec.region,
        zone=spec.zone,
        provider=spec.provider,
        capacity_type=spec.capacity_type,
        nodes_per_rack=topology.nodes_per_rack,
        racks_per_spine=topology.racks_per_spine,
        devices_per_domain=devices_per_domain,
        scaleup_level=scaleup_level,
        links=LinkOverrides(
            scaleup_gbytes_per_s=None if topology.intra_node_gbps is None else topology.intra_node_gbps / 2,
            node_network_gbytes_per_s=_gbits_to_gbytes(topology.node_network_gbps),
            rack_uplink_gbytes_per_s=_gbits_to_gbytes(topology.rack_uplink_gbps),
            spine_oversubscription=topology.spine_oversubscription,
        ),
    )


def _gbits_to_gbytes(value: float | None) -> float | None:
    return None if value is None else value / GBITS_PER_GBYTE
