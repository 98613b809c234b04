"""How long collectives take: ring and point-to-point formulas over the right link.

Owns ``Link`` (achieved bytes/s and per-step latency of one kind of connection), ``group_link``
(which link a process group uses) and the cost of each collective for one device.

Megatron's rank order is tensor (innermost), context, data/expert, pipeline (outermost). A
group of ``size`` ranks whose consecutive members are ``stride`` ranks apart stays inside one
node when ``size × stride ≤ devices_per_node``; otherwise its traffic crosses the scale-out
network, whose per-device share (one NIC per device on current GPU servers) is the bottleneck.

Formulas (``n`` ranks, ``S`` bytes of the full buffer per rank, ``B`` achieved bandwidth, ``α``
latency per step): all-reduce ``2(n-1)/n·S/B + 2(n-1)α``; reduce-scatter and all-gather
``(n-1)/n·S/B + (n-1)α``; point-to-point ``S/B + α``.
"""

from __future__ import annotations

from dataclasses import dataclass

from controlplane.perfmodel.calibration import Calibration
from controlplane.perfmodel.device import DeviceSpec

INTRA_NODE = "intra-node"
SCALE_OUT = "scale-out"


@dataclass(frozen=True)
class Link:
    kind: str
    bytes_per_s: float
    latency_s: float


def intra_node_link(device: DeviceSpec, calibration: Calibration) -> Link:
    return Link(INTRA_NODE, device.intra_node_bytes_per_s * calibration.intra_node_collective_efficiency,
                calibration.intra_node_latency_s)


def scale_out_link(device: DeviceSpec, calibration: Calibration) -> Link:
    return Link(SCALE_OUT, device.scale_out_bytes_per_s * calibration.scale_out_collective_efficiency,
                calibration.scale_out_latency_s)


def group_link(device: DeviceSpec, calibration: Calibration, *, size: int, stride: int) -> Link:
    """The link a group of ``size`` ranks, ``stride`` apart, communicates over."""
    if size * stride <= device.devices_per_node:
        return intra_node_link(device, calibration)
    return scale_out_link(device, calibration)


def all_reduce(n: int, nbytes: float, link: Link) -> float:
    if n <= 1 or nbytes <= 0:
        return 0.0
    return 2 * (n - 1) / n * nbytes / link.bytes_per_s + 2 * (n - 1) * link.latency_s


def reduce_scatter(n: int, nbytes: float, link: Link) -> float:
    if n <= 1 or nbytes <= 0:
        return 0.0
    return (n - 1) / n * nbytes / link.bytes_per_s + (n - 1) * link.latency_s


all_gather = reduce_scatter


def point_to_point(nbytes: float, link: Link) -> float:
    return nbytes / link.bytes_per_s + link.latency_s if nbytes > 0 else 0.0
