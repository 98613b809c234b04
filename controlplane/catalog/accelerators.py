"""The accelerator catalog: what each accelerator type can do, read from versioned data.

This module owns :class:`AcceleratorSpec` (one accelerator type's per-device figures), the
:class:`AcceleratorCatalog` that loads and validates ``data/accelerators.yaml``, and the name
resolution every other part of Suanli uses to turn what a user typed ("H100", "h100_80gb",
"nvidia-tesla-a100", "trillium") into one canonical type name ("H100-SXM", "A100-40GB",
"TPU-v6e").

Vocabulary:
- *canonical name*: the ``name`` of a catalog entry; the only spelling stored anywhere else.
- *alias*: another spelling of the same type. Matching ignores case and every character that
  is not a letter or digit, and a leading vendor word ("nvidia", "amd", "tesla", ...).
- *dense TFLOPS*: peak tensor throughput without 2:4 structured sparsity.

Policy: unqualified "A100" is the 40 GB part (as in AWS, GCP, Azure and SkyPilot naming) and
unqualified "H100" is the SXM5 part; both choices are recorded in the YAML header.

The module-level functions use one lazily built default catalog (``functools.cache``); that is
safe because a catalog is immutable. Code that needs another catalog (tests, a user-supplied
file) builds an :class:`AcceleratorCatalog` and passes it along.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from controlplane.domain.errors import InvalidInputError

SUPPORTED_SCHEMA_VERSION = 1
VENDORS = frozenset({"nvidia", "amd", "huawei", "google", "aws", "cambricon"})
CATALOG_LIST_HINT = "run `suanli catalog accelerators` for the full list"

#: Used by :meth:`AcceleratorSpec.peak_tflops` for "fp32" when the vendor publishes no FP32
#: rate (TPUs, Ascend, Blackwell here). 1/16 of dense BF16 is the H100 and A100 ratio of
#: vector FP32 to dense BF16 tensor throughput, and lower than every other entry's ratio, so
#: it errs on the slow side.
FP32_FALLBACK_FRACTION = 1 / 16

#: TF32 (and other 19-bit tensor formats) run at half the dense BF16 rate on NVIDIA Ampere,
#: Hopper and Blackwell and on AMD CDNA3; we apply the same ratio everywhere.
TF32_FRACTION = 1 / 2

PRECISIONS = ("bf16", "fp16", "fp8", "tf32", "fp32")

_VENDOR_WORDS = ("nvidia", "tesla", "amd", "instinct", "huawei", "google", "gcp", "aws", "amazon",
                 "cambricon")
_NUMERIC_FIELDS = ("bf16_tflops", "fp8_tflops", "fp32_tflops", "hbm_gib", "hbm_tbps",
                   "interconnect_gbps", "devices_per_node", "tdp_watts", "scaleout_gbps_per_device")
_OPTIONAL_NUMERIC = frozenset({"fp8_tflops", "fp32_tflops"})
_REQUIRED_TEXT = ("name", "vendor", "family", "interconnect")
_OPTIONAL_TEXT = ("memory_type", "notes")
_ALLOWED_KEYS = frozenset(_NUMERIC_FIELDS + _REQUIRED_TEXT + _OPTIONAL_TEXT + ("aliases", "sources"))


def normalize_accelerator_key(name: str) -> str:
    """The matching key of a spelling: lower case, letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


class UnknownAcceleratorError(InvalidInputError):
    """An accelerator name that matches no catalog entry or alias."""

    code = "unknown_accelerator"

    def __init__(self, name: str, suggestions: Iterable[str], *, field: str | None = None) -> None:
        self.name = name
        self.suggestions = tuple(suggestions)
        nearest = f"; nearest matches: {', '.join(self.suggestions)}" if self.suggestions else ""
        super().__init__(f"unknown accelerator {name!r}{nearest}", field=field, hint=CATALOG_LIST_HINT,
                         details={"name": name, "suggestions": list(self.suggestions)})


class CatalogDataError(InvalidInputError):
    """A catalog data file that breaks the schema; ``field`` names the offending entry."""

    code = "invalid_catalog"


