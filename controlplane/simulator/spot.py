"""Spot capacity traces: when nodes of a spot pool are taken away and given back.

Owns ``NodeChange`` and the readers of the two public formats, mapped onto a pool's nodes:

- *event traces* (Bamboo, NSDI'23): CSV lines ``time_ms,add|remove,nodeN``. Trace nodes are
  mapped to the pool's node indices in order of first appearance (wrapping around when the
  trace has more nodes than the pool). A mapped node is unavailable until its first ``add``;
  pool nodes no trace node maps to stay available throughout.
- *availability traces* (Can't Be Late, NSDI'24): JSON ``{"metadata": {"gap_seconds": G},
  "data": [v0, v1, ...]}`` with one value per tick of G seconds; for the 1-node traces
  **1 means spot unavailable (or preempted), 0 available**. The trace applies to every node
  of the pool at once (a one-node trace says whether the market has capacity at all).

``load_spot_trace`` picks the reader from the file suffix (``.csv`` or ``.json``) and raises
``InvalidInputError`` naming the line or field of anything it cannot read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from controlplane.domain.errors import InvalidInputError


@dataclass(frozen=True, slots=True)
class NodeChange:
    time: float
    """Seconds from the start of the run."""
    node: int
    """Index of the node within its pool."""
    available: bool


def event_trace_rows(text: str, *, source: str = "<trace>") -> list[tuple[float, int, bool, str]]:
    """The ``(seconds, line number, added, node name)`` rows of Bamboo-style ``time_ms,add|remove,nodeN``
    lines, in file order; a bad line raises ``InvalidInputError`` naming the file and line."""
    rows: list[tuple[float, int, bool, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [part.strip() for part in line.split(",")]
        if len(parts) != 3 or parts[1] not in ("add", "remove"):
            raise InvalidInputError(f"{source}:{number}: expected 'time_ms,add|remove,node', got {line!r}")
        try:
            rows.append((float(parts[0]) / 1000.0, number, parts[1] == "add", parts[2]))
        except ValueError:
            raise InvalidInputError(f"{source}:{number}: {parts[0]!r} is not a time in milliseconds") from None
    return rows


def read_event_trace(text: str, *, pool_nodes: int, source: str = "<trace>") -> list[NodeChange]:
    """Bamboo-style ``time_ms,add|remove,nodeN`` lines onto ``pool_nodes`` nodes."""
    if pool_nodes < 1:
        raise InvalidInputError(f"{source}: the pool has no nodes to map the trace onto")
    mapping: dict[str, int] = {}
    changes: list[NodeChange] = []
    for time_s, _, added, name in event_trace_rows(text, source=source):
        node = mapping.setdefault(name, len(mapping) % pool_nodes)
        changes.append(NodeChange(time_s, node, added))
    initial = [NodeChange(0.0, node, False) for node in sorted(set(mapping.values()))]
    return initial + sorted(changes, key=lambda change: change.time)


def read_availability_trace(text: str, *, pool_nodes: int, source: str = "<trace>") -> list[NodeChange]:
    """Can't-Be-Late ``{"metadata": {"gap_seconds": G}, "data": [...]}``, 1 = unavailable."""
    try:
        document = json.loads(text)
        gap = float(document["metadata"]["gap_seconds"])
        values = [int(value) for value in document["data"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInputError(f"{source}: not an availability trace ({exc})",
                                hint='expected {"metadata": {"gap_seconds": G}, "data": [0, 1, ...]}') from None
    if gap <= 0:
        raise InvalidInputError(f"{source}: gap_seconds must be positive, got {gap:g}")
    changes: list[NodeChange] = []
    available = True
    for tick, value in enumerate(values):
        now_available = value == 0
        if now_available != available:
            changes.extend(NodeChange(tick * gap, node, now_available) for node in range(pool_nodes))
            available = now_available
    return changes


def load_spot_trace(path: Path, *, pool_nodes: int) -> list[NodeChange]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"cannot read spot trace {path}: {exc.strerror or exc}", field="--spot-trace") from None
    if path.suffix.lower() == ".json":
        return read_availability_trace(text, pool_nodes=pool_nodes, source=str(path))
    if path.suffix.lower() in (".csv", ".txt"):
        return read_event_trace(text, pool_nodes=pool_nodes, source=str(path))
    raise InvalidInputError(f"unknown spot trace format {path.name!r}", field="--spot-trace",
                            hint="use a Bamboo event trace (.csv) or a Can't-Be-Late availability trace (.json)")
