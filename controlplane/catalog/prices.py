"""The cloud price catalog: offers per accelerator type, cheapest choices, spot discounts.

This module owns :class:`PriceCatalog`, built from ``data/accelerator_prices.csv`` (provenance
in ``data/PROVENANCE.md``) or any file with the same columns. Row interpretation — which rows
become offers and why the others are excluded — lives in :mod:`controlplane.catalog.price_rows`;
every excluded row stays inspectable through :meth:`PriceCatalog.excluded`.

Queries take accelerator names in any spelling the accelerator catalog resolves, and sort
offers by dollars per device-hour. GCP attach-only offers (accelerator price without the host
VM) are left out unless ``include_attach_only=True``, because they would always look cheaper
than a whole instance that includes its host.

Two AWS sources sit side by side (a 2026-01 on-demand dump and an older SkyPilot snapshot with
spot prices, from before AWS's June-2025 P4/P5 price cut). Offers keep their ``source``, and
:meth:`PriceCatalog.spot_discount` only ever divides a spot price by the on-demand price of
the same row, so the two are never mixed in one ratio.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from collections.abc import Collection, Iterable
from importlib import resources
from pathlib import Path

from controlplane.catalog.accelerators import AcceleratorCatalog, default_accelerator_catalog
from controlplane.catalog.offers import ExcludedRow, Offer
from controlplane.catalog.price_rows import check_header, interpret_rows

__all__ = ["ExcludedRow", "Offer", "PriceCatalog"]

DEFAULT_PRICE_FILE = "accelerator_prices.csv"


class PriceCatalog:
    """Immutable offers indexed by canonical accelerator name, plus the rows left out."""

    def __init__(self, offers: Iterable[Offer], excluded: Iterable[ExcludedRow] = (), *,
                 accelerators: AcceleratorCatalog | None = None) -> None:
        self._accelerators = accelerators or default_accelerator_catalog()
        self._excluded = tuple(excluded)
        by_type: dict[str, list[Offer]] = defaultdict(list)
        for offer in offers:
            by_type[offer.accelerator].append(offer)
        self._offers = {name: tuple(items) for name, items in by_type.items()}

    # -- loading ---------------------------------------------------------------------------

    @classmethod
    def load_default(cls, *, accelerators: AcceleratorCatalog | None = None) -> PriceCatalog:
        """The price file shipped with Suanli."""
        text = resources.files("controlplane.catalog.data").joinpath(DEFAULT_PRICE_FILE).read_text("utf-8")
        return cls.from_csv_text(text, accelerators=accelerators, origin=DEFAULT_PRICE_FILE)

    @classmethod
    def from_csv(cls, source: str | Path, *, accelerators: AcceleratorCatalog | None = None) -> PriceCatalog:
        """From a CSV file path, or from CSV text (a ``str`` that contains a line break)."""
        if isinstance(source, str) and "\n" in source:
            return cls.from_csv_text(source, accelerators=accelerators)
        path = Path(source)
        text = path.read_text(encoding="utf-8")
        return cls.from_csv_text(text, accelerators=accelerators, origin=str(path))

    @classmethod
    def from_csv_text(cls, text: str, *, accelerators: AcceleratorCatalog | None = None,
                      origin: str = "<text>") -> PriceCatalog:
        accelerators = accelerators or default_accelerator_catalog()
        reader = csv.DictReader(io.StringIO(text))
        check_header(reader.fieldnames, origin=origin)
        # DictReader.line_num counts physical lines read so far, so it is the row's own line.
        rows = ((reader.line_num, row) for row in reader)
        offers, excluded = interpret_rows(rows, accelerators)
        return cls(offers, excluded, accelerators=accelerators)

    # -- queries ---------------------------------------------------------------------------

    def offers(self, accelerator: str, *, spot: bool | None = None, clouds: Collection[str] | None = None,
               regions: Collection[str] | None = None, include_attach_only: bool = False) -> list[Offer]:
        """Offers of one accelerator type, cheapest $/device-hour first.

        ``spot=True``: only offers with a spot price, ranked by it; ``False``: only offers with
        an on-demand price, ranked by it; ``None``: every offer, ranked by on-demand (spot
        where there is no on-demand price). Cloud and region filters ignore case.
        """
        name = self._accelerators.canonical_name(accelerator, field="accelerator")
        wanted_clouds = _lowered(clouds)
        wanted_regions = _lowered(regions)
        selected = [
            offer for offer in self._offers.get(name, ())
            if (include_attach_only or not offer.attach_only)
            and (wanted_clouds is None or offer.cloud.lower() in wanted_clouds)
            and (wanted_regions is None or offer.region.lower() in wanted_regions)
            and (spot is None or offer.price_per_hour(spot=spot) is not None)
        ]
        return sorted(selected, key=lambda offer: _sort_key(offer, spot))

    def cheapest(self, accelerator: str, *, spot: bool = False, clouds: Collection[str] | None = None,
                 regions: Collection[str] | None = None, min_devices: int = 1,
                 include_attach_only: bool = False) -> Offer | None:
        """The lowest $/device-hour offer with at least ``min_devices`` devices, or None."""
        for offer in self.offers(accelerator, spot=spot, clouds=clouds, regions=regions,
                                 include_attach_only=include_attach_only):
            if offer.devices >= min_devices:
                return offer
        return None

    def spot_discount(self, accelerator: str, *, cloud: str | None = None) -> float | None:
        """Median of ``1 - spot/on-demand`` over offers that carry both prices (one row, one
        source, so two sources are never mixed); None when no offer has both. Attach-only
        offers count: the ratio of two attach prices is still a like-for-like ratio."""
        offers = self.offers(accelerator, clouds=None if cloud is None else [cloud], include_attach_only=True)
        ratios = [1 - offer.spot_per_hour / offer.on_demand_per_hour for offer in offers
                  if offer.spot_per_hour is not None and offer.on_demand_per_hour is not None]
        return statistics.median(ratios) if ratios else None

    def excluded(self) -> list[ExcludedRow]:
        """Rows of the source file that produced no offer, each with its reason."""
        return list(self._excluded)

    def accelerators(self) -> list[str]:
        """Canonical names of the accelerator types that have at least one offer."""
        return sorted(self._offers)

    def clouds(self) -> list[str]:
        return sorted({offer.cloud for offers in self._offers.values() for offer in offers})

    def all_offers(self) -> list[Offer]:
        return [offer for offers in self._offers.values() for offer in offers]

    @property
    def accelerator_catalog(self) -> AcceleratorCatalog:
        return self._accelerators


def _lowered(values: Collection[str] | None) -> set[str] | None:
    return None if values is None else {value.strip().lower() for value in values}


def _sort_key(offer: Offer, spot: bool | None) -> tuple[float, str, str, int, str]:
    if spot is None:
        price = offer.per_device_hour(spot=False)
        if price is None:
            price = offer.per_device_hour(spot=True)
    else:
        price = offer.per_device_hour(spot=spot)
    ranked_price = price if price is not None else float("inf")
    return (ranked_price, offer.cloud, offer.region, offer.devices, offer.instance_type or "")
