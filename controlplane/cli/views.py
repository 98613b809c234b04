"""Table shapes of the objects the CLI prints."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from controlplane.cli.output import Column
from controlplane.wire import JobView


def age(when: datetime | None, now: datetime | None = None) -> str:
    if when is None:
        return "-"
    seconds = int(((now or datetime.now(UTC)) - when).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def job_row(job: JobView) -> dict[str, Any]:
    spec = job.spec
    resources = spec.get("resources", {}).get("accelerators", {})
    types = resources.get("types", "any")
    return {
        "name": job.metadata.name,
        "team": job.metadata.team,
        "kind": job.kind,
        "status": job.status.phase,
        "queue": job.status.queue,
        "priority": job.status.priority_class,
        "devices": resources.get("count"),
        "types": types if isinstance(types, str) else ",".join(types),
        "attempts": len(job.status.attempts),
        "age": age(job.metadata.created_at),
        "uid": job.metadata.uid,
        "message": job.status.message,
    }


def job_table_columns() -> list[Column]:
    return [("NAME", "name"), ("TEAM", "team"), ("STATUS", "status"), ("QUEUE", "queue"),
            ("PRIORITY", "priority"), ("DEVICES", "devices"), ("TYPES", "types"), ("ATTEMPTS", "attempts"),
            ("AGE", "age")]


def describe_progress_line(progress: dict[str, Any], total_steps: object) -> str:
    """``step 30/50 · loss 2.41 · 12.5 steps/s · 3,200 tokens/s`` (empty before the first report)."""
    if not progress or "step" not in progress:
        return ""
    parts = [f"step {progress['step']}/{total_steps}" if total_steps else f"step {progress['step']}"]
    if progress.get("loss") is not None:
        parts.append(f"loss {float(progress['loss']):.4f}")
    if progress.get("stepsPerSecond"):
        parts.append(f"{float(progress['stepsPerSecond']):.2f} steps/s")
    if progress.get("tokensPerSecond"):
        parts.append(f"{float(progress['tokensPerSecond']):,.0f} tokens/s")
    return " · ".join(parts)


def placement_rows(placement: dict[str, Any]) -> list[dict[str, Any]]:
    """A compact map of a stored placement: node -> ranks, with each rank's group coordinates."""
    by_node: dict[str, list[dict[str, Any]]] = {}
    for rank in placement.get("ranks", []):
        by_node.setdefault(rank["node"], []).append(rank)
    sizes = placement.get("parallelism", {})
    shown = [key for key in ("tp", "pp", "dp", "ep", "cp") if int(sizes.get(key, 1)) > 1]
    rows = []
    for node, ranks in by_node.items():
        groups = ["".join(f"{key}{r['coordinates'].get(key, 0)}" for key in shown) for r in ranks] if shown else []
        rows.append({"node": node, "ranks": ",".join(str(r["rank"]) for r in ranks),
                     "groups": " ".join(groups) or "-"})
    return rows
