"""Human-readable views of a ``Placement``: a summary and a compact node → ranks map.

Owns ``compact_ranges`` (``[0, 1, 2, 5]`` → ``"0-2,5"``), ``placement_summary`` and
``node_map`` (one row per node: its pool and type, the local devices used, the ranks on them
and which pipeline stages, data-parallel replicas, context slices, expert groups and
tensor-parallel groups those ranks belong to). Pure; the CLI renders the rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from controlplane.placement.types import Placement
from controlplane.topology.topology import Topology


def compact_ranges(values: Iterable[int]) -> str:
    """Sorted distinct integers as comma-separated runs, e.g. ``0-3,8-11``."""
    ordered = sorted(set(values))
    if not ordered:
        return "-"
    runs: list[tuple[int, int]] = []
    start = previous = ordered[0]
    for value in ordered[1:]:
        if value != previous + 1:
            runs.append((start, previous))
            start = value
        previous = value
    runs.append((start, previous))
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def placement_summary(placement: Placement) -> dict[str, Any]:
    """Key figures of a placement, for a key/value table."""
    breakdown = ", ".join(f"{kind} {seconds:.4g}" for kind, seconds in placement.comm_breakdown_s.items())
    return {
        "job": placement.job_id,
        "placer": placement.placer,
        "ranks": placement.world_size,
        "nodes": len(set(placement.nodes)),
        "pools": ", ".join(dict.fromkeys(placement.pools)),
        "accelerators": ", ".join(dict.fromkeys(placement.accelerators)),
        "stage types": "/".join(placement.stage_accelerators) if len(set(placement.stage_accelerators)) > 1 else None,
        "stage layers": "/".join(str(n) for n in placement.stage_layers) or None,
        "comm s/step": f"{placement.comm_cost_s:.4g}",
        "comm by kind": breakdown or None,
        "bubble": f"{placement.predicted_bubble:.1%}",
    }


def node_map(placement: Placement, topology: Topology) -> list[dict[str, Any]]:
    """One row per node, in order of the node's first rank (module docstring)."""
    tp_group = {rank: index for index, group in enumerate(placement.groups.get("tp", ())) for rank in group}
    ep_group = {rank: index for index, group in enumerate(placement.groups.get("ep", ())) for rank in group}
    show_cp = any(c.cp for c in placement.coordinates)
    rows = []
    for node, ranks in placement.node_ranks().items():
        first_device = topology.node_info(node).devices.start
        coordinates = [placement.coordinates[rank] for rank in ranks]
        row: dict[str, Any] = {
            "node": node,
            "pool": placement.pools[ranks[0]],
            "accelerator": placement.accelerators[ranks[0]],
            "devices": compact_ranges(placement.devices[rank] - first_device for rank in ranks),
            "ranks": compact_ranges(ranks),
            "stage": compact_ranges(c.pp for c in coordinates),
            "dp": compact_ranges(c.dp for c in coordinates),
            "tp group": compact_ranges(tp_group.get(rank, rank) for rank in ranks),
        }
        if show_cp:
            row["cp"] = compact_ranges(c.cp for c in coordinates)
        if ep_group:
            row["ep group"] = compact_ranges(ep_group[rank] for rank in ranks)
        rows.append(row)
    return rows
