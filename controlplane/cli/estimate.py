"""``suanli estimate FILE``: what a job would cost on each accelerator type and offer, best first.

Reads a ``TrainingJob`` or ``InferenceService`` spec, estimates memory per device, step time,
tokens/s and MFU on every candidate accelerator type (the job's ``types``, or ``--accelerator``,
plus the types of any ``--pools`` file), prices each with the cheapest catalog offers per cloud
and with the pools' own prices, and prints them ranked by dollars per million tokens (per
million *output* tokens for services), with the reason wherever a candidate cannot be used.

Local and offline like ``suanli catalog``: no server is needed. Bad input (unknown
accelerator, malformed ``--layout``, invalid spec) prints one paragraph on stderr and exits 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from controlplane.catalog.accelerators import AcceleratorCatalog, default_accelerator_catalog
from controlplane.catalog.pool_pricing import price_for_pool
from controlplane.catalog.prices import PriceCatalog
from controlplane.cli.context import resolve_output
from controlplane.cli.errors import fail, friendly_errors
from controlplane.cli.output import Column, OutputFormat, emit
from controlplane.domain.errors import InvalidInputError
from controlplane.perfmodel.adapters import layout_from_spec, model_shape_from_spec, parse_layout
from controlplane.perfmodel.device import DeviceSpec, as_device
from controlplane.perfmodel.ranking import (
    Candidate,
    PriceOffer,
    ServingWorkload,
    TrainingWorkload,
    rank_candidates,
    rank_serving_candidates,
)
from jobspecs import AcceleratorPool, InferenceService, TrainingJob, load_file

_notes = Console(stderr=True, soft_wrap=True, highlight=False)
TABLE_WIDTH = 200
"""Ranking tables are wide; like ``kubectl -o wide`` they are not squeezed into 80 columns."""

FileArg = Annotated[Path, typer.Argument(help="TrainingJob or InferenceService spec (YAML or JSON)")]
AcceleratorOpt = Annotated[list[str] | None, typer.Option(
    "--accelerator", "-a", help="candidate type (repeatable; default: the job's accepted types)")]
LayoutOpt = Annotated[str | None, typer.Option(
    "--layout", help="pin a training layout, e.g. tp=8,pp=4,dp=4 (also ep, cp, vp, mbs, zero, recompute)")]
PoolsOpt = Annotated[Path | None, typer.Option("--pools", help="AcceleratorPool file: its pools become offers")]
SpotOpt = Annotated[bool, typer.Option("--spot", help="price cloud offers at spot instead of on-demand")]
OffersOpt = Annotated[int, typer.Option("--offers", min=1, help="cheapest offers per type (one per cloud)")]
OutputOpt = Annotated[OutputFormat | None, typer.Option("--output", "-o", help="table, json or yaml")]


def _money(value: object, digits: int) -> str | None:
    return None if not isinstance(value, int | float) else f"{value:,.{digits}f}"


def _memory(row: dict[str, Any]) -> str | None:
    if row["memory_gib"] is None:
        return None
    return f"{row['memory_gib']:.1f}/{row['usable_gib']:.0f}"


TRAINING_COLUMNS: list[Column] = [
    ("type", "accelerator"), ("offer", lambda r: r["offer"] or "-"), ("layout", "layout"),
    ("GiB/dev", _memory), ("step s", lambda r: _money(r["step_seconds"], 2)),
    ("tokens/s", lambda r: _money(r["tokens_per_second"], 0)),
    ("MFU", lambda r: None if r["mfu"] is None else f"{100 * r['mfu']:.1f}%"),
    ("$/dev-h", lambda r: _money(r["per_device_hour"], 2)),
    ("$/Mtok", lambda r: _money(r["dollars_per_million_tokens"], 2)),
    ("why not", lambda r: r["why_not"] or ""),
]

SERVING_COLUMNS: list[Column] = [
    ("type", "accelerator"), ("offer", lambda r: r["offer"] or "-"), ("layout", "layout"),
    ("GiB/dev", _memory), ("TTFT s", lambda r: _money(r["ttft_s"], 3)),
    ("TPOT ms", lambda r: _money(r["tpot_ms"], 1)), ("out tok/s", lambda r: _money(r["tokens_per_second"], 0)),
    ("$/dev-h", lambda r: _money(r["per_device_hour"], 2)),
    ("$/M out tok", lambda r: _money(r["dollars_per_million_tokens"], 2)),
    ("why not", lambda r: r["why_not"] or ""),
]


def _resolve_types(names: list[str], accelerators: AcceleratorCatalog, field: str) -> list[str]:
    return [accelerators.canonical_name(name, field=field) for name in names]


def _candidate_types(requested: list[str] | None, accepted: str | tuple[str, ...], pools: list[AcceleratorPool],
                     accelerators: AcceleratorCatalog, prices: PriceCatalog) -> list[str]:
    if requested:
        names = _resolve_types(requested, accelerators, "--accelerator")
    elif accepted == "any":
        names = prices.accelerators()
    else:
        names = _resolve_types(list(accepted), accelerators, "spec.resources.accelerators.types")
    for pool in pools:
        name = accelerators.canonical_name(pool.spec.accelerator, field=f"pool {pool.metadata.name}: spec.accelerator")
        if name not in names:
            names.append(name)
    return list(dict.fromkeys(names))


def _cloud_offers(types: list[str], prices: PriceCatalog, *, spot: bool, per_type: int,
                  job_devices: int) -> list[PriceOffer]:
    """The cheapest offer per cloud, up to ``per_type`` clouds per type, among whole nodes (a job
    spanning nodes rents full nodes: a 1-GPU VM has no NVLink peers) or, for a job smaller than
    a node, instances at least as large as the job."""
    offers: list[PriceOffer] = []
    for name in types:
        seen_clouds: set[str] = set()
        min_devices = min(job_devices, prices.accelerator_catalog.get(name).devices_per_node)
        for offer in prices.offers(name, spot=spot):
            price = offer.per_device_hour(spot=spot)
            if price is None or offer.cloud in seen_clouds or offer.devices < min_devices:
                continue
            seen_clouds.add(offer.cloud)
            offers.append(PriceOffer(accelerator=name, label=offer.label, per_device_hour=price, spot=spot,
                                     source=offer.source, devices_per_instance=offer.devices))
            if len(seen_clouds) == per_type:
                break
    return offers


def _pool_offers(pools: list[AcceleratorPool], prices: PriceCatalog) -> list[PriceOffer]:
    offers = []
    for pool in pools:
        spec = pool.spec
        price = spec.price
        try:
            priced = price_for_pool(
                provider=spec.provider, region=spec.region, accelerator=spec.accelerator,
                capacity_type=spec.capacity_type, devices_per_node=spec.devices_per_node,
                instance_type=spec.instance_type, override_per_device_hour=price.per_device_hour if price else None,
                override_per_node_hour=price.per_node_hour if price else None, catalog=prices)
        except InvalidInputError as exc:
            _notes.print(f"note: pool {pool.metadata.name} is left out: {exc}")
            continue
        offers.append(PriceOffer(
            accelerator=prices.accelerator_catalog.canonical_name(spec.accelerator), label=f"pool:{pool.metadata.name}",
            per_device_hour=priced.per_device_hour, spot=spec.capacity_type == "spot", source=priced.source,
            devices_per_instance=spec.devices_per_node))
    return offers


def _load(file: Path, pools_file: Path | None) -> tuple[TrainingJob | InferenceService, list[AcceleratorPool]]:
    documents = load_file(file)
    workloads = [d for d in documents if isinstance(d, TrainingJob | InferenceService)]
    if not workloads:
        raise InvalidInputError(f"{file} holds no TrainingJob or InferenceService", field="FILE",
                                hint="suanli estimate reads a job or service spec")
    if len(workloads) > 1:
        _notes.print(f"note: {file} holds {len(workloads)} jobs; estimating the first, {workloads[0].metadata.name}")
    pools = [d for d in load_file(pools_file) if isinstance(d, AcceleratorPool)] if pools_file else []
    return workloads[0], pools


def _training_rows(job: TrainingJob, devices: list[DeviceSpec], offers: list[PriceOffer],
                   layout_text: str | None) -> list[dict[str, Any]]:
    spec = job.spec
    model = model_shape_from_spec(spec.model)
    layout = layout_from_spec(job)
    if layout_text:
        layout = parse_layout(layout_text, base=layout, global_batch_size=spec.model.global_batch_size)
    types = spec.resources.accelerators.types
    workload = TrainingWorkload(
        name=job.metadata.name, model=model, layout=layout, layout_pinned=layout_text is not None,
        accepted_types=None if types == "any" else tuple(_resolve_types(list(types), default_accelerator_catalog(),
                                                                        "spec.resources.accelerators.types")),
        min_memory_gib=spec.resources.accelerators.min_memory_gib)
    return [c.as_row() for c in rank_candidates(workload, devices, offers)]


def _serving_rows(service: InferenceService, devices: list[DeviceSpec],
                  offers: list[PriceOffer]) -> list[dict[str, Any]]:
    spec = service.spec
    model = model_shape_from_spec(spec.model)
    context = model.sequence_length
    batch = int(spec.autoscaling.target) if spec.autoscaling and spec.autoscaling.metric == "concurrency" else 32
    types = spec.resources.accelerators.types
    workload = ServingWorkload(
        name=service.metadata.name, model=model, tp=spec.parallelism.tensor, pp=spec.parallelism.pipeline,
        batch_size=max(1, batch), prompt_tokens=min(2048, context // 2), output_tokens=min(512, context // 4),
        accepted_types=None if types == "any" else tuple(_resolve_types(list(types), default_accelerator_catalog(),
                                                                        "spec.resources.accelerators.types")),
        min_memory_gib=spec.resources.accelerators.min_memory_gib)
    rows = []
    for candidate, estimate in rank_serving_candidates(workload, devices, offers):
        row = _serving_row(candidate)
        row.update(memory_gib=round((estimate.weights_bytes_per_device + estimate.kv_bytes_per_device) / 2**30, 1),
                   usable_gib=round(estimate.capacity_bytes / 2**30, 1), ttft_s=estimate.time_to_first_token_s,
                   tpot_ms=estimate.time_per_output_token_s * 1e3, batch_size=estimate.batch_size,
                   max_batch_size=estimate.max_batch_size, p50_latency_s=estimate.p50_latency_s)
        rows.append(row)
    return rows


def _serving_row(candidate: Candidate) -> dict[str, Any]:
    row = candidate.as_row()
    row.pop("mfu", None)
    row["mfu"] = None
    return row


def _console() -> Console:
    return Console(soft_wrap=True, width=max(Console().width, TABLE_WIDTH))


@friendly_errors
def estimate(ctx: typer.Context, file: FileArg, accelerator: AcceleratorOpt = None, layout: LayoutOpt = None,
             pools: PoolsOpt = None, spot: SpotOpt = False, offers: OffersOpt = 3,
             output: OutputOpt = None) -> None:
    """Estimate memory, step time, tokens/s, MFU and $ per million tokens per accelerator offer."""
    workload, pool_docs = _load(file, pools)
    accelerators = default_accelerator_catalog()
    prices = PriceCatalog.load_default(accelerators=accelerators)
    types = _candidate_types(accelerator, workload.spec.resources.accelerators.types, pool_docs, accelerators, prices)
    devices = [as_device(accelerators.get(name)) for name in types]
    job_devices = (workload.spec.device_count if isinstance(workload, TrainingJob)
                   else workload.spec.parallelism.devices_per_replica)
    priced = _cloud_offers(types, prices, spot=spot, per_type=offers, job_devices=job_devices) + _pool_offers(
        pool_docs, prices)
    fmt = resolve_output(ctx, output)
    if isinstance(workload, TrainingJob):
        rows = _training_rows(workload, devices, priced, layout)
        title = (f"{workload.metadata.name}: {workload.spec.model.name or 'model'} on "
                 f"{workload.spec.device_count} devices, {workload.spec.model.tokens_per_step:,} tokens/step")
        emit(rows, fmt, columns=TRAINING_COLUMNS, title=title, console=_console())
    else:
        if layout:
            raise fail("--layout applies to training jobs; a service's layout is spec.parallelism")
        rows = _serving_rows(workload, devices, priced)
        emit(rows, fmt, columns=SERVING_COLUMNS, console=_console(),
             title=f"{workload.metadata.name}: one replica, ranked by $ per million output tokens")
    if fmt is OutputFormat.table:
        for row in rows:
            for note in row.get("notes") or []:
                _notes.print(f"note: {row['accelerator']} ({row['offer'] or 'no offer'}): {note}")
