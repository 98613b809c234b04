"""``suanli experts place``: MoE expert placement from per-layer expert loads (local, no server).

Reads ``LOADS.json`` (``{"loads": [[tokens per expert] per layer]}``), places every layer's
experts (and replicas of hot experts) on ``--nodes`` x ``--devices-per-node`` devices with
``--slots-per-device`` slots each, keeping each of the ``--groups`` expert groups on few nodes,
and prints the plan: per layer the experts on each device (device index order, node = device //
devices-per-node) and its metrics. With ``--current PLAN.json`` (a previous ``-o json`` output)
nodes and devices keep as many replicas as possible; with ``--max-moves M`` as well, at most M
replicas per layer are copied, best balance gain first.

Bad input (unreadable or malformed JSON, shapes that cannot work) prints one line on stderr and
exits 2. Mount with ``app.add_typer(experts.app, name="experts")``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from controlplane.cli.context import resolve_output
from controlplane.cli.errors import EXIT_BAD_INPUT, stderr
from controlplane.cli.output import Column, OutputFormat, emit
from controlplane.domain.errors import InvalidInputError
from controlplane.placement.experts import (
    DEFAULT_TOLERANCE,
    ClusterShape,
    loads_from_dict,
    place_experts,
    plan_from_dict,
)

app = typer.Typer(help="MoE expert placement: replicas of hot experts, groups on few nodes (local, no server).",
                  no_args_is_help=True)

LoadsOpt = Annotated[Path, typer.Option("--loads", help='JSON {"loads": [[tokens per expert] per layer]}')]
NodesOpt = Annotated[int, typer.Option("--nodes", help="nodes in the expert-parallel group")]
DevicesOpt = Annotated[int, typer.Option("--devices-per-node", help="devices (GPUs) per node")]
SlotsOpt = Annotated[int, typer.Option("--slots-per-device", help="expert slots per device")]
GroupsOpt = Annotated[int, typer.Option("--groups", help="expert groups (DeepSeek-V3: 8)")]
CurrentOpt = Annotated[Path | None, typer.Option("--current", help="current plan (JSON output of this command)")]
MovesOpt = Annotated[int | None, typer.Option("--max-moves", help="replica copies allowed per layer (needs --current)")]
ToleranceOpt = Annotated[float, typer.Option(
    "--tolerance", help="node-load deviation traded for fewer nodes per group")]
OutputOpt = Annotated[OutputFormat | None, typer.Option("--output", "-o", help="table, json or yaml")]

@app.callback()
def experts() -> None:
    """MoE expert placement (local, no server needed)."""


LAYER_COLUMNS: list[Column] = [
    ("layer", "layer"), ("device max/mean", "device_max_over_mean"), ("node max/mean", "node_max_over_mean"),
    ("group span", "mean_group_span"), ("max span", "max_group_span"), ("max replicas", "replicas_max"),
    ("moved", "experts_moved"),
]


@app.command("place")
def place(ctx: typer.Context, loads: LoadsOpt, nodes: NodesOpt, devices_per_node: DevicesOpt,
          slots_per_device: SlotsOpt, groups: GroupsOpt, current: CurrentOpt = None, max_moves: MovesOpt = None,
          tolerance: ToleranceOpt = DEFAULT_TOLERANCE, output: OutputOpt = None) -> None:
    """Place the experts of every layer and print the plan with its metrics."""
    try:
        weights = loads_from_dict(_read_json(loads, "loads"))
        shape = ClusterShape(nodes=nodes, devices_per_node=devices_per_node, slots_per_device=slots_per_device,
                             groups=groups)
        shape.validate(weights.shape[1])
        placement = None
        if current is not None:
            placement = plan_from_dict(_read_json(current, "current"), layers=weights.shape[0],
                                       experts=weights.shape[1], shape=shape)
        plan = place_experts(weights, nodes=nodes, devices_per_node=devices_per_node,
                             slots_per_device=slots_per_device, groups=groups, current=placement,
                             max_moves=max_moves, tolerance=tolerance)
    except InvalidInputError as exc:
        stderr.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    fmt = resolve_output(ctx, output)
    if fmt is OutputFormat.table:
        summary = plan.summary()
        rows: list[dict[str, Any]] = [{"layer": index, **layer.metrics.to_dict()}
                                      for index, layer in enumerate(plan.layers)]
        title = (f"{summary['algorithm']}: device max/mean {summary['device_max_over_mean']:.4f}, "
                 f"group span {summary['mean_group_span']:.3f}, {summary['seconds'] * 1000:.1f} ms")
        emit(rows, fmt, columns=LAYER_COLUMNS, title=title)
        for note in plan.notes:
            stderr.print(f"note: {note}", markup=False, highlight=False)
        return
    if fmt is OutputFormat.json:  # plain dump: rich's pretty printer is slow on 58 x 320 device lists
        typer.echo(json.dumps(plan.to_dict()))
        return
    emit(plan.to_dict(), fmt)


def _read_json(path: Path, field: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror or exc}", field=field,
                                hint="check the path") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{path} is not valid JSON (line {exc.lineno}: {exc.msg})", field=field,
                                hint="write a JSON document") from None
