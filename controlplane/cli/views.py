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