@dataclass(frozen=True)
class AcceleratorSpec:
    """One accelerator type's per-device figures. See the YAML header for every convention."""

    name: str
    vendor: str
    family: str
    bf16_tflops: float
    fp8_tflops: float | None
    hbm_gib: float
    hbm_tbps: float
    interconnect: str
    interconnect_gbps: float
    devices_per_node: int
    tdp_watts: float
    scaleout_gbps_per_device: float
    aliases: tuple[str, ...] = ()
    sources: Mapping[str, str] = field(default_factory=dict, hash=False)
    fp32_tflops: float | None = None
    memory_type: str = "HBM"
    notes: str = ""

    @property
    def interconnect_unidirectional_gbps(self) -> float:
        """GB/s one way: half the bidirectional aggregate vendors quote."""
        return self.interconnect_gbps / 2

    @property
    def hbm_bytes(self) -> int:
        return int(self.hbm_gib * 2**30)

    @property
    def hbm_bytes_per_second(self) -> float:
        return self.hbm_tbps * 1e12

    def peak_tflops(self, precision: str = "bf16") -> float:
        """Dense peak TFLOPS for ``precision``.

        bf16/fp16 → ``bf16_tflops``; fp8 → ``fp8_tflops``, or the bf16 figure on chips without
        FP8 (the math then runs in 16 bit); tf32 → ``bf16_tflops * TF32_FRACTION``; fp32 →
        ``fp32_tflops``, or ``bf16_tflops * FP32_FALLBACK_FRACTION`` where none is published.
        """
        key = precision.strip().lower()
        if key in ("bf16", "fp16"):
            return self.bf16_tflops
        if key == "fp8":
            return self.fp8_tflops if self.fp8_tflops is not None else self.bf16_tflops
        if key == "tf32":
            return self.bf16_tflops * TF32_FRACTION
        if key == "fp32":
            if self.fp32_tflops is not None:
                return self.fp32_tflops
            return self.bf16_tflops * FP32_FALLBACK_FRACTION
        raise InvalidInputError(f"unknown precision {precision!r}", field="precision",
                                hint=f"use one of {', '.join(PRECISIONS)}")

    def source_for(self, field_name: str) -> str:
        """The citation behind one field (its own entry, else the entry-wide "*")."""
        return self.sources.get(field_name) or self.sources.get("*", "")


