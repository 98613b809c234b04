"""Commands on spec files: ``apply``, ``submit``, ``validate`` and ``schema``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

import jobspecs
from controlplane.cli.context import cli_context, resolve_output
from controlplane.cli.documents import load_documents, sort_for_apply, to_wire
from controlplane.cli.errors import EXIT_BAD_INPUT, fail, friendly_errors
from controlplane.cli.output import OutputFormat, emit
from controlplane.cli.views import job_row, job_table_columns

console = Console(soft_wrap=True, highlight=False)

Files = Annotated[list[Path], typer.Option("--filename", "-f", help="spec file(s); multi-document YAML is fine")]
OutputOpt = Annotated[OutputFormat | None, typer.Option("--output", "-o", help="table, json or yaml")]


@friendly_errors
def apply(ctx: typer.Context, filename: Files) -> None:
    """Create or update pools, queues, jobs and services from files. Safe to repeat."""
    items = sort_for_apply(load_documents(filename))
    with cli_context(ctx).client() as client:
        for _, resource in items:
            result = client.apply(to_wire(resource))
            team = f"{result.team}/" if result.team and result.kind != "AcceleratorPool" else ""
            console.print(f"{result.kind.lower()}/{team}{result.name} {result.outcome.value}")


@friendly_errors
def submit(ctx: typer.Context, file: Annotated[Path, typer.Argument(help="a TrainingJob/InferenceService file")],
           idempotency_key: Annotated[str | None, typer.Option(help="retry-safe key: resubmitting with the "
                                                                     "same key returns the first job")] = None,
           output: OutputOpt = None) -> None:
    """Submit the jobs and services in FILE."""
    items = load_documents([file])
    workloads = [r for _, r in items if r.kind in ("TrainingJob", "InferenceService")]
    if not workloads:
        raise fail(f"{file}: no TrainingJob or InferenceService in this file",
                   hint="use `suanli apply -f` for pools and queues")
    fmt = resolve_output(ctx, output)
    with cli_context(ctx).client() as client:
        submitted = []
        for index, resource in enumerate(workloads):
            key = f"{idempotency_key}-{index}" if idempotency_key and len(workloads) > 1 else idempotency_key
            submitted.append(client.submit(to_wire(resource), idempotency_key=key))
    rows = [job_row(job) for job in submitted]
    if fmt is OutputFormat.table:
        emit(rows, fmt, columns=job_table_columns())
    else:
        emit([job.to_json_dict() for job in submitted], fmt)


def validate(files: Annotated[list[Path], typer.Argument(help="spec files to check")]) -> None:
    """Check spec files offline; every problem is printed as file:line: field: message."""
    failed = False
    for path in files:
        try:
            resources = jobspecs.load_file(path)
        except jobspecs.SpecError as exc:
            failed = True
            for line in str(exc).splitlines():
                Console(stderr=True, soft_wrap=True, highlight=False).print(f"[bold red]error:[/] {line}")
            continue
        except OSError as exc:
            failed = True
            Console(stderr=True, highlight=False).print(f"[bold red]error:[/] {path}: {exc.strerror or exc}")
            continue
        kinds = ", ".join(f"{r.kind}/{r.metadata.name}" for r in resources) or "no documents"
        console.print(f"[green]ok[/] {path}: {kinds}")
    if failed:
        raise typer.Exit(EXIT_BAD_INPUT)


def schema(kind: Annotated[str, typer.Argument(help="TrainingJob, InferenceService, AcceleratorPool or Queue")],
           crd: Annotated[bool, typer.Option("--crd", help="Kubernetes structural openAPIV3Schema")] = False) -> None:
    """Print the JSON Schema of a kind."""
    if kind not in jobspecs.KINDS:
        raise fail(f"unknown kind {kind!r}", hint=f"one of: {', '.join(sorted(jobspecs.KINDS))}")
    document = jobspecs.crd_openapi_schema(kind) if crd else jobspecs.json_schema(kind)
    typer.echo(json.dumps(document, indent=2))
