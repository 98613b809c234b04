"""``suanli place JOB.yaml --pools POOLS.yaml``: where every rank of a training job would run.

Local and offline like ``suanli estimate``: builds the topology of the pools file (each pool at
``spec.nodes.max`` nodes), marks the devices of ``--occupied`` as taken, places the job with the
topology-aware placer (or a baseline, ``--placer``) and prints the placement: a summary
(pools, types, communication seconds per step, pipeline bubble, reasons) and a compact map of
node → ranks with their group membership; ``-o json|yaml`` prints the whole placement.

STATE.json (``--occupied``)::

    {"occupied": {"<node name>": [0, 1, 2] | "all", ...},
     "unavailable": ["<node name>", ...]}

Node names are those the topology gives pool nodes: ``<pool>-n0000``, ``<pool>-n0001``, ...
``occupied`` lists the local device indices already in use on a node (or ``"all"``);
``unavailable`` (optional) lists cordoned or lost nodes.

Exit codes: 0 placed; 1 no placement possible now (the reasons go to stderr, and with
``-o json|yaml`` the failure itself to stdout); 2 bad input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from controlplane.cli.context import resolve_output
from controlplane.cli.errors import EXIT_FAILURE, friendly_errors, stderr
from controlplane.cli.output import OutputFormat, emit
from controlplane.domain.errors import InvalidInputError
from controlplane.placement import (
    FirstFitPlacer,
    Placement,
    Placer,
    RoundRobinPlacer,
    TopologyAwarePlacer,
    request_from_training_job,
)
from controlplane.placement.report import node_map, placement_summary
from controlplane.topology import Topology, build_topology, catalog_link_defaults, pool_shape_from_spec
from jobspecs import AcceleratorPool, TrainingJob, load_file

OCCUPIED_HELP = ('JSON of devices already in use: {"occupied": {"<node>": [device indices] | "all"}, '
                 '"unavailable": ["<node>"]}; nodes are named <pool>-n0000, <pool>-n0001, ...')
PLACERS: dict[str, type[TopologyAwarePlacer] | type[FirstFitPlacer] | type[RoundRobinPlacer]] = {
    "topology-aware": TopologyAwarePlacer, "first-fit": FirstFitPlacer, "round-robin": RoundRobinPlacer}
TABLE_WIDTH = 160

JobArg = Annotated[Path, typer.Argument(help="TrainingJob spec (YAML or JSON)")]
PoolsOpt = Annotated[Path, typer.Option("--pools", help="AcceleratorPool file: the cluster to place into")]
OccupiedOpt = Annotated[Path | None, typer.Option("--occupied", help=OCCUPIED_HELP)]
OutputOpt = Annotated[OutputFormat | None, typer.Option("-o", "--output", help="table, json or yaml")]
PlacerOpt = Annotated[str, typer.Option("--placer", help="topology-aware (default), first-fit or round-robin")]
PoolFilterOpt = Annotated[list[str] | None, typer.Option("--pool", help="only these pools (repeatable)")]
CrossRegionOpt = Annotated[bool, typer.Option("--allow-cross-region", help="groups may span regions")]
MixedOpt = Annotated[bool, typer.Option("--allow-mixed-types",
                                        help="pipeline stages may sit on different accelerator types")]


def _training_job(path: Path) -> TrainingJob:
    jobs = [document for document in load_file(path) if isinstance(document, TrainingJob)]
    if not jobs:
        raise InvalidInputError(f"{path} holds no TrainingJob", field="JOB",
                                hint="suanli place reads a TrainingJob spec")
    if len(jobs) > 1:
        stderr.print(f"note: {path} holds {len(jobs)} jobs; placing the first, {jobs[0].metadata.name}")
    return jobs[0]


def _topology(path: Path) -> Topology:
    pools = [document for document in load_file(path) if isinstance(document, AcceleratorPool)]
    if not pools:
        raise InvalidInputError(f"{path} holds no AcceleratorPool", field="--pools",
                                hint="pass a file of AcceleratorPool documents, e.g. jobspecs/examples/pools.yaml")
    return build_topology([pool_shape_from_spec(pool) for pool in pools], link_defaults=catalog_link_defaults())


def apply_occupied_state(topology: Topology, state: Any, source: str = "--occupied") -> None:
    """Mark the devices and nodes of a STATE document as taken (see the module docstring)."""
    if not isinstance(state, dict) or not set(state) <= {"occupied", "unavailable"}:
        raise InvalidInputError("expected an object with 'occupied' and optionally 'unavailable'", field=source,
                                hint=OCCUPIED_HELP)
    occupied = state.get("occupied", {})
    if not isinstance(occupied, dict):
        raise InvalidInputError("'occupied' must map node names to device indices or \"all\"",
                                field=f"{source}.occupied")
    taken: list[int] = []
    for node, indices in occupied.items():
        devices = topology.node_info(str(node)).devices
        if indices == "all":
            taken.extend(devices)
            continue
        if not isinstance(indices, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in indices):
            raise InvalidInputError(f"expected a list of device indices or \"all\", got {indices!r}",
                                    field=f"{source}.occupied.{node}")
        for index in indices:
            taken.append(topology.device_id(str(node), index))
    topology.allocate(taken, owner="occupied")
    unavailable = state.get("unavailable", [])
    if not isinstance(unavailable, list):
        raise InvalidInputError("'unavailable' must be a list of node names", field=f"{source}.unavailable")
    for node in unavailable:
        topology.mark_node_unavailable(str(node))


def _load_state(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InvalidInputError(f"{path} is not valid JSON: {error.msg} at line {error.lineno}",
                                field="--occupied", hint=OCCUPIED_HELP) from error


def _print_table(placement: Placement, topology: Topology) -> None:
    console = Console(soft_wrap=True, width=max(Console().width, TABLE_WIDTH))
    summary = {key: value for key, value in placement_summary(placement).items() if value is not None}
    emit(summary, OutputFormat.table, title=f"placement of {placement.job_id}", console=console)
    for reason in placement.reasons:
        console.print(f"  - {reason}", markup=False, highlight=False)
    emit(node_map(placement, topology), OutputFormat.table, title="node → ranks", console=console)


@friendly_errors
def place(ctx: typer.Context, job: JobArg, pools: PoolsOpt, occupied: OccupiedOpt = None, output: OutputOpt = None,
          placer: PlacerOpt = "topology-aware", pool: PoolFilterOpt = None, allow_cross_region: CrossRegionOpt = False,
          allow_mixed_types: MixedOpt = False) -> None:
    """Place a training job's ranks on a cluster of pools and print the map and its cost."""
    if placer not in PLACERS:
        raise InvalidInputError(f"unknown placer {placer!r}", field="--placer", hint=f"use one of {', '.join(PLACERS)}")
    training_job = _training_job(job)
    topology = _topology(pools)
    if occupied is not None:
        apply_occupied_state(topology, _load_state(occupied))
    request = request_from_training_job(training_job, pools=tuple(pool) if pool else None,
                                        allow_cross_region=allow_cross_region, allow_mixed_types=allow_mixed_types)
    chosen: Placer = PLACERS[placer]()
    result = chosen.place(request, topology)
    fmt = resolve_output(ctx, output)
    if not isinstance(result, Placement):
        if fmt is not OutputFormat.table:
            emit(result.to_dict(), fmt)
        stderr.print(f"[bold red]cannot place {result.job_id}:[/] {result.reason}", markup=True)
        for detail in result.details:
            stderr.print(f"  - {detail}", markup=False, highlight=False)
        raise typer.Exit(EXIT_FAILURE)
    if fmt is OutputFormat.table:
        _print_table(result, topology)
    else:
        emit(result.to_dict(), fmt)