class AcceleratorCatalog:
    """An immutable, validated set of accelerator specs with alias resolution."""

    def __init__(self, specs: Iterable[AcceleratorSpec], *, schema_version: int = SUPPORTED_SCHEMA_VERSION,
                 last_reviewed: str | None = None) -> None:
        self.schema_version = schema_version
        self.last_reviewed = last_reviewed
        self._specs: dict[str, AcceleratorSpec] = {}
        self._index: dict[str, str] = {}
        for spec in specs:
            self._add(spec)

    def _add(self, spec: AcceleratorSpec) -> None:
        if spec.name in self._specs:
            raise CatalogDataError(f"accelerator {spec.name!r} is listed twice", field=spec.name)
        self._specs[spec.name] = spec
        for spelling in (spec.name, *spec.aliases):
            key = normalize_accelerator_key(spelling)
            if not key:
                raise CatalogDataError(f"empty alias {spelling!r}", field=f"{spec.name}.aliases")
            owner = self._index.get(key)
            if owner is not None and owner != spec.name:
                raise CatalogDataError(
                    f"{spelling!r} of {spec.name} is already a name or alias of {owner}",
                    field=f"{spec.name}.aliases", hint="an alias may belong to one accelerator type only")
            self._index[key] = spec.name

    # -- loading ---------------------------------------------------------------------------

    @classmethod
    def from_yaml_text(cls, text: str, *, origin: str = "<text>") -> AcceleratorCatalog:
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise CatalogDataError(f"{origin} is not valid YAML: {exc}") from exc
        return cls.from_document(document, origin=origin)

    @classmethod
    def from_path(cls, path: str | Path) -> AcceleratorCatalog:
        path = Path(path)
        return cls.from_yaml_text(path.read_text(encoding="utf-8"), origin=str(path))

    @classmethod
    def load_default(cls) -> AcceleratorCatalog:
        """The catalog shipped with Suanli (``controlplane/catalog/data/accelerators.yaml``)."""
        text = resources.files("controlplane.catalog.data").joinpath("accelerators.yaml").read_text("utf-8")
        return cls.from_yaml_text(text, origin="accelerators.yaml")

    @classmethod
    def from_document(cls, document: Any, *, origin: str = "<document>") -> AcceleratorCatalog:
        if not isinstance(document, dict):
            raise CatalogDataError(f"{origin}: top level must be a mapping")
        version = document.get("schema_version")
        if version != SUPPORTED_SCHEMA_VERSION:
            raise CatalogDataError(f"{origin}: schema_version {version!r} is not supported",
                                   field="schema_version", hint=f"expected {SUPPORTED_SCHEMA_VERSION}")
        reviewed = document.get("last_reviewed")
        if reviewed is None:
            raise CatalogDataError(f"{origin}: last_reviewed is missing", field="last_reviewed")
        entries = document.get("accelerators")
        if not isinstance(entries, list) or not entries:
            raise CatalogDataError(f"{origin}: accelerators must be a non-empty list", field="accelerators")
        specs = [_spec_from_entry(entry, f"accelerators[{i}]") for i, entry in enumerate(entries)]
        return cls(specs, schema_version=version, last_reviewed=str(reviewed))

    # -- queries ---------------------------------------------------------------------------

    def resolve(self, name: str) -> str | None:
        """The canonical name ``name`` spells, or None."""
        key = normalize_accelerator_key(name)
        while key:
            if key in self._index:
                return self._index[key]
            vendor = next((w for w in _VENDOR_WORDS if key.startswith(w) and len(key) > len(w)), None)
            if vendor is None:
                return None
            key = key[len(vendor):]
        return None

    def suggestions(self, name: str, limit: int = 3) -> list[str]:
        """Up to ``limit`` canonical names nearest to ``name`` (difflib over names and aliases)."""
        key = normalize_accelerator_key(name)
        ranked = difflib.get_close_matches(key, list(self._index), n=len(self._index), cutoff=0.0)
        nearest: list[str] = []
        for candidate in ranked:
            canonical = self._index[candidate]
            if canonical not in nearest:
                nearest.append(canonical)
            if len(nearest) == limit:
                break
        return nearest

    def get(self, name: str, *, field: str | None = None) -> AcceleratorSpec:
        """The spec ``name`` spells; :class:`UnknownAcceleratorError` (naming ``field``) if none."""
        canonical = self.resolve(name)
        if canonical is None:
            raise UnknownAcceleratorError(name, self.suggestions(name), field=field)
        return self._specs[canonical]

    def canonical_name(self, name: str, *, field: str | None = None) -> str:
        return self.get(name, field=field).name

    def exists(self, name: str) -> bool:
        return self.resolve(name) is not None

    def specs(self) -> list[AcceleratorSpec]:
        """Every spec, in catalog order (grouped by vendor and generation)."""
        return list(self._specs.values())

    def names(self) -> list[str]:
        return list(self._specs)

    def __iter__(self) -> Iterator[AcceleratorSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.exists(name)


def _spec_from_entry(entry: Any, where: str) -> AcceleratorSpec:
    if not isinstance(entry, dict):
        raise CatalogDataError(f"{where} must be a mapping", field=where)
    name = entry.get("name")
    label = f"{where} ({name})" if isinstance(name, str) else where
    unknown = sorted(set(entry) - _ALLOWED_KEYS)
    if unknown:
        raise CatalogDataError(f"{label}: unknown field(s) {', '.join(unknown)}",
                               field=f"{where}.{unknown[0]}")
    text: dict[str, str] = {}
    for key in _REQUIRED_TEXT:
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip():
            raise CatalogDataError(f"{label}: {key} must be a non-empty string", field=f"{where}.{key}")
        text[key] = value.strip()
    if text["vendor"] not in VENDORS:
        known = ", ".join(sorted(VENDORS))
        raise CatalogDataError(f"{label}: vendor {text['vendor']!r} is not one of {known}",
                               field=f"{where}.vendor")
    numbers: dict[str, float | None] = {}
    for key in _NUMERIC_FIELDS:
        value = entry.get(key)
        if value is None and key in _OPTIONAL_NUMERIC:
            numbers[key] = None
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise CatalogDataError(f"{label}: {key} must be a positive number, got {value!r}",
                                   field=f"{where}.{key}")
        numbers[key] = float(value)
    bf16, fp8 = numbers["bf16_tflops"], numbers["fp8_tflops"]
    if fp8 is not None and bf16 is not None and fp8 < bf16:
        raise CatalogDataError(
            f"{label}: fp8_tflops {fp8} is below bf16_tflops {bf16} (dense figures expected)",
            field=f"{where}.fp8_tflops")
    devices = entry["devices_per_node"]
    if not isinstance(devices, int):
        raise CatalogDataError(f"{label}: devices_per_node must be an integer",
                               field=f"{where}.devices_per_node")
    aliases = entry.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str | int) for a in aliases):
        raise CatalogDataError(f"{label}: aliases must be a list of strings", field=f"{where}.aliases")
    sources = _validated_sources(entry.get("sources"), label, where)
    optional_text = {key: str(entry.get(key) or "").strip() for key in _OPTIONAL_TEXT}
    return AcceleratorSpec(
        name=text["name"], vendor=text["vendor"], family=text["family"],
        bf16_tflops=_required(numbers, "bf16_tflops"), fp8_tflops=fp8,
        hbm_gib=_required(numbers, "hbm_gib"), hbm_tbps=_required(numbers, "hbm_tbps"),
        interconnect=text["interconnect"], interconnect_gbps=_required(numbers, "interconnect_gbps"),
        devices_per_node=devices, tdp_watts=_required(numbers, "tdp_watts"),
        scaleout_gbps_per_device=_required(numbers, "scaleout_gbps_per_device"),
        aliases=tuple(str(a) for a in aliases), sources=sources, fp32_tflops=numbers["fp32_tflops"],
        memory_type=optional_text["memory_type"] or "HBM", notes=optional_text["notes"],
    )


