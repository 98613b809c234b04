"""How one row of ``accelerator_prices.csv`` becomes an :class:`Offer` or an :class:`ExcludedRow`.

The file mixes sources (SkyPilot catalog snapshots, an instances.vantage.sh-derived AWS dump)
and conventions, so every rule applied here is listed and each rejection carries its reason:

1. GCP "HOST VM ONLY" rows (a2/a3 machine types) price the VM without its GPUs → excluded.
2. GCP ``gpu-attach:<type>x<n>`` rows, and any row with an empty instance type, price the
   accelerators alone → kept as *attach-only* offers (no instance type; host VM not included).
3. TPU rows are slices: ``tpu-v6e-8`` is 8 chips; v2/v3/v4/v5p slice names count TensorCores
   (2 per chip), so ``tpu-v5p-12288`` is 6,144 chips. devices = chips in the slice.
4. The accelerator name is resolved through the accelerator catalog, after a few
   instance-type rules that split names the source leaves ambiguous (:data:`NAME_RULES`).
   Names the catalog does not know (A10G, L40, Inferentia, ...) → excluded.
5. Fractional devices (AWS g6f: a quarter of an L40) → excluded: prices are per whole device.
6. Suspect rows → excluded: spot price ≥ on-demand price (the source lacked a spot price),
   GPU counts the source had to correct, region prices the source marks inconsistent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from controlplane.catalog.accelerators import AcceleratorCatalog, CatalogDataError, normalize_accelerator_key
from controlplane.catalog.offers import ExcludedRow, Offer

CSV_COLUMNS = ("cloud", "region", "instance_type", "accelerator", "accelerator_count", "vcpus", "memory_gib",
               "price_per_hour", "spot_price_per_hour", "source", "note")
ATTACH_PREFIX = "gpu-attach:"

_TPU_SLICE = re.compile(r"^tpu-(?P<generation>v\d+[a-z]*|v5litepod)-(?P<size>\d+)$", re.IGNORECASE)
#: TPU generations whose slice names count TensorCores rather than chips.
_TENSORCORE_NAMED = frozenset({"v2", "v3", "v4", "v5p"})
_TPU_GENERATION_ALIASES = {"v5litepod": "v5e"}


@dataclass(frozen=True)
class NameRule:
    """Maps an ambiguous source name on matching instances to a more precise catalog type."""

    accelerator: str
    canonical: str
    instance_pattern: str | None = None
    cloud: str | None = None
    why: str = ""

    def matches(self, cloud: str, accelerator: str, instance_type: str) -> bool:
        if normalize_accelerator_key(accelerator) != normalize_accelerator_key(self.accelerator):
            return False
        if self.cloud is not None and cloud != self.cloud:
            return False
        if self.instance_pattern is None:
            return True
        return re.search(self.instance_pattern, instance_type, re.IGNORECASE) is not None


NAME_RULES: tuple[NameRule, ...] = (
    NameRule("H100", "H100-PCIe", instance_pattern=r"pcie", why="PCIe in the instance name"),
    NameRule("H100", "H100-NVL", cloud="azure", instance_pattern=r"^Standard_NC\d+\w*_H100_v5$",
             why="Azure NC H100 v5 runs H100 NVL cards"),
    NameRule("H100", "H100-PCIe", cloud="runpod",
             why="RunPod's unqualified H100 is the PCIe card (SXM is 'H100-SXM')"),
    NameRule("A100-80GB", "A100-80GB-PCIe", instance_pattern=r"pcie", why="PCIe in the instance name"),
    NameRule("A100-80GB", "A100-80GB-PCIe", cloud="azure", instance_pattern=r"^Standard_NC\d+ads_A100_v4$",
             why="Azure NC A100 v4 runs A100 80GB PCIe cards"),
    NameRule("A100-80GB", "A100-80GB-PCIe", cloud="runpod",
             why="RunPod's unqualified A100-80GB is the PCIe card (SXM is 'A100-80GB-SXM')"),
)


def check_header(columns: Iterable[str] | None, *, origin: str) -> None:
    """Refuse a file whose header lacks one of :data:`CSV_COLUMNS`."""
    missing = [c for c in CSV_COLUMNS if c not in set(columns or ())]
    if missing:
        raise CatalogDataError(f"{origin}: missing column(s) {', '.join(missing)}",
                               hint=f"expected header: {','.join(CSV_COLUMNS)}")


def interpret_row(line: int, row: Mapping[str, str | None],
                  catalog: AcceleratorCatalog) -> Offer | ExcludedRow:
    """The offer one CSV row describes, or why it describes none."""
    clean = {key: (row.get(key) or "").strip() for key in CSV_COLUMNS}

    def exclude(reason: str) -> ExcludedRow:
        return ExcludedRow(line=line, row=clean, reason=reason)

    cloud, raw_accelerator, instance, note = (clean["cloud"].lower(), clean["accelerator"],
                                              clean["instance_type"], clean["note"])
    if "host vm only" in note.lower():
        return exclude("host VM price only: the accelerators are billed by separate gpu-attach rows")
    attach_only = not instance or instance.lower().startswith(ATTACH_PREFIX)

    count = _number(clean["accelerator_count"])
    if count is None:
        return exclude(f"unparseable accelerator_count {clean['accelerator_count']!r}")
    tpu = _TPU_SLICE.match(raw_accelerator)
    if tpu:
        generation = tpu.group("generation").lower()
        generation = _TPU_GENERATION_ALIASES.get(generation, generation)
        size = int(tpu.group("size"))
        chips = size // 2 if generation in _TENSORCORE_NAMED else size
        canonical = catalog.resolve(f"tpu-{generation}")
        count = count * chips
        attach_only = False
    else:
        canonical = _resolve_name(cloud, raw_accelerator, instance, catalog)
    if canonical is None:
        return exclude(f"accelerator {raw_accelerator!r} is not in the accelerator catalog")
    if count < 1 or count != int(count):
        return exclude(f"fractional accelerator share ({count:g} of a device) cannot be priced per device")

    on_demand, spot = _number(clean["price_per_hour"]), _number(clean["spot_price_per_hour"])
    for column, value in (("price_per_hour", on_demand), ("spot_price_per_hour", spot)):
        if clean[column] and value is None:
            return exclude(f"unparseable {column} {clean[column]!r}")
        if value is not None and value <= 0:
            return exclude(f"non-positive {column} {value:g}")
    if on_demand is None and spot is None:
        return exclude("no on-demand or spot price")
    suspicions = _suspicions(note, on_demand, spot)
    if suspicions:
        return exclude("suspect row: " + "; ".join(suspicions))

    return Offer(cloud=cloud, region=clean["region"], instance_type=None if attach_only else instance,
                 accelerator=canonical, devices=int(count), on_demand_per_hour=on_demand, spot_per_hour=spot,
                 source=clean["source"], note=note, attach_only=attach_only)


def interpret_rows(rows: Iterable[tuple[int, Mapping[str, str | None]]],
                   catalog: AcceleratorCatalog) -> tuple[list[Offer], list[ExcludedRow]]:
    offers: list[Offer] = []
    excluded: list[ExcludedRow] = []
    for line, row in rows:
        result = interpret_row(line, row, catalog)
        if isinstance(result, Offer):
            offers.append(result)
        else:
            excluded.append(result)
    return offers, excluded


def _resolve_name(cloud: str, accelerator: str, instance: str, catalog: AcceleratorCatalog) -> str | None:
    for rule in NAME_RULES:
        if rule.matches(cloud, accelerator, instance):
            return rule.canonical
    return catalog.resolve(accelerator)


def _suspicions(note: str, on_demand: float | None, spot: float | None) -> list[str]:
    lowered = note.lower()
    found = []
    if "corrected" in lowered:
        found.append("accelerator count corrected from the source's figure")
    if "inconsistent" in lowered:
        found.append("region prices inconsistent in the source")
    if on_demand is not None and spot is not None and spot >= on_demand:
        found.append("spot price >= on-demand price (the source had no real spot price)")
    return found


def _number(text: str) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
