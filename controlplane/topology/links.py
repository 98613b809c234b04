"""How a pool's link model is derived: pool overrides, then accelerator defaults, then fabric defaults.

Vocabulary (units everywhere: GB/s = gigabytes per second in one direction; µs = microseconds):
- ``AcceleratorLinks``: what an accelerator family brings: its scale-up bandwidth per device
  (NVLink/xGMI/HCCS/ICI) and, when known, its usual scale-out NIC share per device. Looked up
  through an injected ``LinkDefaults`` callable (the accelerator catalog in production, a table
  in tests).
- ``LinkOverrides``: figures a pool spec states explicitly; they win over every default.
- ``FabricDefaults``: the figures nobody states per pool: PCIe between domains of a node,
  switch latencies, cross-zone and cross-region links. They are order-of-magnitude modelling
  defaults, not measurements; override them per deployment.

Derivation of the uplinks of one pool (see ``derive_link_model``):
- device: scale-up bandwidth (pool ``scaleup`` override, else the accelerator's), latency
  ``scaleup_latency_us``.
- domain: ``host_link`` (PCIe Gen5 x16, about 64 GB/s per direction) for domains inside a node;
  the scale-up link for rack-scale domains.
- node: the NIC share per device: pool node network / devices per node, else the accelerator's
  scale-out figure, else ``scaleout_gbytes_per_s`` (400 Gb/s = 50 GB/s per device, one
  ConnectX-7 / EFA rail per GPU). Rack-scale domains use the scale-up link here instead.
- rack: leaf-to-spine share per device: pool rack uplink / devices in a full rack, else
  non-blocking (equal to the NIC share).
- spine: rack share / spine oversubscription (pool value, else ``spine_oversubscription``).
- zone, region: ``cross_zone`` (25 Gb/s per device, 250 µs per side, so about 0.5 ms one way
  between zones) and ``cross_region`` (5 Gb/s per device, the usual single-flow cap between
  cloud regions; 15 ms per side, about 30 ms one way, e.g. US east to west).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from controlplane.domain.errors import InvalidInputError, NotFoundError
from controlplane.topology.levels import Level, LinkModel, LinkSpec


@dataclass(frozen=True, slots=True)
class AcceleratorLinks:
    """Link figures of an accelerator family, GB/s per device in one direction.

    ``domain_devices``: size of its scale-up domain when that is not "all devices of a node":
    fewer (H100 NVL pairs) splits a node into domains, more (GB200 NVL72) makes the rack the
    domain. ``None``: one domain per node.
    """

    scaleup_gbytes_per_s: float
    scaleout_gbytes_per_s: float | None = None
    domain_devices: int | None = None


LinkDefaults = Callable[[str], AcceleratorLinks]
"""Accelerator name -> its link figures; raises ``NotFoundError`` for an unknown accelerator."""


@dataclass(frozen=True, slots=True)
class LinkOverrides:
    """Figures a pool states explicitly. ``None`` means "use the default".

    ``scaleup_gbytes_per_s``: per device, one direction (NVLink/HCCS/ICI).
    ``node_network_gbytes_per_s``: the whole node's scale-out bandwidth, shared by its devices.
    ``rack_uplink_gbytes_per_s``: the whole rack's uplink to its spine, shared by its devices.
    ``spine_oversubscription``: downlink:uplink ratio of a spine switch (1.0 = non-blocking).
    """

    scaleup_gbytes_per_s: float | None = None
    node_network_gbytes_per_s: float | None = None
    rack_uplink_gbytes_per_s: float | None = None
    spine_oversubscription: float | None = None

    def needs_accelerator_defaults(self) -> bool:
        return self.scaleup_gbytes_per_s is None or self.node_network_gbytes_per_s is None


@dataclass(frozen=True, slots=True)
class FabricDefaults:
    """Figures not tied to a pool or an accelerator; see the module docstring for their reasoning."""

    scaleup_latency_us: float = 1.0
    host_link: LinkSpec = field(default_factory=lambda: LinkSpec(64.0, 1.0))
    scaleout_gbytes_per_s: float = 50.0
    nic_latency_us: float = 2.0
    rack_latency_us: float = 1.0
    spine_latency_us: float = 1.0
    spine_oversubscription: float = 1.0
    cross_zone: LinkSpec = field(default_factory=lambda: LinkSpec(3.125, 250.0))
    cross_region: LinkSpec = field(default_factory=lambda: LinkSpec(0.625, 15_000.0))


def table_link_defaults(table: Mapping[str, AcceleratorLinks]) -> LinkDefaults:
    """A ``LinkDefaults`` lookup over a fixed table (case-insensitive names), for tests and
    deployments that pin their own figures."""
    by_name = {name.lower(): links for name, links in table.items()}

    def lookup(accelerator: str) -> AcceleratorLinks:
        try:
            return by_name[accelerator.lower()]
        except KeyError:
            known = ", ".join(sorted(table)) or "none"
            raise NotFoundError(f"no link defaults for accelerator {accelerator!r}",
                                hint=f"known accelerators: {known}") from None

    return lookup


def lookup_accelerator_links(accelerator: str, overrides: LinkOverrides, link_defaults: LinkDefaults,
                             field_path: str) -> AcceleratorLinks | None:
    """The accelerator's figures; ``None`` when it is unknown but the pool states every figure
    the model needs."""
    try:
        return link_defaults(accelerator)
    except NotFoundError as error:
        if not overrides.needs_accelerator_defaults():
            return None
        raise NotFoundError(
            f"no link figures for accelerator {accelerator!r}: {error.message}", field=field_path,
            hint="use a catalogued accelerator name, or state the scale-up and node network "
                 "bandwidths in the pool's topology") from error


def derive_link_model(*, devices_per_node: int, nodes_per_rack: int, scaleup_level: Level,
                      overrides: LinkOverrides, accelerator_links: AcceleratorLinks | None,
                      fabric: FabricDefaults, field_prefix: str = "pool") -> LinkModel:
    """The uplinks of one pool, derived as the module docstring describes."""
    scaleup_bw = overrides.scaleup_gbytes_per_s
    if scaleup_bw is None:
        if accelerator_links is None:
            raise InvalidInputError("no scale-up bandwidth known for this pool",
                                    field=f"{field_prefix}.links.scaleup_gbytes_per_s")
        scaleup_bw = accelerator_links.scaleup_gbytes_per_s
    _require_positive(scaleup_bw, f"{field_prefix}.links.scaleup_gbytes_per_s")

    if overrides.node_network_gbytes_per_s is not None:
        _require_positive(overrides.node_network_gbytes_per_s,
                          f"{field_prefix}.links.node_network_gbytes_per_s")
        nic_bw = overrides.node_network_gbytes_per_s / devices_per_node
    elif accelerator_links is not None and accelerator_links.scaleout_gbytes_per_s:
        nic_bw = accelerator_links.scaleout_gbytes_per_s
    else:
        nic_bw = fabric.scaleout_gbytes_per_s

    rack_bw = nic_bw
    if overrides.rack_uplink_gbytes_per_s is not None:
        _require_positive(overrides.rack_uplink_gbytes_per_s,
                          f"{field_prefix}.links.rack_uplink_gbytes_per_s")
        rack_bw = overrides.rack_uplink_gbytes_per_s / (devices_per_node * nodes_per_rack)

    oversubscription = overrides.spine_oversubscription
    if oversubscription is None:
        oversubscription = fabric.spine_oversubscription
    if oversubscription < 1.0:
        raise InvalidInputError(f"spine oversubscription must be at least 1.0, got {oversubscription}",
                                field=f"{field_prefix}.links.spine_oversubscription",
                                hint="1.0 is a non-blocking fabric; 2.0 means half the uplink bandwidth")

    scaleup = LinkSpec(scaleup_bw, fabric.scaleup_latency_us)
    rack_scale = scaleup_level is Level.RACK
    return LinkModel(
        device=scaleup,
        domain=scaleup if rack_scale else fabric.host_link,
        node=scaleup if rack_scale else LinkSpec(nic_bw, fabric.nic_latency_us),
        rack=LinkSpec(min(rack_bw, nic_bw), fabric.rack_latency_us),
        spine=LinkSpec(min(rack_bw, nic_bw) / oversubscription, fabric.spine_latency_us),
        zone=fabric.cross_zone,
        region=fabric.cross_region,
    )


def _require_positive(value: float, field_path: str) -> None:
    if not value > 0:
        raise InvalidInputError(f"must be a positive bandwidth in GB/s, got {value}", field=field_path)