def _required(numbers: Mapping[str, float | None], key: str) -> float:
    value = numbers[key]
    assert value is not None  # guaranteed by the loop in _spec_from_entry
    return value


def _validated_sources(raw: Any, label: str, where: str) -> Mapping[str, str]:
    if not isinstance(raw, dict) or not raw:
        raise CatalogDataError(f"{label}: sources must be a non-empty mapping of field -> citation",
                               field=f"{where}.sources")
    allowed = _ALLOWED_KEYS | {"*"}
    for key, citation in raw.items():
        if key not in allowed:
            raise CatalogDataError(f"{label}: sources names unknown field {key!r}", field=f"{where}.sources")
        if not isinstance(citation, str) or not citation.strip():
            raise CatalogDataError(f"{label}: source for {key!r} must be a non-empty citation",
                                   field=f"{where}.sources.{key}")
    if "*" not in raw:
        missing = [key for key in _NUMERIC_FIELDS if key not in raw]
        if missing:
            raise CatalogDataError(f"{label}: no source for {', '.join(missing)} (add them or a '*' entry)",
                                   field=f"{where}.sources")
    # A plain dict (not a MappingProxyType) so dataclasses.asdict/replace work on specs.
    return {str(k): str(v) for k, v in raw.items()}


@functools.cache
def default_accelerator_catalog() -> AcceleratorCatalog:
    """The shipped catalog, loaded once per process (immutable, so sharing it is safe)."""
    return AcceleratorCatalog.load_default()


def get_accelerator(name: str) -> AcceleratorSpec:
    return default_accelerator_catalog().get(name)


def canonical_accelerator_name(name: str) -> str:
    return default_accelerator_catalog().canonical_name(name)


def list_accelerators() -> list[AcceleratorSpec]:
    return default_accelerator_catalog().specs()


def accelerator_exists(name: str) -> bool:
    return default_accelerator_catalog().exists(name)
