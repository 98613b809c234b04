"""Price offers: one priced way to rent accelerators, and rows of the price file that were left out.

Vocabulary:
- *offer*: one (cloud, region, instance type) with its hourly on-demand and/or spot price for
  the whole instance (or TPU slice), its accelerator type (canonical catalog name) and its
  device count. "$ per device-hour" is the instance price divided by the device count.
- *attach-only offer*: a GCP "gpu-attach" row, the price of the accelerators alone; the host
  VM is billed separately and is not included, so it is not comparable with whole-instance
  prices. Such offers have no instance type and are left out of queries unless asked for.
- *excluded row*: a row of the price file that produced no offer, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Offer:
    cloud: str
    region: str
    instance_type: str | None
    accelerator: str
    devices: int
    on_demand_per_hour: float | None
    spot_per_hour: float | None
    source: str
    note: str
    attach_only: bool = False

    def price_per_hour(self, *, spot: bool) -> float | None:
        """The whole instance's hourly price, spot or on-demand (None when not offered)."""
        return self.spot_per_hour if spot else self.on_demand_per_hour

    def per_device_hour(self, *, spot: bool) -> float | None:
        price = self.price_per_hour(spot=spot)
        return None if price is None else price / self.devices

    @property
    def label(self) -> str:
        """``cloud/region/instance`` (attach-only offers show ``gpu-attach:<type>x<n>``)."""
        instance = self.instance_type or f"gpu-attach:{self.accelerator}x{self.devices}"
        return f"{self.cloud}/{self.region}/{instance}"


@dataclass(frozen=True)
class ExcludedRow:
    line: int
    """1-based line number in the CSV file (the header is line 1)."""
    row: dict[str, str]
    reason: str
