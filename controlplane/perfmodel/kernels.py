"""How long a kernel takes on one device: matrix multiplications, fused attention, streaming.

Owns ``KernelTimer``, a roofline with calibrated ceilings: a GEMM takes the longer of its
FLOPs at ``peak × GEMM efficiency × sustained fraction`` and its operand bytes at ``HBM peak ×
HBM efficiency``, plus a fixed per-kernel overhead. Small or skinny multiplications (decode,
tiny micro-batches, narrow tensor-parallel shards) therefore fall onto the memory roof by
themselves; there is no per-job efficiency anywhere. Fused attention runs at the device's
attention efficiency in 16-bit; memory-bound kernels (norms, activations, softmax, optimizer)
run at HBM speed.
"""

from __future__ import annotations

from dataclasses import dataclass

from controlplane.perfmodel.calibration import Calibration
from controlplane.perfmodel.device import DeviceSpec
from controlplane.perfmodel.flops import Gemm
from controlplane.perfmodel.shapes import Precision

#: GEMMs that stay in 16-bit even in FP8 training (Transformer Engine and DeepSeek-V3 keep the
#: output head and the MoE router in BF16).
HIGH_PRECISION_GEMMS = frozenset({"output_head", "router", "scores", "context"})


@dataclass(frozen=True)
class KernelTimer:
    device: DeviceSpec
    precision: Precision
    calibration: Calibration
    compute_share: float = 1.0
    """Share of the compute units left to compute kernels (the rest run communication)."""

    def _gemm_precision(self, gemm: Gemm) -> Precision:
        if self.precision == "fp8" and gemm.name not in HIGH_PRECISION_GEMMS:
            return self.device.compute_precision("fp8")
        return "fp32" if self.precision == "fp32" else "bf16"

    def gemm_rate(self, precision: Precision) -> float:
        """Sustained FLOP/s of large GEMMs at ``precision``."""
        return (self.device.peak_flops(precision) * self.calibration.gemm_efficiency(self.device, precision)
                * self.calibration.sustained_fraction(self.device) * self.compute_share)

    @property
    def memory_rate(self) -> float:
        return self.device.hbm_bytes_per_s * self.calibration.hbm_efficiency

    def gemm(self, gemm: Gemm) -> float:
        """Seconds for the forward pass of ``gemm`` (one kernel, possibly grouped)."""
        precision = self._gemm_precision(gemm)
        element_bytes = 1.0 if precision == "fp8" else 2.0
        compute = gemm.flops / self.gemm_rate(precision)
        memory = gemm.operand_elements() * element_bytes / self.memory_rate
        return max(compute, memory) + self.calibration.kernel_overhead_s

    def gemms(self, gemms: list[Gemm]) -> float:
        return sum(self.gemm(g) for g in gemms)

    def fused_attention(self, flops: float) -> float:
        """Seconds for ``flops`` of fused attention (always 16-bit)."""
        rate = (self.device.peak_flops("bf16") * self.calibration.attention_efficiency(self.device)
                * self.calibration.sustained_fraction(self.device) * self.compute_share)
        return flops / rate + self.calibration.kernel_overhead_s

    def streaming(self, nbytes: float, kernels: int = 1) -> float:
        """Seconds for memory-bound kernels moving ``nbytes`` in total."""
        return nbytes / self.memory_rate + kernels * self.calibration.kernel_overhead_s
