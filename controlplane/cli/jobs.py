"""``suanli jobs list|describe|cancel``: workloads as the user sees them."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console

from controlplane.cli.context import cli_context, resolve_output
from controlplane.cli.errors import friendly_errors
from controlplane.cli.output import OutputFormat, emit
from controlplane.cli.views import age, describe_progress_line, job_row, job_table_columns, placement_rows
from controlplane.wire import AttemptView
from controlplane.wire.models import DisruptionView

app = typer.Typer(help="List, describe and cancel training jobs and inference services.", no_args_is_help=True)
console = Console(soft_wrap=True, highlight=False)
EVENTS_IN_DESCRIBE = 12


class WorkloadKind(StrEnum):
    training = "training"
    inference = "inference"

    @property
    def api_kind(self) -> str:
        return "TrainingJob" if self is WorkloadKind.training else "InferenceService"


KindOpt = Annotated[WorkloadKind, typer.Option("--kind", "-k", help="training jobs or inference services")]
TeamOpt = Annotated[str | None, typer.Option("--team", "-t", help="team of a job named by name")]
OutputOpt = Annotated[OutputFormat | None, typer.Option("--output", "-o", help="table, json or yaml")]


@app.command("list")
@friendly_errors
def list_jobs(ctx: typer.Context, team: TeamOpt = None,
              status: Annotated[str | None, typer.Option(help="comma-separated, e.g. PENDING,RUNNING")] = None,
              queue: Annotated[str | None, typer.Option()] = None,
              kind: KindOpt = WorkloadKind.training,
              limit: Annotated[int | None, typer.Option(help="at most this many (default: all)")] = None,
              output: OutputOpt = None) -> None:
    """List jobs, newest last."""
    fmt = resolve_output(ctx, output)
    with cli_context(ctx).client() as client:
        jobs = []
        for job in client.iter_jobs(kind=kind.api_kind, team=team, status=status, queue=queue):
            jobs.append(job)
            if limit is not None and len(jobs) >= limit:
                break
    if fmt is OutputFormat.table:
        emit([job_row(j) for j in jobs], fmt, columns=job_table_columns())
    else:
        emit([j.to_json_dict() for j in jobs], fmt)


@app.command("describe")
@friendly_errors
def describe(ctx: typer.Context, job: Annotated[str, typer.Argument(help="job name or uid")],
             team: TeamOpt = None, kind: KindOpt = WorkloadKind.training, output: OutputOpt = None) -> None:
    """Show a job: its spec summary, status and why it waits, attempts and recent events."""
    fmt = resolve_output(ctx, output)
    with cli_context(ctx).client() as client:
        view = client.get_job(job, team=team, kind=kind.api_kind)
        events = client.list_events(job=view.metadata.uid, limit=200).items
    if fmt is not OutputFormat.table:
        data = view.to_json_dict()
        data["events"] = [e.to_json_dict() for e in events]
        emit(data, fmt)
        return
    row = job_row(view)
    console.print(f"[bold]{view.kind}[/] {row['team']}/{row['name']}  uid={row['uid']}")
    console.print(f"  status:    [bold]{row['status']}[/]" + (f" — {row['message']}" if row["message"] else ""))
    console.print(f"  queue:     {row['queue']}   priority: {row['priority']} ({view.status.priority})")
    console.print(f"  resources: {row['devices'] or '-'} × {row['types']}")
    parallelism = view.spec.get("parallelism") or {}
    if parallelism:
        console.print("  layout:    " + " ".join(f"{k}={v}" for k, v in parallelism.items()))
    console.print(f"  restarts:  {view.status.restarts}   age: {row['age']}")
    if view.status.attempts:
        latest = view.status.attempts[-1]
        describe_progress(latest, view.spec.get("totalSteps"))
        cost = view.status.cost
        if cost.dollars:
            by_pool = ", ".join(f"{pool} ${dollars:,.4f}" for pool, dollars in cost.by_pool.items())
            console.print(f"  cost:      ${cost.dollars:,.4f} for {cost.device_hours:,.4f} device-hours ({by_pool})")
        emit([a.to_json_dict() for a in view.status.attempts], OutputFormat.table, title="attempts",
             columns=[("#", "number"), ("STATUS", "status"), ("POOL", "pool"), ("ACCELERATOR", "accelerator"),
                      ("STARTED", "startedAt"), ("ENDED", "endedAt"), ("$", "costDollars"),
                      ("REASON", "exitReason")])
        if latest.placement:
            emit(placement_rows(latest.placement), OutputFormat.table,
                 title=f"placement of attempt {latest.number} ({latest.placement.get('layout') or '-'})",
                 columns=[("NODE", "node"), ("RANKS", "ranks"), ("GROUPS", "groups")])
    for disruption in view.status.disruptions:
        print_disruption(disruption)
    if events:
        shown = events[-EVENTS_IN_DESCRIBE:]
        title = "events" if len(shown) == len(events) else (
            f"last {len(shown)} of {len(events)} events (all: suanli events --job {view.metadata.uid})")
        emit([{"age": age(e.time), "type": e.type, "message": e.message} for e in shown], OutputFormat.table,
             title=title, columns=[("AGE", "age"), ("TYPE", "type"), ("MESSAGE", "message")])


CAUSES = {"preemption-notice": "spot preemption notice", "node-lost": "node lost without notice",
          "failure": "rank failure", "regrow": "grown back to full size", "stopped": "stopped by the control plane"}


def print_disruption(disruption: DisruptionView) -> None:
    """One disruption: a headline with the steps lost, then its timeline as offsets from its start."""
    lost = "?" if disruption.steps_lost is None else str(disruption.steps_lost)
    colour = "green" if disruption.steps_lost == 0 else "yellow"
    cause = CAUSES.get(disruption.cause, disruption.cause)
    console.print(f"\n[bold]disruption of attempt {disruption.attempt}[/]: {cause} on {', '.join(disruption.nodes)} "
                  f"({disruption.pool}) — [{colour}]{lost} steps lost[/]")
    if disruption.plan:
        console.print(f"  re-plan:   {disruption.plan}")
    for entry in disruption.timeline:
        console.print(f"  t+{entry.offset_s:6.1f}s  {entry.what}")


@app.command("timeline")
@friendly_errors
def timeline(ctx: typer.Context, job: Annotated[str, typer.Argument(help="job name or uid")],
             team: TeamOpt = None, output: OutputOpt = None) -> None:
    """How the job came back from each disruption: notice, checkpoint, new placement, resume, steps lost."""
    fmt = resolve_output(ctx, output)
    with cli_context(ctx).client() as client:
        view = client.get_job(job, team=team, kind="TrainingJob")
    if fmt is not OutputFormat.table:
        emit([d.to_json_dict() for d in view.status.disruptions], fmt)
        return
    if not view.status.disruptions:
        console.print(f"{view.metadata.name}: no disruption so far ({len(view.status.attempts)} attempt(s))")
    for disruption in view.status.disruptions:
        print_disruption(disruption)
    cost = view.status.cost
    if cost.dollars:
        by_pool = ", ".join(f"{pool} ${dollars:,.4f}" for pool, dollars in cost.by_pool.items())
        console.print(f"\ncost so far: ${cost.dollars:,.4f} ({by_pool})")


def describe_progress(attempt: AttemptView, total_steps: object) -> None:
    line = describe_progress_line(attempt.progress, total_steps)
    if line:
        console.print(f"  progress:  {line}")


@app.command("logs")
@friendly_errors
def logs(ctx: typer.Context, job: Annotated[str, typer.Argument(help="job name or uid")], team: TeamOpt = None,
         rank: Annotated[int, typer.Option("--rank", "-r", help="which rank")] = 0,
         attempt: Annotated[int | None, typer.Option(help="attempt number (default: the latest)")] = None,
         tail: Annotated[int | None, typer.Option(help="only the last N lines")] = None,
         follow: Annotated[bool, typer.Option("--follow", "-f", help="keep printing until the attempt ends")]
         = False, kind: KindOpt = WorkloadKind.training) -> None:
    """Print a rank's output (stdout and stderr of the training code)."""
    with cli_context(ctx).client() as client:
        chunk = client.job_logs(job, team=team, kind=kind.api_kind, rank=rank, attempt=attempt, tail=tail)
        for line in chunk.lines:
            typer.echo(line)
        while follow and not chunk.finished:
            time.sleep(1.0)
            chunk = client.job_logs(job, team=team, kind=kind.api_kind, rank=rank, attempt=chunk.attempt,
                                    offset=chunk.next_offset)
            for line in chunk.lines:
                typer.echo(line)


@app.command("cancel")
@friendly_errors
def cancel(ctx: typer.Context, job: Annotated[str, typer.Argument(help="job name or uid")],
           team: TeamOpt = None, kind: KindOpt = WorkloadKind.training,
           reason: Annotated[str | None, typer.Option(help="recorded in the job's events")] = None) -> None:
    """Cancel a job: waiting jobs end at once, running ones stop their attempt first."""
    with cli_context(ctx).client() as client:
        view = client.cancel_job(job, team=team, kind=kind.api_kind, reason=reason)
    console.print(f"{view.kind.lower()}/{view.metadata.team}/{view.metadata.name} {view.status.phase}")
