"""Reading spec files for the CLI: validate locally first, then send plain JSON documents.

Validation happens on the client too, so a bad file fails fast with file:line messages and
never reaches the server; the server validates again (it trusts no client).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jobspecs

APPLY_ORDER = {"Queue": 0, "AcceleratorPool": 1, "TrainingJob": 2, "InferenceService": 3}


def load_documents(paths: list[Path]) -> list[tuple[Path, Any]]:
    """All resources of ``paths`` (validated), in file order. Raises SpecError on the first bad file."""
    out: list[tuple[Path, Any]] = []
    for path in paths:
        for resource in jobspecs.load_file(path):
            out.append((path, resource))
    return out


def to_wire(resource: Any) -> dict[str, Any]:
    """The JSON document the API expects (camelCase aliases, no empty defaults)."""
    data: dict[str, Any] = resource.model_dump(mode="json", by_alias=True, exclude_none=True)
    data.pop("status", None)
    return data


def sort_for_apply(items: list[tuple[Path, Any]]) -> list[tuple[Path, Any]]:
    """Queues and pools before the workloads that reference them; stable within a kind."""
    return sorted(items, key=lambda item: APPLY_ORDER.get(item[1].kind, 9))
