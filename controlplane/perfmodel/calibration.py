"""Calibration constants of the performance model, read from one versioned data file.

Owns ``Calibration`` (the immutable set of constants) and its loaders. The constants and the
source of each live in ``data/calibration.yaml``; nothing in the model hard-codes an
efficiency. Kernel efficiencies are looked up by accelerator name first, then by family, then
the file's default, so adding an accelerator never needs code.

Vocabulary:
- *GEMM efficiency*: achieved / peak FLOP/s of large matrix multiplications on one device
  (a microbenchmark figure).
- *sustained fraction*: the share of that efficiency a full training step keeps (the one
  constant fitted against end-to-end runs; see the data file).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from controlplane.domain.errors import InvalidInputError
from controlplane.perfmodel.device import DeviceSpec
from controlplane.perfmodel.shapes import Precision

SUPPORTED_SCHEMA_VERSION = 1
DATA_FILE = "calibration.yaml"

EfficiencyTable = Mapping[str, Mapping[str, float]]


@dataclass(frozen=True)
class Calibration:
    """Shared constants of the model (see ``data/calibration.yaml`` for each one's source)."""

    gemm_by_family: EfficiencyTable
    gemm_by_accelerator: EfficiencyTable
    gemm_default: Mapping[str, float]
    attention_to_gemm: float
    sustained_by_family: Mapping[str, float]
    sustained_default: float
    elementwise_bytes_per_stored_byte: float
    hbm_efficiency: float
    intra_node_collective_efficiency: float
    scale_out_collective_efficiency: float
    intra_node_latency_s: float
    scale_out_latency_s: float
    kernel_overhead_s: float
    memory_reserve_bytes: float
    memory_fragmentation: float
    sources: Mapping[str, str] = field(default_factory=dict, hash=False)

    def gemm_efficiency(self, device: DeviceSpec, precision: Precision) -> float:
        """Large-GEMM efficiency of ``device`` at ``precision`` (name → family → default)."""
        key = "fp8" if device.compute_precision(precision) == "fp8" else "bf16"
        for table, lookup in ((self.gemm_by_accelerator, device.name), (self.gemm_by_family, device.family)):
            entry = _casefold_get(table, lookup)
            if entry is not None and key in entry:
                return entry[key]
        return self.gemm_default[key]

    def attention_efficiency(self, device: DeviceSpec) -> float:
        """Fused attention (always 16-bit) forward+backward efficiency."""
        return self.gemm_efficiency(device, "bf16") * self.attention_to_gemm

    def sustained_fraction(self, device: DeviceSpec) -> float:
        """Share of kernel efficiency a training step sustains on ``device``'s family."""
        for family, value in self.sustained_by_family.items():
            if family.casefold() == device.family.casefold():
                return value
        return self.sustained_default

    def with_sustained_fraction(self, value: float, *, family: str | None = None) -> Calibration:
        """A copy with the sustained fraction of ``family`` (or of every family) replaced."""
        if family is None:
            return replace(self, sustained_by_family=MappingProxyType({}), sustained_default=value)
        table = dict(self.sustained_by_family)
        table[family] = value
        return replace(self, sustained_by_family=MappingProxyType(table))

    @classmethod
    def from_document(cls, document: Any, *, origin: str = "<document>") -> Calibration:
        if not isinstance(document, dict):
            raise InvalidInputError(f"{origin}: top level must be a mapping")
        if document.get("schema_version") != SUPPORTED_SCHEMA_VERSION:
            raise InvalidInputError(f"{origin}: unsupported schema_version {document.get('schema_version')!r}",
                                    field="schema_version", hint=f"expected {SUPPORTED_SCHEMA_VERSION}")
        try:
            gemm = document["gemm_efficiency"]
            collective = document["collective_efficiency"]
            latency = document["collective_latency_us"]
            sustained = document["sustained_fraction"]
            calibration = cls(
                gemm_by_family=_efficiency_table(gemm.get("families", {}), origin),
                gemm_by_accelerator=_efficiency_table(gemm.get("accelerators", {}), origin),
                gemm_default=MappingProxyType(_efficiencies(gemm["default"], f"{origin}: default")),
                attention_to_gemm=_fraction(document["attention_to_gemm"], "attention_to_gemm"),
                sustained_by_family=MappingProxyType({
                    str(k): _fraction(v, f"sustained_fraction.{k}") for k, v in sustained["families"].items()}),
                sustained_default=_fraction(sustained["default"], "sustained_fraction.default"),
                elementwise_bytes_per_stored_byte=float(document["elementwise_bytes_per_stored_byte"]),
                hbm_efficiency=_fraction(document["hbm_efficiency"], "hbm_efficiency"),
                intra_node_collective_efficiency=_fraction(collective["intra_node"], "collective.intra_node"),
                scale_out_collective_efficiency=_fraction(collective["scale_out"], "collective.scale_out"),
                intra_node_latency_s=float(latency["intra_node"]) * 1e-6,
                scale_out_latency_s=float(latency["scale_out"]) * 1e-6,
                kernel_overhead_s=float(document["kernel_overhead_us"]) * 1e-6,
                memory_reserve_bytes=float(document["memory_reserve_gib"]) * 2**30,
                memory_fragmentation=_fraction(document["memory_fragmentation"], "memory_fragmentation",
                                               allow_zero=True),
                sources=MappingProxyType({
                    "gemm_efficiency": str(gemm.get("source", "")),
                    "attention_to_gemm": str(document.get("attention_to_gemm_source", "")),
                    "sustained_fraction": str(sustained.get("fit", "")),
                }),
            )
        except (KeyError, TypeError) as exc:
            raise InvalidInputError(f"{origin}: missing or malformed calibration entry {exc}") from exc
        if "bf16" not in calibration.gemm_default or "fp8" not in calibration.gemm_default:
            raise InvalidInputError(f"{origin}: gemm_efficiency.default needs bf16 and fp8", field="default")
        return calibration

    @classmethod
    def from_path(cls, path: str | Path) -> Calibration:
        path = Path(path)
        return cls.from_document(yaml.safe_load(path.read_text(encoding="utf-8")), origin=str(path))


@functools.cache
def default_calibration() -> Calibration:
    """The shipped constants, parsed once per process (immutable, so sharing is safe)."""
    text = resources.files("controlplane.perfmodel.data").joinpath(DATA_FILE).read_text("utf-8")
    return Calibration.from_document(yaml.safe_load(text), origin=DATA_FILE)


def _casefold_get(table: EfficiencyTable, key: str) -> Mapping[str, float] | None:
    wanted = key.casefold()
    for name, entry in table.items():
        if name.casefold() == wanted:
            return entry
    return None


def _efficiency_table(raw: Any, origin: str) -> EfficiencyTable:
    if not isinstance(raw, dict):
        raise InvalidInputError(f"{origin}: efficiency table must be a mapping")
    return MappingProxyType({str(k): MappingProxyType(_efficiencies(v, f"{origin}: {k}")) for k, v in raw.items()})


def _efficiencies(raw: Any, where: str) -> dict[str, float]:
    if not isinstance(raw, dict) or not raw:
        raise InvalidInputError(f"{where}: expected a mapping of precision to efficiency")
    return {str(k): _fraction(v, f"{where}.{k}") for k, v in raw.items()}


def _fraction(value: Any, name: str, *, allow_zero: bool = False) -> float:
    number = float(value)
    low_ok = number >= 0 if allow_zero else number > 0
    if not low_ok or number > 1:
        raise InvalidInputError(f"{name} must be a fraction in (0, 1], got {value!r}", field=name)
    return number
