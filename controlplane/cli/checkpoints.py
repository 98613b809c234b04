"""``suanli checkpoints list JOB`` and ``suanli checkpoints describe JOB STEP``.

Mount with ``app.add_typer(checkpoints.app, name="checkpoints")``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console

from controlplane.cli.context import cli_context, resolve_output
from controlplane.cli.errors import friendly_errors
from controlplane.cli.output import Column, OutputFormat, emit
from controlplane.cli.views import age
from controlplane.wire.checkpoints import CheckpointView

app = typer.Typer(help="A training job's committed checkpoints and the tiers they are on.", no_args_is_help=True)
console = Console(soft_wrap=True, highlight=False)

TeamOpt = Annotated[str | None, typer.Option("--team", "-t", help="team of a job named by name")]
OutputOpt = Annotated[OutputFormat | None, typer.Option("--output", "-o", help="table, json or yaml")]
COLUMNS: list[Column] = [("STEP", "step"), ("CHECKPOINT", "checkpoint"), ("SIZE", "size"), ("TIERS", "tiers"),
                         ("SNAPSHOT", "snapshot"), ("PERSIST", "persist"), ("AGE", "age")]


def human_bytes(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1e3:.0f} ms" if value < 1 else f"{value:.1f} s"


def checkpoint_row(view: CheckpointView) -> dict[str, Any]:
    slowest = max((tier.persist_s for tier in view.tiers if tier.persist_s is not None), default=None)
    return {"step": view.step, "checkpoint": view.checkpoint, "size": human_bytes(view.bytes),
            "tiers": [tier.tier for tier in view.tiers], "snapshot": _seconds(view.snapshot_s),
            "persist": _seconds(slowest), "age": age(view.created_at)}


@app.command("list")
@friendly_errors
def list_command(ctx: typer.Context, job: Annotated[str, typer.Argument(help="job name or uid")],
                 team: TeamOpt = None,
                 limit: Annotated[int | None, typer.Option(help="at most this many, newest first")] = None,
                 output: OutputOpt = None) -> None:
    """List the job's checkpoints, newest step first, with the tiers each is committed on."""
    fmt = resolve_output(ctx, output)
    with cli_context(ctx).client() as client:
        views = client.list_checkpoints(job, team=team, limit=limit)
    if fmt is OutputFormat.table:
        if not views:
            console.print(f"no checkpoints of {job} yet")
            return
        emit([checkpoint_row(view) for view in views], fmt, columns=COLUMNS)
    else:
        emit([view.to_json_dict() for view in views], fmt)


@app.command("describe")
@friendly_errors
def describe_command(ctx: typer.Context, job: Annotated[str, typer.Argument(help="job name or uid")],
                     step: Annotated[str, typer.Argument(help="step, or checkpoint id")],
                     team: TeamOpt = None, output: OutputOpt = None) -> None:
    """Show one checkpoint: size, snapshot time, and per tier its URI, commit time and persist time."""
    fmt = resolve_output(ctx, output)
    with cli_context(ctx).client() as client:
        view = client.get_checkpoint(job, step, team=team)
    if fmt is not OutputFormat.table:
        emit(view.to_json_dict(), fmt)
        return
    console.print(f"[bold]checkpoint[/] {view.checkpoint}  step={view.step}  job={view.job}")
    console.print(f"  attempt:   {view.attempt or '-'}")
    console.print(f"  size:      {human_bytes(view.bytes)}   snapshot (blocking): {_seconds(view.snapshot_s)}")
    console.print(f"  durable:   {'yes' if view.durable else 'no (host memory only)'}   age: {age(view.created_at)}")
    emit([{"tier": tier.tier, "uri": tier.uri, "committed": age(tier.committed_at), "persist": _seconds(tier.persist_s)}
          for tier in view.tiers], OutputFormat.table, title="tiers",
         columns=[("TIER", "tier"), ("URI", "uri"), ("COMMITTED", "committed"), ("PERSIST", "persist")])
