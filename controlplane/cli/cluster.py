"""``suanli pools list``, ``suanli queues list`` and ``suanli events``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from controlplane.cli.context import cli_context, resolve_output
from controlplane.cli.errors import friendly_errors
from controlplane.cli.output import OutputFormat, emit
from controlplane.cli.views import age

OutputOpt = Annotated[OutputFormat | None, typer.Option("--output", "-o", help="table, json or yaml")]

pools_app = typer.Typer(help="Accelerator pools.", no_args_is_help=True)
queues_app = typer.Typer(help="Team queues and quotas.", no_args_is_help=True)


@pools_app.command("list")
@friendly_errors
def list_pools(ctx: typer.Context, output: OutputOpt = None) -> None:
    """List accelerator pools with their capacity and price."""
    fmt = resolve_output(ctx, output)
    with cli_context(ctx).client() as client:
        pools = client.list_pools()
    if fmt is not OutputFormat.table:
        emit([p.to_json_dict() for p in pools], fmt)
        return
    rows: list[dict[str, Any]] = []
    for pool in pools:
        spec = pool.spec
        nodes = spec.get("nodes", {})
        rows.append({
            "name": pool.metadata.name, "provider": spec.get("provider"), "region": spec.get("region"),
            "zone": spec.get("zone"), "accelerator": spec.get("accelerator"),
            "capacity": spec.get("capacityType"), "perNode": spec.get("devicesPerNode"),
            "nodes": f"{nodes.get('min', 0)}..{nodes.get('max', 0)}" if isinstance(nodes, dict) else nodes,
            "price": pool.status.price_per_device_hour, "priceSource": pool.status.price_source,
        })
    emit(rows, fmt, columns=[("NAME", "name"), ("PROVIDER", "provider"), ("REGION", "region"), ("ZONE", "zone"),
                             ("ACCELERATOR", "accelerator"), ("CAPACITY", "capacity"), ("DEV/NODE", "perNode"),
                             ("NODES", "nodes"), ("$/DEVICE-H", "price"), ("PRICE SOURCE", "priceSource")])


@queues_app.command("list")
@friendly_errors
def list_queues(ctx: typer.Context, team: Annotated[str | None, typer.Option("--team", "-t")] = None,
                output: OutputOpt = None) -> None:
    """List team queues and their quotas."""
    fmt = resolve_output(ctx, output)
    with cli_context(ctx).client() as client:
        queues = client.list_queues(team=team)
    if fmt is not OutputFormat.table:
        emit([q.to_json_dict() for q in queues], fmt)
        return
    rows = []
    for queue in queues:
        quotas = queue.spec.get("quotas", {})
        devices = quotas.get("devices") or {}
        rows.append({"team": queue.metadata.team, "name": queue.metadata.name,
                     "devices": ", ".join(f"{k}:{v}" for k, v in devices.items()) or "-",
                     "units": quotas.get("normalizedUnits"), "dollars": quotas.get("dollarsPerDay"),
                     "weight": queue.spec.get("weight", 1.0)})
    emit(rows, fmt, columns=[("TEAM", "team"), ("NAME", "name"), ("DEVICE QUOTA", "devices"),
                             ("H100-EQ", "units"), ("$/DAY", "dollars"), ("WEIGHT", "weight")])


@friendly_errors
def events(ctx: typer.Context, job: Annotated[str | None, typer.Option(help="only this job (uid)")] = None,
           entity: Annotated[str | None, typer.Option(help="job, attempt, pool, queue or node")] = None,
           type_prefix: Annotated[str | None, typer.Option("--type", help="type prefix, e.g. job.")] = None,
           limit: Annotated[int, typer.Option(help="at most this many, oldest first")] = 100,
           output: OutputOpt = None) -> None:
    """Show the audit log."""
    fmt = resolve_output(ctx, output)
    with cli_context(ctx).client() as client:
        page = client.list_events(job=job, entity=entity, type_prefix=type_prefix, limit=limit)
    if fmt is not OutputFormat.table:
        emit([e.to_json_dict() for e in page.items], fmt)
        return
    emit([{"seq": e.seq, "age": age(e.time), "type": e.type, "object": f"{e.entity}/{e.entity_id[:8]}",
           "message": e.message} for e in page.items], fmt,
         columns=[("SEQ", "seq"), ("AGE", "age"), ("TYPE", "type"), ("OBJECT", "object"), ("MESSAGE", "message")])
