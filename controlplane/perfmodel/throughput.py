"""Measured throughput tables, and the estimator that prefers them over the analytical model.

Owns ``ThroughputTable`` (steps per second of a job type on a worker type at a scale factor,
read from Gavel's ``simulation_throughputs.json`` format) and ``MeasuredOrModeled``, which
answers "how long is a step of this job on this accelerator?" from a measurement when the
table has one, else from a model prediction (optionally corrected online).

Gavel's format (Narayanan et al., OSDI'20): ``{worker_type: {"('<job type>', <scale
factor>)": {"null": <steps/s alone>, "('<other>', <sf>)": [<this>, <other>], ...}}}``. Only the
isolated (``"null"``) figures are read; co-location pairs are ignored. Worker types
ending in ``_unconsolidated`` (GPUs spread over servers) are kept apart from the consolidated
ones and chosen with ``consolidated=False``.

Accelerator names are matched to worker types case-insensitively, ignoring a vendor word and
a memory/form-factor suffix after the first ``-`` ("V100-32GB" → ``v100``).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from controlplane.domain.errors import InvalidInputError, NotFoundError
from controlplane.perfmodel.online import OnlineCorrector

UNCONSOLIDATED_SUFFIX = "_unconsolidated"
_VENDOR_PREFIX = re.compile(r"^((nvidia|tesla|amd|huawei|google)[-_ ]*)+", re.IGNORECASE)


def worker_type_key(accelerator: str) -> str:
    """The Gavel-style worker-type spelling of an accelerator name (``V100-32GB`` → ``v100``)."""
    name = _VENDOR_PREFIX.sub("", accelerator.strip()).lower()
    return name.split("-")[0].split("_")[0]


class ThroughputTable:
    """Isolated steps/s per (worker type, job type, scale factor)."""

    def __init__(self, entries: Mapping[tuple[str, str, int], float]) -> None:
        self._entries = {(w.lower(), job, int(sf)): float(v) for (w, job, sf), v in entries.items()}
        for key, value in self._entries.items():
            if value <= 0:
                raise InvalidInputError(f"throughput of {key} must be positive, got {value}")

    @classmethod
    def from_gavel(cls, document: Mapping[str, Any]) -> ThroughputTable:
        """Parse Gavel's ``simulation_throughputs.json`` document (already decoded)."""
        if not isinstance(document, Mapping):
            raise InvalidInputError("a Gavel throughput document is a mapping of worker types")
        entries: dict[tuple[str, str, int], float] = {}
        for worker_type, jobs in document.items():
            if not isinstance(jobs, Mapping):
                raise InvalidInputError(f"worker type {worker_type!r} must map job keys to throughputs")
            for job_key, figures in jobs.items():
                job_type, scale_factor = _parse_job_key(job_key, worker_type)
                isolated = figures.get("null") if isinstance(figures, Mapping) else None
                if isinstance(isolated, int | float) and isolated > 0:
                    entries[(str(worker_type), job_type, scale_factor)] = float(isolated)
        if not entries:
            raise InvalidInputError("the Gavel throughput document holds no isolated (\"null\") figures")
        return cls(entries)

    @classmethod
    def load_gavel(cls, path: str | Path) -> ThroughputTable:
        path = Path(path)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise InvalidInputError(f"cannot read Gavel throughputs from {path}: {exc}") from exc
        return cls.from_gavel(document)

    def worker_types(self) -> list[str]:
        return sorted({w for w, _, _ in self._entries})

    def job_types(self) -> list[str]:
        return sorted({job for _, job, _ in self._entries})

    def scale_factors(self, job_type: str) -> list[int]:
        return sorted({sf for _, job, sf in self._entries if job == job_type})

    def _worker(self, accelerator: str, consolidated: bool) -> str:
        key = worker_type_key(accelerator)
        return key if consolidated else key + UNCONSOLIDATED_SUFFIX

    def steps_per_second(self, job_type: str, accelerator: str, *, scale_factor: int = 1,
                         consolidated: bool = True) -> float | None:
        """Measured isolated throughput, or None when the table has no such entry."""
        return self._entries.get((self._worker(accelerator, consolidated), job_type, scale_factor))

    def step_seconds(self, job_type: str, accelerator: str, *, scale_factor: int = 1,
                     consolidated: bool = True) -> float | None:
        rate = self.steps_per_second(job_type, accelerator, scale_factor=scale_factor, consolidated=consolidated)
        return None if rate is None else 1.0 / rate

    def __len__(self) -> int:
        return len(self._entries)


def _parse_job_key(job_key: str, worker_type: str) -> tuple[str, int]:
    try:
        parsed = ast.literal_eval(job_key)
    except (ValueError, SyntaxError) as exc:
        raise InvalidInputError(f"{worker_type}: job key {job_key!r} is not a ('<job type>', <scale>) tuple") from exc
    if (not isinstance(parsed, tuple) or len(parsed) != 2 or not isinstance(parsed[0], str)
            or not isinstance(parsed[1], int)):
        raise InvalidInputError(f"{worker_type}: job key {job_key!r} is not a ('<job type>', <scale>) tuple")
    return parsed[0], parsed[1]


@dataclass(frozen=True)
class StepTime:
    seconds: float
    source: Literal["measured", "modeled", "modeled+corrected"]


class MeasuredOrModeled:
    """Step time of a job on an accelerator: measured when the table knows it, modeled otherwise."""

    def __init__(self, table: ThroughputTable, *, corrector: OnlineCorrector | None = None) -> None:
        self.table = table
        self.corrector = corrector

    def step_time(self, job_type: str, accelerator: str, *, scale_factor: int = 1, consolidated: bool = True,
                  modeled: float | Callable[[], float] | None = None, job_key: str | None = None) -> StepTime:
        measured = self.table.step_seconds(job_type, accelerator, scale_factor=scale_factor,
                                           consolidated=consolidated)
        if measured is not None:
            return StepTime(measured, "measured")
        if modeled is None:
            raise NotFoundError(
                f"no measured throughput for {job_type!r} × {scale_factor} on {accelerator} and no model prediction",
                hint="pass modeled=<seconds> (e.g. from estimate_step) to fall back on the analytical model")
        seconds = modeled() if callable(modeled) else modeled
        if self.corrector is None:
            return StepTime(seconds, "modeled")
        correction = self.corrector.correction(job_key or job_type, accelerator)
        if correction.basis == "none":
            return StepTime(seconds, "modeled")
        return StepTime(seconds * correction.factor, "modeled+corrected")
