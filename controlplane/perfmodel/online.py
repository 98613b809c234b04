"""Online correction of predicted step times from observed ones, per job and per accelerator type.

Owns ``OnlineCorrector``: a plain state object (no I/O, no clock) that keeps, for every
(job, accelerator type) and for every accelerator type, a robust running estimate of
``observed / predicted`` step time, and applies it to later predictions.

- The ratio is averaged in log space (so ×2 and ×½ errors weigh the same): a running mean
  for the first ``1 / smoothing`` observations, then an exponentially weighted mean with
  weight ``smoothing`` (it forgets, so a job that changes speed is followed).
- Robustness: every ratio is clamped to ``[1/max_ratio, max_ratio]``; once a key has
  ``min_observations`` observations, a new ratio further than ``outlier_factor`` from the
  current estimate is winsorised to that distance (a straggler step or a checkpoint pause moves
  the estimate a little, not a lot).
- Fallback: ``correct`` uses the job's own ratio when it has one, else the accelerator type's
  ratio learnt from all jobs, else 1.0 (the analytical prediction).
- ``to_dict``/``from_dict`` round-trip the state for the store.

Accelerator names are compared case-insensitively; callers should pass canonical catalog
names so that "h100" and "H100-SXM" are one key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from controlplane.domain.errors import InvalidInputError

STATE_VERSION = 1


@dataclass
class _Ratio:
    log_ratio: float = 0.0
    observations: int = 0

    def update(self, log_ratio: float, *, smoothing: float, outlier: float, min_observations: int) -> None:
        if self.observations >= min_observations:
            log_ratio = min(max(log_ratio, self.log_ratio - outlier), self.log_ratio + outlier)
        self.observations += 1
        weight = max(smoothing, 1.0 / self.observations)
        self.log_ratio += weight * (log_ratio - self.log_ratio)


@dataclass(frozen=True)
class Correction:
    factor: float
    """Multiply a predicted step time by this."""
    basis: str
    """``"job"``, ``"accelerator"`` or ``"none"``."""
    observations: int


class OnlineCorrector:
    """Learns observed/predicted step-time ratios and applies them (see module docstring)."""

    def __init__(self, *, smoothing: float = 0.2, max_ratio: float = 10.0, outlier_factor: float = 2.0,
                 min_observations: int = 3) -> None:
        if not 0 < smoothing <= 1:
            raise InvalidInputError(f"smoothing must be in (0, 1], got {smoothing}", field="smoothing")
        if max_ratio <= 1 or outlier_factor <= 1:
            raise InvalidInputError("max_ratio and outlier_factor must exceed 1", field="max_ratio")
        self.smoothing = smoothing
        self.max_ratio = max_ratio
        self.outlier_factor = outlier_factor
        self.min_observations = min_observations
        self._by_job: dict[tuple[str, str], _Ratio] = {}
        self._by_accelerator: dict[str, _Ratio] = {}

    def observe(self, job_key: str, accelerator: str, predicted_step_s: float, observed_step_s: float) -> None:
        """Record one observed step time against what was predicted for it."""
        for name, value in (("predicted_step_s", predicted_step_s), ("observed_step_s", observed_step_s)):
            if not math.isfinite(value) or value <= 0:
                raise InvalidInputError(f"must be a positive number of seconds, got {value!r}", field=name)
        bound = math.log(self.max_ratio)
        log_ratio = min(max(math.log(observed_step_s / predicted_step_s), -bound), bound)
        accel = accelerator.casefold()
        for ratio in (self._by_job.setdefault((job_key, accel), _Ratio()),
                      self._by_accelerator.setdefault(accel, _Ratio())):
            ratio.update(log_ratio, smoothing=self.smoothing, outlier=math.log(self.outlier_factor),
                         min_observations=self.min_observations)

    def correction(self, job_key: str, accelerator: str) -> Correction:
        accel = accelerator.casefold()
        job = self._by_job.get((job_key, accel))
        if job is not None and job.observations:
            return Correction(math.exp(job.log_ratio), "job", job.observations)
        by_type = self._by_accelerator.get(accel)
        if by_type is not None and by_type.observations:
            return Correction(math.exp(by_type.log_ratio), "accelerator", by_type.observations)
        return Correction(1.0, "none", 0)

    def correct(self, job_key: str, accelerator: str, predicted_step_s: float) -> float:
        """``predicted_step_s`` corrected by what was learnt (job → accelerator type → none)."""
        return predicted_step_s * self.correction(job_key, accelerator).factor

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "settings": {"smoothing": self.smoothing, "max_ratio": self.max_ratio,
                         "outlier_factor": self.outlier_factor, "min_observations": self.min_observations},
            "jobs": [{"job": job, "accelerator": accel, "log_ratio": r.log_ratio, "observations": r.observations}
                     for (job, accel), r in sorted(self._by_job.items())],
            "accelerators": [{"accelerator": accel, "log_ratio": r.log_ratio, "observations": r.observations}
                             for accel, r in sorted(self._by_accelerator.items())],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OnlineCorrector:
        if data.get("version") != STATE_VERSION:
            raise InvalidInputError(f"unsupported corrector state version {data.get('version')!r}", field="version")
        try:
            corrector = cls(**data["settings"])
            for row in data["jobs"]:
                corrector._by_job[(str(row["job"]), str(row["accelerator"]))] = _Ratio(
                    float(row["log_ratio"]), int(row["observations"]))
            for row in data["accelerators"]:
                corrector._by_accelerator[str(row["accelerator"])] = _Ratio(
                    float(row["log_ratio"]), int(row["observations"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"malformed corrector state: {exc}") from exc
        return corrector
