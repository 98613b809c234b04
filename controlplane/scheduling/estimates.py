"""Rates of jobs on accelerator types, for the scheduler: measured tables, the analytical model, fixed figures.

Owns the ``Estimator`` implementations a snapshot carries and ``units_per_device`` (what one
device of a type is worth in H100-equivalents).

- ``MeasuredRates``: Gavel-style measured throughput (``perfmodel.ThroughputTable``), keyed by
  the job's ``workload_type`` and its gang size as the scale factor.
- ``ModeledRates``: the analytical performance model (``perfmodel.estimate_training``) on the
  job's ``model`` and ``layout``; when the layout does not fit in a type's memory, the layout
  search of ``perfmodel.search_layouts`` may re-plan it with the same device count.
- ``FixedRates``: a table of (workload, accelerator) -> steps/s, for tests and synthetic runs.
- ``FirstOf``: the first estimator that knows an answer.

Every estimator caches per (workload, accelerator, devices): a round asks for tens of thousands
of rates, and most jobs share a handful of workloads. Results never depend on the cache.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from controlplane.domain.errors import DomainError
from controlplane.perfmodel.calibration import Calibration, default_calibration
from controlplane.perfmodel.device import DeviceSpec, as_device
from controlplane.perfmodel.ranking import search_layouts
from controlplane.perfmodel.shapes import ExecutionOptions
from controlplane.perfmodel.step import check_layout, estimate_training
from controlplane.perfmodel.throughput import ThroughputTable
from controlplane.scheduling.snapshot import Estimator, Job, RateEstimate

REFERENCE_ACCELERATOR = "H100-SXM"

DeviceLookup = Callable[[str], Any]
"""Accelerator name -> catalog ``AcceleratorSpec`` (or ``DeviceSpec``); raises when unknown."""


def units_per_device(accelerator: str, lookup: DeviceLookup) -> float:
    """H100-equivalents of one device: its dense BF16 peak over the H100 SXM's (1.0 if unknown)."""
    try:
        device = as_device(lookup(accelerator))
        reference = as_device(lookup(REFERENCE_ACCELERATOR))
    except DomainError:
        return 1.0
    return device.peak_tflops["bf16"] / reference.peak_tflops["bf16"]


@dataclass
class MeasuredRates:
    """Steps/s from a measured table: the job's ``workload_type`` at scale factor = gang size."""

    table: ThroughputTable
    consolidated: bool = True
    _cache: dict[tuple[str, str, int], RateEstimate] = field(default_factory=dict, repr=False)

    def estimate(self, job: Job, accelerator: str, devices_per_node: int) -> RateEstimate:
        if job.workload_type is None:
            return RateEstimate(None, "the job names no measured workload type")
        key = (job.workload_type, accelerator, job.devices)
        cached = self._cache.get(key)
        if cached is None:
            rate = self.table.steps_per_second(job.workload_type, accelerator, scale_factor=job.devices,
                                               consolidated=self.consolidated)
            cached = RateEstimate(rate) if rate is not None else RateEstimate(
                None, f"no measured throughput for {job.workload_type} on {job.devices} {accelerator}")
            self._cache[key] = cached
        return cached


@dataclass
class FixedRates:
    """Steps/s per (workload, accelerator) for a whole gang; workload is ``workload_type`` or the job id."""

    rates: Mapping[tuple[str, str], float]
    _folded: dict[tuple[str, str], float] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._folded = {(workload, accelerator.casefold()): rate
                        for (workload, accelerator), rate in self.rates.items()}

    def estimate(self, job: Job, accelerator: str, devices_per_node: int) -> RateEstimate:
        workload = job.workload_type or job.job_id
        rate = self._folded.get((workload, accelerator.casefold()))
        if rate is None:
            return RateEstimate(None, f"no rate for {workload} on {accelerator}")
        return RateEstimate(rate)


@dataclass
class ModeledRates:
    """Steps/s from the analytical performance model; re-plans a layout that does not fit."""

    lookup: DeviceLookup
    calibration: Calibration = field(default_factory=default_calibration)
    allow_replan: bool = True
    _cache: dict[tuple[Any, ...], RateEstimate] = field(default_factory=dict, repr=False)
    _devices: dict[str, DeviceSpec | None] = field(default_factory=dict, repr=False)

    def _device(self, accelerator: str) -> DeviceSpec | None:
        if accelerator not in self._devices:
            try:
                self._devices[accelerator] = as_device(self.lookup(accelerator))
            except DomainError:
                self._devices[accelerator] = None
        return self._devices[accelerator]

    def estimate(self, job: Job, accelerator: str, devices_per_node: int) -> RateEstimate:
        if job.model is None or job.layout is None:
            return RateEstimate(None, "the job has no model shape and layout to estimate from")
        key = (job.model, job.layout, accelerator, devices_per_node)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._compute(job, accelerator, devices_per_node)
            self._cache[key] = cached
        return cached

    def _compute(self, job: Job, accelerator: str, devices_per_node: int) -> RateEstimate:
        device = self._device(accelerator)
        model, layout = job.model, job.layout
        assert model is not None and layout is not None
        if device is None:
            return RateEstimate(None, f"{accelerator} is not in the accelerator catalog")
        try:
            check_layout(model, layout)
            estimate = estimate_training(model, layout, device, calibration=self.calibration)
        except DomainError as exc:
            return RateEstimate(None, exc.message)
        if estimate.fits:
            return RateEstimate(1.0 / estimate.step.step_seconds, layout=layout)
        problem = f"layout {layout.describe()} needs {estimate.memory.reason}"
        if not self.allow_replan:
            return RateEstimate(None, problem)
        found = search_layouts(model, device, devices=layout.devices, global_batch_size=layout.global_batch_size,
                               base=layout, options=ExecutionOptions(), calibration=self.calibration)
        found = [e for e in found if e.layout.tp <= devices_per_node]
        if not found:
            return RateEstimate(None, f"{problem}; no layout of {layout.devices} devices fits either")
        best = found[0]
        return RateEstimate(1.0 / best.step.step_seconds, layout=best.layout)


@dataclass
class FirstOf:
    """The first estimator whose answer fits; else the first one's reason."""

    estimators: Sequence[Estimator]

    def estimate(self, job: Job, accelerator: str, devices_per_node: int) -> RateEstimate:
        first: RateEstimate | None = None
        for estimator in self.estimators:
            answer = estimator.estimate(job, accelerator, devices_per_node)
            if answer.fits:
                return answer
            first = first or answer
        return first or RateEstimate(None, "no estimator")
