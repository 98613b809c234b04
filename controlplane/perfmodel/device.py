"""The hardware an estimate runs on: one accelerator type and the links around it.

Owns ``DeviceSpec`` — the few numbers of an accelerator the performance model uses, in units
chosen to be unambiguous: dense peak TFLOPS per precision, HBM in GiB and TB/s, the scale-up
link (NVLink/HCCS/Infinity Fabric) in GB/s *per direction per device*, the scale-out network
in Gbit/s per device — and ``as_device``, which reads any object shaped like the catalog's
``AcceleratorSpec`` (duck-typed, so this package does not import the catalog).

A benchmark or the topology model can replace link figures with measured ones
(``dataclasses.replace(device, intra_node_gb_per_s=160)``) without touching the catalog.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from controlplane.domain.errors import InvalidInputError
from controlplane.perfmodel.shapes import Precision

BYTES_PER_GIB = 2**30


@dataclass(frozen=True)
class DeviceSpec:
    """One accelerator type as the performance model sees it."""

    name: str
    vendor: str
    family: str
    peak_tflops: dict[str, float] = field(hash=False)
    hbm_gib: float
    hbm_tb_per_s: float
    intra_node_gb_per_s: float
    devices_per_node: int
    scale_out_gbit_per_s: float

    def __post_init__(self) -> None:
        if "bf16" not in self.peak_tflops or self.peak_tflops["bf16"] <= 0:
            raise InvalidInputError(f"{self.name}: a positive bf16 peak is required", field="peak_tflops")
        for name in ("hbm_gib", "hbm_tb_per_s", "intra_node_gb_per_s", "scale_out_gbit_per_s"):
            if getattr(self, name) <= 0:
                raise InvalidInputError(f"{self.name}: {name} must be positive", field=name)
        if self.devices_per_node < 1:
            raise InvalidInputError(f"{self.name}: devices_per_node must be positive", field="devices_per_node")

    def supports(self, precision: Precision) -> bool:
        return precision in self.peak_tflops

    def peak_flops(self, precision: Precision) -> float:
        """Dense peak in FLOP/s; FP8 on a device without FP8 runs at its BF16 rate."""
        return self.peak_tflops.get(precision, self.peak_tflops["bf16"]) * 1e12

    def compute_precision(self, precision: Precision) -> Precision:
        """The precision the matrix units actually use for ``precision`` on this device."""
        return precision if precision in self.peak_tflops else "bf16"

    @property
    def hbm_bytes(self) -> float:
        return self.hbm_gib * BYTES_PER_GIB

    @property
    def hbm_bytes_per_s(self) -> float:
        return self.hbm_tb_per_s * 1e12

    @property
    def intra_node_bytes_per_s(self) -> float:
        return self.intra_node_gb_per_s * 1e9

    @property
    def scale_out_bytes_per_s(self) -> float:
        return self.scale_out_gbit_per_s * 1e9 / 8


def as_device(accelerator: Any) -> DeviceSpec:
    """Read a catalog ``AcceleratorSpec`` (or a ``DeviceSpec``) into a ``DeviceSpec``.

    Expected attributes: ``name``, ``vendor``, ``family``, ``bf16_tflops``, ``fp8_tflops``
    (or None), ``hbm_gib``, ``hbm_tbps``, ``interconnect_unidirectional_gbps`` (GB/s, one
    direction), ``devices_per_node``, ``scaleout_gbps_per_device`` (Gbit/s).
    """
    if isinstance(accelerator, DeviceSpec):
        return accelerator
    try:
        peaks = {"bf16": float(accelerator.bf16_tflops), "fp16": float(accelerator.bf16_tflops)}
        fp8 = getattr(accelerator, "fp8_tflops", None)
        if fp8:
            peaks["fp8"] = float(fp8)
        if callable(getattr(accelerator, "peak_tflops", None)):
            peaks["fp32"] = float(accelerator.peak_tflops("fp32"))
        return DeviceSpec(
            name=str(accelerator.name),
            vendor=str(accelerator.vendor),
            family=str(accelerator.family),
            peak_tflops=peaks,
            hbm_gib=float(accelerator.hbm_gib),
            hbm_tb_per_s=float(accelerator.hbm_tbps),
            intra_node_gb_per_s=float(accelerator.interconnect_unidirectional_gbps),
            devices_per_node=int(accelerator.devices_per_node),
            scale_out_gbit_per_s=float(accelerator.scaleout_gbps_per_device),
        )
    except AttributeError as exc:
        raise InvalidInputError(
            f"{accelerator!r} does not look like an accelerator spec: {exc}",
            hint="pass a catalog AcceleratorSpec or a perfmodel DeviceSpec",
        ) from exc
