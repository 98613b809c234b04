"""Levels of the cluster tree and the link model that says what crossing each level costs.

Vocabulary:
- ``Level``: depth in the tree, root first. ``Level.RACK < Level.NODE`` reads "a rack is above a
  node". CLUSTER is the single root; DEVICE is a leaf (one accelerator chip).
- uplink: the link between a subtree at level L and its parent at level L-1. The DEVICE uplink
  is the device's scale-up port (NVLink/xGMI/HCCS/ICI), the NODE uplink its NIC share, and so on.
- ``LinkSpec``: bandwidth in GB/s (gigabytes per second, one direction) *per device* crossing
  that uplink, and the one-way latency in microseconds that crossing it adds.
- ``LinkModel``: the uplinks of one pool, one ``LinkSpec`` per level below CLUSTER.
- ``Hop``: what separates two devices: the level of their lowest common ancestor, the bottleneck
  bandwidth (the smallest uplink bandwidth on the path, GB/s per device) and the one-way latency
  (the sum of the uplink latencies on the way up and down).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum


class Level(IntEnum):
    """Depth in the cluster tree; smaller values are closer to the root."""

    CLUSTER = 0
    REGION = 1
    ZONE = 2
    SPINE = 3
    RACK = 4
    NODE = 5
    DOMAIN = 6
    DEVICE = 7

    @property
    def label(self) -> str:
        return self.name.lower()


LEVELS: tuple[Level, ...] = tuple(Level)
UPLINK_LEVELS: tuple[Level, ...] = tuple(level for level in Level if level is not Level.CLUSTER)


@dataclass(frozen=True, slots=True)
class LinkSpec:
    """One uplink: GB/s per device in one direction, and the one-way latency it adds (µs)."""

    gbytes_per_s: float
    latency_us: float

    def __post_init__(self) -> None:
        if not self.gbytes_per_s > 0:
            raise ValueError(f"link bandwidth must be positive, got {self.gbytes_per_s} GB/s")
        if self.latency_us < 0:
            raise ValueError(f"link latency must not be negative, got {self.latency_us} µs")


@dataclass(frozen=True, slots=True)
class LinkModel:
    """The uplinks of one pool, from the device's scale-up port to the cross-region link.

    ``device``: device to its scale-up domain (NVLink, xGMI, HCCS, ICI).
    ``domain``: domain to the rest of its node (PCIe/host fabric between two domains of a node).
    ``node``: node to its rack (the NIC share of one device); for rack-scale domains
    (GB200 NVL72, TPU slices) this is the scale-up fabric instead.
    ``rack``: leaf switch to spine. ``spine``: spine to the zone core (oversubscribed).
    ``zone``: zone to region (cross-zone). ``region``: region to the rest of the cluster.
    """

    device: LinkSpec
    domain: LinkSpec
    node: LinkSpec
    rack: LinkSpec
    spine: LinkSpec
    zone: LinkSpec
    region: LinkSpec

    def uplink(self, level: Level) -> LinkSpec:
        """The link from a subtree at ``level`` to its parent."""
        if level is Level.CLUSTER:
            raise ValueError("the cluster root has no uplink")
        spec: LinkSpec = getattr(self, level.label)
        return spec

    def bottleneck_below(self, lca: Level) -> tuple[float, float]:
        """(smallest bandwidth, summed latency) of the uplinks one device crosses to reach an
        ancestor at level ``lca``; ``(inf, 0.0)`` when ``lca`` is the device itself."""
        bandwidth = math.inf
        latency = 0.0
        for level in UPLINK_LEVELS:
            if level > lca:
                spec = self.uplink(level)
                bandwidth = min(bandwidth, spec.gbytes_per_s)
                latency += spec.latency_us
        return bandwidth, latency


@dataclass(frozen=True, slots=True)
class Hop:
    """What separates two devices.

    ``level``: level of the lowest common ancestor (DEVICE when both are the same device).
    ``bandwidth_gbytes_per_s``: bottleneck bandwidth per device on the path, GB/s, one direction
    (``inf`` for the same device).
    ``latency_us``: one-way latency of the path in microseconds.
    ``scaleup``: both devices sit in the same scale-up domain (NVLink/HCCS/ICI), so collectives
    between them never touch a NIC.
    """

    level: Level
    bandwidth_gbytes_per_s: float
    latency_us: float
    scaleup: bool
