"""``suanli jobs watch``: live progress bars of running jobs until they end."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from controlplane.cli.context import cli_context
from controlplane.cli.errors import friendly_errors
from controlplane.wire import JobView

TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}
LIVE = "PENDING,SCHEDULED,RUNNING,CANCELLING"


def _stats(job: JobView) -> str:
    if not job.status.attempts:
        return job.status.phase
    attempt = job.status.attempts[-1]
    progress = attempt.progress
    parts = [f"{job.status.phase:<9}", f"attempt {attempt.number}"]
    if progress.get("loss") is not None:
        parts.append(f"loss {float(progress['loss']):.3f}")
    if progress.get("tokensPerSecond"):
        parts.append(f"{float(progress['tokensPerSecond']):,.0f} tok/s")
    if job.status.cost.dollars:
        parts.append(f"${job.status.cost.dollars:,.4f}")
    return "  ".join(parts)


@friendly_errors
def watch(ctx: typer.Context,
          jobs: Annotated[list[str] | None, typer.Argument(help="job names or uids (default: every live job)")]
          = None,
          team: Annotated[str | None, typer.Option("--team", "-t")] = None,
          interval: Annotated[float, typer.Option(help="seconds between refreshes")] = 1.0,
          timeout: Annotated[float | None, typer.Option(help="give up after this many seconds")] = None) -> None:
    """Show a progress bar per job (step, loss, tokens/s, cost) until every watched job has ended."""
    started = time.monotonic()
    with cli_context(ctx).client() as client, Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), console=Console(soft_wrap=True)) as bars:
        tasks: dict[str, TaskID] = {}
        names = list(jobs or [])
        while True:
            views = ([client.get_job(name, team=team) for name in names] if names
                     else list(client.iter_jobs(team=team, status=LIVE)))
            for view in views:
                uid = view.metadata.uid or view.metadata.name
                total = int(view.spec.get("totalSteps") or 1)
                step = int((view.status.attempts[-1].progress.get("step", 0) if view.status.attempts else 0) or 0)
                if uid not in tasks:
                    tasks[uid] = bars.add_task(f"{view.metadata.team}/{view.metadata.name}", total=total,
                                               stats=_stats(view))
                done = total if view.status.phase == "SUCCEEDED" else step
                bars.update(tasks[uid], completed=min(done, total), stats=_stats(view))
            if views and all(v.status.phase in TERMINAL for v in views):
                break
            if not views and not names:
                break
            if timeout is not None and time.monotonic() - started > timeout:
                break
            time.sleep(interval)
