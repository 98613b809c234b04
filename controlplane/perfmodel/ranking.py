"""Ranking accelerator offers for a job by dollars per unit of work.

Owns ``PriceOffer`` (one priced way to get devices: a cloud offer or a pool), ``TrainingWorkload``
and ``ServingWorkload`` (what is to be run), ``Candidate`` (one accelerator type × offer with
its estimate, price and the reasons it is or is not usable), ``search_layouts`` and the two
rankers.

Rules:
- The job's own layout is used on every type; if it does not fit in memory there, and the
  caller did not pin the layout, a small space of layouts with the same device count is
  searched (tensor parallel within a node, pipeline depths that the layers allow, selective
  or full recomputation) and the fastest one that fits is used, with a note saying so.
- A candidate is *eligible* when it fits and the job accepts it (accelerator types,
  ``minMemoryGiB``) and it has a price. Eligible candidates come first, cheapest
  ``$ / million tokens`` first; then ineligible ones that fit; then the ones that do not fit.
  Every ineligible candidate carries its reasons.
- ``$ / million tokens`` = ``$/device-hour × devices / 3600 / tokens-per-second × 10⁶``.
- An ``OnlineCorrector``, when given, scales the predicted step time by what was observed for
  this job (or this accelerator type) before prices are applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from controlplane.domain.errors import InvalidInputError
from controlplane.perfmodel.calibration import Calibration, default_calibration
from controlplane.perfmodel.device import DeviceSpec
from controlplane.perfmodel.inference import InferenceEstimate, estimate_inference
from controlplane.perfmodel.memory import MemoryEstimate, gib
from controlplane.perfmodel.online import OnlineCorrector
from controlplane.perfmodel.shapes import ExecutionOptions, Layout, ModelShape
from controlplane.perfmodel.step import StepEstimate, TrainingEstimate, check_layout, estimate_training

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class PriceOffer:
    accelerator: str
    """Canonical accelerator name."""
    label: str
    """``cloud/region/instance`` or ``pool:<name>``."""
    per_device_hour: float
    spot: bool = False
    source: str = ""
    devices_per_instance: int | None = None
    """Devices one instance (node) of the offer brings; tensor parallelism must fit in it."""


@dataclass(frozen=True)
class TrainingWorkload:
    name: str
    model: ModelShape
    layout: Layout
    options: ExecutionOptions = field(default_factory=ExecutionOptions)
    accepted_types: tuple[str, ...] | None = None
    """Canonical names the job accepts; None accepts any."""
    min_memory_gib: float | None = None
    layout_pinned: bool = False
    """True when the caller fixed the layout: no search on types where it does not fit."""


@dataclass(frozen=True)
class Candidate:
    accelerator: str
    offer: PriceOffer | None
    layout: Layout | None
    fits: bool
    eligible: bool
    reasons: tuple[str, ...]
    notes: tuple[str, ...] = ()
    memory: MemoryEstimate | None = None
    step: StepEstimate | None = None
    step_seconds: float | None = None
    tokens_per_second: float | None = None
    devices: int = 0
    dollars_per_million_tokens: float | None = None

    @property
    def per_device_hour(self) -> float | None:
        return None if self.offer is None else self.offer.per_device_hour

    def as_row(self) -> dict[str, object]:
        return {
            "accelerator": self.accelerator, "offer": self.offer.label if self.offer else None,
            "spot": self.offer.spot if self.offer else None, "layout": self.layout.describe() if self.layout else None,
            "devices": self.devices,
            "memory_gib": round(gib(self.memory.total), 1) if self.memory else None,
            "usable_gib": round(gib(self.memory.capacity), 1) if self.memory else None,
            "step_seconds": self.step_seconds, "tokens_per_second": self.tokens_per_second,
            "mfu": self.step.mfu if self.step else None, "per_device_hour": self.per_device_hour,
            "dollars_per_million_tokens": self.dollars_per_million_tokens, "fits": self.fits,
            "eligible": self.eligible, "why_not": "; ".join(self.reasons) or None, "notes": list(self.notes),
        }


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def search_layouts(model: ModelShape, device: DeviceSpec, *, devices: int, global_batch_size: int,
                   base: Layout, options: ExecutionOptions, calibration: Calibration) -> list[TrainingEstimate]:
    """Layouts of ``devices`` devices that fit on ``device``, fastest first."""
    found: list[TrainingEstimate] = []
    for tp in (t for t in _divisors(devices) if t <= device.devices_per_node and model.attention_heads % t == 0):
        for pp in (p for p in _divisors(devices // tp) if p <= model.layers):
            dp = devices // (tp * pp * base.cp)
            if dp < 1 or tp * pp * base.cp * dp != devices or global_batch_size % (dp * base.micro_batch_size):
                continue
            experts = model.moe.experts if model.moe else 1
            ep = max(d for d in _divisors(dp * base.cp) if d <= base.ep and experts % d == 0)
            for recompute in ("selective", "full"):
                try:
                    layout = replace(base, tp=tp, pp=pp, dp=dp, ep=ep, virtual_stages=1,
                                     micro_batches=global_batch_size // (dp * base.micro_batch_size),
                                     activation_recompute=recompute)
                    check_layout(model, layout)
                except InvalidInputError:
                    continue
                estimate = estimate_training(model, layout, device, options=options, calibration=calibration)
                if estimate.fits:
                    found.append(estimate)
                    break  # less recomputation is always at least as fast
    return sorted(found, key=lambda e: e.step.step_seconds)


def _acceptance_reasons(device: DeviceSpec, accepted: tuple[str, ...] | None, min_memory_gib: float | None,
                        offer: PriceOffer | None, tp: int) -> list[str]:
    reasons = []
    if offer is not None and offer.devices_per_instance is not None and offer.devices_per_instance < tp:
        reasons.append(f"{offer.devices_per_instance}-device instances cannot hold tp={tp}")
    if accepted is not None and device.name.casefold() not in {name.casefold() for name in accepted}:
        reasons.append(f"not in the job's types ({', '.join(accepted)})")
    if min_memory_gib is not None and device.hbm_gib < min_memory_gib:
        reasons.append(f"{device.hbm_gib:g} GiB < the job's minMemoryGiB {min_memory_gib:g}")
    if offer is None:
        reasons.append("no price (no catalog offer or priced pool)")
    return reasons


def _dollars_per_million(offer: PriceOffer | None, devices: int, tokens_per_second: float | None) -> float | None:
    if offer is None or not tokens_per_second:
        return None
    return offer.per_device_hour * devices / SECONDS_PER_HOUR / tokens_per_second * 1e6


def _sort_key(candidate: Candidate) -> tuple[int, float, float]:
    tier = 0 if candidate.eligible else (1 if candidate.fits else 2)
    cost = candidate.dollars_per_million_tokens
    return (tier, cost if cost is not None else float("inf"), -(candidate.tokens_per_second or 0.0))


def _plan_training(workload: TrainingWorkload, device: DeviceSpec,
                   calibration: Calibration) -> tuple[TrainingEstimate | None, list[str], list[str]]:
    """(estimate to price, reasons it cannot run, notes) for one accelerator type."""
    model, layout = workload.model, workload.layout
    try:
        check_layout(model, layout)
        if layout.tp > device.devices_per_node:
            raise InvalidInputError(f"tp={layout.tp} exceeds the {device.devices_per_node} devices of one "
                                    f"{device.name} node (tensor parallelism needs the intra-node link)")
        estimate: TrainingEstimate | None = estimate_training(model, layout, device, options=workload.options,
                                                              calibration=calibration)
    except InvalidInputError as exc:
        estimate, problem = None, str(exc)
    else:
        assert estimate is not None
        if estimate.fits:
            return estimate, [], []
        problem = f"layout {layout.describe()}: {estimate.memory.reason}"
    if workload.layout_pinned:
        return estimate, [problem], []
    searched = search_layouts(model, device, devices=layout.devices, global_batch_size=layout.global_batch_size,
                              base=layout, options=workload.options, calibration=calibration)
    if not searched:
        return estimate, [f"{problem}; no layout of {layout.devices} devices fits either"], []
    best = searched[0]
    return best, [], [f"re-planned to {best.layout.describe()} (recompute {best.layout.activation_recompute}): "
                      f"the job's {problem}"]


def rank_candidates(workload: TrainingWorkload, devices: Sequence[DeviceSpec], offers: Sequence[PriceOffer], *,
                    calibration: Calibration | None = None, corrector: OnlineCorrector | None = None,
                    job_key: str | None = None) -> list[Candidate]:
    """One candidate per (accelerator type, offer), best first (see module docstring)."""
    calibration = calibration or default_calibration()
    candidates: list[Candidate] = []
    for device in devices:
        estimate, problems, notes = _plan_training(workload, device, calibration)
        step_seconds = tokens_per_second = None
        if estimate is not None:
            step_seconds = estimate.step.step_seconds
            if corrector is not None:
                correction = corrector.correction(job_key or workload.name, device.name)
                if correction.basis != "none":
                    step_seconds *= correction.factor
                    notes = [*notes, f"step time ×{correction.factor:.2f} from {correction.observations} "
                                     f"observed steps ({correction.basis})"]
            tokens_per_second = estimate.layout.global_batch_size * workload.model.sequence_length / step_seconds
        fits = estimate is not None and estimate.fits and not problems
        own_offers: list[PriceOffer | None] = [
            o for o in offers if o.accelerator.casefold() == device.name.casefold()] or [None]
        for offer in own_offers:
            layout = estimate.layout if estimate else workload.layout
            reasons = list(problems) + _acceptance_reasons(device, workload.accepted_types,
                                                           workload.min_memory_gib, offer, layout.tp)
            candidates.append(Candidate(
                accelerator=device.name, offer=offer, layout=layout, fits=fits, eligible=fits and not reasons,
                reasons=tuple(reasons), notes=tuple(notes), memory=estimate.memory if estimate else None,
                step=estimate.step if estimate else None, step_seconds=step_seconds,
                tokens_per_second=tokens_per_second, devices=layout.devices,
                dollars_per_million_tokens=_dollars_per_million(offer, layout.devices, tokens_per_second)
                if fits else None))
    return sorted(candidates, key=_sort_key)


@dataclass(frozen=True)
class ServingWorkload:
    name: str
    model: ModelShape
    tp: int = 1
    pp: int = 1
    batch_size: int = 32
    prompt_tokens: int = 2048
    output_tokens: int = 512
    accepted_types: tuple[str, ...] | None = None
    min_memory_gib: float | None = None


def rank_serving_candidates(workload: ServingWorkload, devices: Sequence[DeviceSpec], offers: Sequence[PriceOffer],
                            *, calibration: Calibration | None = None) -> list[tuple[Candidate, InferenceEstimate]]:
    """Serving candidates priced per million *output* tokens, best first."""
    calibration = calibration or default_calibration()
    ranked: list[tuple[Candidate, InferenceEstimate]] = []
    for device in devices:
        estimate = estimate_inference(workload.model, device, tp=workload.tp, pp=workload.pp,
                                      batch_size=workload.batch_size, prompt_tokens=workload.prompt_tokens,
                                      output_tokens=workload.output_tokens, calibration=calibration)
        problems = [] if estimate.fits else [estimate.reason or "does not fit"]
        if workload.tp > device.devices_per_node:
            problems.append(f"tp={workload.tp} exceeds the {device.devices_per_node} devices of one node")
        fits = not problems
        own_offers: list[PriceOffer | None] = [
            o for o in offers if o.accelerator.casefold() == device.name.casefold()] or [None]
        for offer in own_offers:
            reasons = problems + _acceptance_reasons(device, workload.accepted_types, workload.min_memory_gib, offer,
                                                     workload.tp)
            devices_used = workload.tp * workload.pp
            ranked.append((Candidate(
                accelerator=device.name, offer=offer, layout=Layout(tp=workload.tp, pp=workload.pp), fits=fits,
                eligible=fits and not reasons, reasons=tuple(reasons), devices=devices_used,
                step_seconds=estimate.time_per_output_token_s, tokens_per_second=estimate.decode_tokens_per_second,
                dollars_per_million_tokens=_dollars_per_million(offer, devices_used, estimate.decode_tokens_per_second)
                if fits else None), estimate))
    return sorted(ranked, key=lambda pair: _sort_key(pair[0]))
