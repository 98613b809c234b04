"""``suanli catalog``: the accelerator and price catalogs shipped with Suanli.

Unlike the other commands these read local, versioned data (the same files the control plane
loads), so they work without a server: ``accelerators`` lists specs (or shows one type with its
sources), ``prices`` lists offers for one type, cheapest dollars per device-hour first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console

from controlplane.catalog.accelerators import AcceleratorSpec, default_accelerator_catalog
from controlplane.catalog.offers import Offer
from controlplane.catalog.prices import PriceCatalog
from controlplane.cli.context import resolve_output
from controlplane.cli.errors import friendly_errors
from controlplane.cli.output import Column, OutputFormat, emit

app = typer.Typer(help="Accelerator specs and cloud prices (local catalog data, no server needed).",
                  no_args_is_help=True)

OutputOpt = Annotated[OutputFormat | None, typer.Option("--output", "-o", help="table, json or yaml")]
NameArg = Annotated[str | None, typer.Argument(help="show one type with its sources")]
VendorOpt = Annotated[str | None, typer.Option(help="only this vendor (nvidia, amd, ...)")]
AcceleratorOpt = Annotated[str, typer.Option("--accelerator", "-a", help="accelerator type, any alias")]
SpotOpt = Annotated[bool, typer.Option("--spot", help="only spot offers, ranked by spot price")]
CloudOpt = Annotated[list[str] | None, typer.Option("--cloud", help="only these clouds (repeatable)")]
RegionOpt = Annotated[list[str] | None, typer.Option("--region", help="only these regions (repeatable)")]
MinDevicesOpt = Annotated[int, typer.Option(help="only instances with at least this many devices")]
AttachOpt = Annotated[bool, typer.Option(help="include GCP accelerator attach prices (host VM not included)")]
LimitOpt = Annotated[int | None, typer.Option("--limit", "-n", min=1, help="show at most N offers")]
_notes = Console(stderr=True, soft_wrap=True, highlight=False)


def accelerator_row(spec: AcceleratorSpec) -> dict[str, Any]:
    return {
        "name": spec.name, "vendor": spec.vendor, "family": spec.family,
        "bf16_tflops": spec.bf16_tflops, "fp8_tflops": spec.fp8_tflops, "fp32_tflops": spec.fp32_tflops,
        "hbm_gib": spec.hbm_gib, "hbm_tbps": spec.hbm_tbps, "memory_type": spec.memory_type,
        "interconnect": spec.interconnect, "interconnect_gbps": spec.interconnect_gbps,
        "devices_per_node": spec.devices_per_node, "tdp_watts": spec.tdp_watts,
        "scaleout_gbps_per_device": spec.scaleout_gbps_per_device, "aliases": list(spec.aliases),
        "notes": spec.notes or None, "sources": dict(spec.sources),
    }


ACCELERATOR_COLUMNS: list[Column] = [
    ("name", "name"), ("vendor", "vendor"), ("bf16 TFLOPS", "bf16_tflops"), ("fp8 TFLOPS", "fp8_tflops"),
    ("HBM GiB", "hbm_gib"), ("HBM TB/s", "hbm_tbps"),
    ("interconnect", lambda row: f"{row['interconnect']} {row['interconnect_gbps']:g} GB/s"),
    ("dev/node", "devices_per_node"), ("TDP W", "tdp_watts"),
]


def offer_row(offer: Offer, *, spot: bool) -> dict[str, Any]:
    return {
        "cloud": offer.cloud, "region": offer.region, "instance_type": offer.instance_type,
        "accelerator": offer.accelerator, "devices": offer.devices,
        "on_demand_per_hour": offer.on_demand_per_hour, "spot_per_hour": offer.spot_per_hour,
        "per_device_hour": offer.per_device_hour(spot=spot) or offer.per_device_hour(spot=not spot),
        "attach_only": offer.attach_only, "source": offer.source, "note": offer.note,
    }


def _money(key: str, digits: int) -> Callable[[dict[str, Any]], str | None]:
    def cell(row: dict[str, Any]) -> str | None:
        value = row.get(key)
        return None if value is None else f"{value:,.{digits}f}"
    return cell


OFFER_COLUMNS: list[Column] = [
    ("cloud", "cloud"), ("region", "region"),
    ("instance", lambda row: row["instance_type"] or "(gpu attach only)"), ("devices", "devices"),
    ("on-demand $/h", _money("on_demand_per_hour", 2)), ("spot $/h", _money("spot_per_hour", 2)),
    ("$/device-h", _money("per_device_hour", 3)),
]


@app.command("accelerators")
@friendly_errors
def accelerators(ctx: typer.Context, name: NameArg = None, vendor: VendorOpt = None,
                 output: OutputOpt = None) -> None:
    """List accelerator types: dense TFLOPS, memory, interconnect, devices per node, power."""
    fmt = resolve_output(ctx, output)
    catalog = default_accelerator_catalog()
    if name is not None:
        emit(accelerator_row(catalog.get(name, field="name")), fmt)
        return
    specs = [s for s in catalog.specs() if vendor is None or s.vendor == vendor.strip().lower()]
    title = f"Accelerator catalog (reviewed {catalog.last_reviewed}; dense figures per device)"
    emit([accelerator_row(spec) for spec in specs], fmt, columns=ACCELERATOR_COLUMNS, title=title)


@app.command("prices")
@friendly_errors
def prices(ctx: typer.Context, accelerator: AcceleratorOpt, spot: SpotOpt = False, cloud: CloudOpt = None,
           region: RegionOpt = None, min_devices: MinDevicesOpt = 1, include_attach_only: AttachOpt = False,
           limit: LimitOpt = None, output: OutputOpt = None) -> None:
    """Offers for one accelerator type, cheapest $/device-hour first."""
    fmt = resolve_output(ctx, output)
    catalog = PriceCatalog.load_default()
    canonical = catalog.accelerator_catalog.canonical_name(accelerator, field="--accelerator")
    offers = [o for o in catalog.offers(canonical, spot=True if spot else None, clouds=cloud or None,
                                        regions=region or None, include_attach_only=include_attach_only)
              if o.devices >= min_devices]
    if limit is not None:
        offers = offers[:limit]
    if not offers:
        _notes.print(f"no {'spot ' if spot else ''}offers for {canonical} match these filters "
                     "(set spec.price.perDeviceHour on pools of this type)")
    ranking = "spot" if spot else "on-demand"
    emit([offer_row(offer, spot=spot) for offer in offers], fmt, columns=OFFER_COLUMNS,
         title=f"{canonical} offers, cheapest {ranking} $/device-hour first")
