"""``suanli simulate``: replay a workload on a simulated cluster under one or more policies, side by side.

Local and offline, like ``suanli estimate``: the same scheduler code the control plane runs,
on a virtual clock (``controlplane.simulator``). One row per policy: average/p50/p99 JCT,
queueing delay, makespan, utilization, cost, preemptions, migrations and the scheduler's own
time per round. Bad input prints one paragraph on stderr and exits 2.

Examples::

    suanli simulate --cluster 36:36:36 --jobs small_test.trace --throughputs simulation_throughputs.json \\
        --policy suanli --policy las --policy fifo
    suanli simulate --cluster pools.yaml --jobs jobs.yaml --policy suanli --policy cheapest \\
        --spot-trace aws-h100-spot-use1=p3-trace.csv -o json
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from controlplane.cli.context import resolve_output
from controlplane.cli.errors import friendly_errors
from controlplane.cli.output import Column, OutputFormat, emit
from controlplane.scheduling.policies import get_policy
from controlplane.simulator.harness import SimulationConfig
from controlplane.simulator.setup import load_inputs
from controlplane.simulator.setup import simulate as run_policy

TABLE_WIDTH = 200

COLUMNS: list[Column] = [
    ("policy", "policy"), ("jobs", "jobs"), ("done", "completed"),
    ("avg JCT h", lambda r: f"{r['avg_jct_h']:.2f}"), ("p50 JCT h", lambda r: f"{r['p50_jct_h']:.2f}"),
    ("p99 JCT h", lambda r: f"{r['p99_jct_h']:.2f}"), ("avg queue h", lambda r: f"{r['avg_queueing_h']:.2f}"),
    ("makespan h", lambda r: f"{r['makespan_h']:.2f}"), ("util", lambda r: f"{100 * r['utilization']:.1f}%"),
    ("cost $", lambda r: f"{r['cost']:,.0f}"), ("preempt", "preemptions"), ("spot lost", "spot_preemptions"),
    ("migrate", "migrations"), ("rounds", "rounds"), ("round p50 ms", lambda r: f"{r['round_ms_p50']:.2f}"),
    ("round p99 ms", lambda r: f"{r['round_ms_p99']:.2f}"),
]


@friendly_errors
def simulate(
    ctx: typer.Context,
    cluster: str = typer.Option(..., "--cluster", help="POOLS.yaml or Gavel counts V:P:K (e.g. 36:36:36)"),
    jobs: Path = typer.Option(..., "--jobs", help="jobspecs YAML (TrainingJob, Queue) or Gavel .trace"),
    throughputs: Path | None = typer.Option(None, "--throughputs",
                                            help="Gavel simulation_throughputs.json (measured rates)"),
    policy: list[str] = typer.Option(["suanli"], "--policy", help="suanli, fifo, las or cheapest (repeatable)"),
    spot_trace: list[str] | None = typer.Option(None, "--spot-trace",
                                                help="PATH or POOL=PATH: Bamboo .csv or Can't-Be-Late .json"),
    round_seconds: float = typer.Option(360.0, "--round-seconds", min=1.0, help="periodic round interval"),
    jobs_detail: bool = typer.Option(False, "--per-job", help="also print every job's record (json/yaml)"),
    output: OutputFormat | None = typer.Option(None, "-o", "--output", help="table, json or yaml"),
) -> None:
    """Simulate the workload under each policy and print one row per policy."""
    names = [get_policy(name).name for name in policy]
    inputs = load_inputs(cluster=cluster, jobs=jobs, throughputs=throughputs, spot_traces=spot_trace or [])
    config = SimulationConfig(round_s=round_seconds)
    rows: list[dict[str, Any]] = []
    details: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        result = run_policy(inputs, name, config=config)
        row = result.summary.to_dict()
        row["violations"] = len(result.violations)
        rows.append(row)
        if jobs_detail:
            details[name] = [record.to_dict() for record in result.records]
    fmt = resolve_output(ctx, output)
    title = (f"{len(inputs.jobs)} jobs on {inputs.cluster.devices} devices "
             f"({', '.join(pool.name for pool in inputs.cluster.pools)})")
    if fmt is OutputFormat.table:
        emit(rows, fmt, columns=COLUMNS, title=title, console=Console(width=TABLE_WIDTH, soft_wrap=True))
        return
    emit({"title": title, "policies": rows, **({"jobs": details} if jobs_detail else {})}, fmt)
