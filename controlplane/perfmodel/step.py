"""Step time, tokens per second and MFU of a training run — and the run's full estimate.

Owns ``check_layout``, ``StepEstimate``/``estimate_step`` and ``TrainingEstimate``/
``estimate_training``.

The step is assembled from the slowest pipeline stage (layers spread as evenly as possible,
the output head on the last stage):

``step = m·t_mb + bubble + exposed p2p + exposed DP communication + optimizer``

- ``t_mb``: forward + backward (+ recomputation) of one micro-batch on that stage, including
  the exposed part of its tensor-parallel, context-parallel and expert all-to-all traffic.
- bubble: ``(pp-1)/v · t_mb`` for 1F1B (``v`` = virtual stages of the interleaved schedule,
  Narayanan et al. SC'21); ``(pp/2-1)·F`` for DualPipe (DeepSeek-V3 report, Table 2, with
  backward-for-input and backward-for-weights each about one forward).
- p2p: activations of ``T·h/tp`` 16-bit values; each micro-batch crosses ``pp·v - 1`` stage
  boundaries forward and backward; the fill
  and drain sends are exposed, steady-state sends too unless ``overlap_p2p``.
- DP: gradients are reduce-scattered (all-reduced without ZeRO) over the data-parallel group
  and parameters all-gathered after the optimizer step; with the overlap options the
  reduce-scatter hides behind the last micro-batch's backward pass and the all-gather behind
  the first forward pass. ZeRO-3 gathers weights for every micro-batch, hidden behind that
  micro-batch's compute.
- optimizer: Adam reads and writes ~30 bytes per local parameter at HBM speed.

MFU is model FLOPs (``flops.model_flops_per_token`` × tokens) per second over the dense peak
of the training precision times the device count.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from controlplane.domain.errors import InvalidInputError
from controlplane.perfmodel.calibration import Calibration, default_calibration
from controlplane.perfmodel.comm import (
    all_gather,
    all_reduce,
    group_link,
    point_to_point,
    reduce_scatter,
)
from controlplane.perfmodel.device import DeviceSpec, as_device
from controlplane.perfmodel.flops import (
    expert_token_split,
    model_flops_per_token,
    parameter_counts,
    tokens_per_microbatch,
)
from controlplane.perfmodel.layer_cost import LayerCost, layer_cost, output_head_cost
from controlplane.perfmodel.memory import MemoryEstimate, estimate_memory, stage_layers
from controlplane.perfmodel.shapes import ExecutionOptions, Layout, ModelShape

OPTIMIZER_BYTES_PER_PARAM = 30.0


def check_layout(model: ModelShape, layout: Layout) -> None:
    """Raise ``InvalidInputError`` when ``layout`` cannot split ``model`` at all."""
    if model.attention_heads % layout.tp:
        raise InvalidInputError(f"tp={layout.tp} must divide the {model.attention_heads} attention heads",
                                field="layout.tp")
    if layout.pp * layout.virtual_stages > model.layers:
        raise InvalidInputError(
            f"pp × virtual stages = {layout.pp * layout.virtual_stages} exceeds the {model.layers} layers",
            field="layout.pp")
    if model.sequence_length % layout.cp:
        raise InvalidInputError(f"cp={layout.cp} must divide the sequence length {model.sequence_length}",
                                field="layout.cp")
    if layout.ep > 1 and model.moe is None:
        raise InvalidInputError(f"ep={layout.ep} needs a mixture-of-experts model", field="layout.ep")
    if model.moe is not None and model.moe.experts % layout.ep:
        raise InvalidInputError(f"ep={layout.ep} must divide the {model.moe.experts} experts", field="layout.ep")
    if layout.schedule == "dualpipe" and layout.virtual_stages > 1:
        raise InvalidInputError("dualpipe does not combine with virtual stages", field="layout.virtual_stages")


@dataclass(frozen=True)
class StepEstimate:
    """One optimizer step of a training run; every time is in seconds per step."""

    step_seconds: float
    tokens_per_second: float
    mfu: float
    achieved_tflops_per_device: float
    model_flops_per_step: float
    devices: int
    compute: float
    recompute: float
    tp_comm: float
    cp_comm: float
    ep_comm: float
    pp_bubble: float
    pp_p2p: float
    dp_comm: float
    optimizer: float
    microbatch_seconds: float
    notes: tuple[str, ...] = field(default=())

    @property
    def exposed_communication(self) -> float:
        return self.tp_comm + self.cp_comm + self.ep_comm + self.pp_p2p + self.dp_comm

    def breakdown(self) -> dict[str, float]:
        return {"compute": self.compute, "recompute": self.recompute, "tp_comm": self.tp_comm,
                "cp_comm": self.cp_comm, "ep_comm": self.ep_comm, "pp_bubble": self.pp_bubble,
                "pp_p2p": self.pp_p2p, "dp_comm": self.dp_comm, "optimizer": self.optimizer}

    def as_dict(self) -> dict[str, object]:
        return {"step_seconds": self.step_seconds, "tokens_per_second": self.tokens_per_second,
                "mfu": self.mfu, "achieved_tflops_per_device": self.achieved_tflops_per_device,
                "devices": self.devices, "breakdown_seconds": self.breakdown(), "notes": list(self.notes)}


def _stage_cost(model: ModelShape, layers: int, dense: LayerCost, moe: LayerCost) -> LayerCost:
    moe_here = min(model.moe_layer_count, layers)
    return moe.scaled(moe_here) + dense.scaled(layers - moe_here)


def _critical_stage(model: ModelShape, layout: Layout, device: DeviceSpec, options: ExecutionOptions,
                    calibration: Calibration) -> LayerCost:
    dense = layer_cost(model, layout, device, options, calibration, moe_layer=False)
    moe = layer_cost(model, layout, device, options, calibration, moe_layer=True) if model.moe else dense
    head = output_head_cost(model, layout, device, options, calibration)
    first, last = stage_layers(model, layout)
    if layout.pp == 1:
        return _stage_cost(model, first, dense, moe) + head
    fullest = _stage_cost(model, first, dense, moe)
    final = _stage_cost(model, last, dense, moe) + head
    return fullest if fullest.total >= final.total else final


def _local_parameters(model: ModelShape, layout: Layout) -> tuple[float, float]:
    """(non-expert, expert) parameters one device of the fullest stage holds."""
    counts = parameter_counts(model)
    first, _ = stage_layers(model, layout)
    moe_here = min(model.moe_layer_count, first)
    weight_split, _ = expert_token_split(layout)
    non_expert = ((first - moe_here) * counts.dense_layer + moe_here * counts.moe_layer_non_expert
                  + counts.embedding) / layout.tp
    expert = moe_here * counts.routed_per_moe_layer / (layout.ep * weight_split)
    return non_expert, expert


def _data_parallel(model: ModelShape, layout: Layout, device: DeviceSpec, options: ExecutionOptions,
                   calibration: Calibration, stage: LayerCost) -> tuple[float, float]:
    """(exposed data-parallel communication, optimizer step) seconds per step."""
    non_expert, expert = _local_parameters(model, layout)
    groups = ((layout.dp * layout.cp, non_expert), (layout.dp * layout.cp // layout.ep, expert))
    link = group_link(device, calibration, size=layout.dp * layout.cp, stride=layout.tp)
    weight_bytes = 2.0
    reduce, gather = 0.0, 0.0
    for size, params in groups:
        if layout.zero_stage == 0:
            reduce += all_reduce(size, params * options.grad_bytes, link)
        else:
            reduce += reduce_scatter(size, params * options.grad_bytes, link)
            gather += all_gather(size, params * weight_bytes, link)
    forward, backward = stage.forward + stage.tp_comm / 2, stage.backward + stage.recompute + stage.tp_comm / 2
    if layout.zero_stage == 3:
        per_microbatch = reduce + 2 * gather
        window = stage.total if options.overlap_param_gather else 0.0
        exposed = layout.micro_batches * max(0.0, per_microbatch - window)
    else:
        exposed = (max(0.0, reduce - backward) if options.overlap_grad_reduce else reduce) + (
            max(0.0, gather - forward) if options.overlap_param_gather else gather)
    sharded = (non_expert / groups[0][0] + expert / max(1, groups[1][0])) if layout.zero_stage >= 1 else (
        non_expert + expert)
    optimizer = sharded * OPTIMIZER_BYTES_PER_PARAM / (device.hbm_bytes_per_s * calibration.hbm_efficiency)
    return exposed, optimizer


def estimate_step(model: ModelShape, layout: Layout, accelerator: object, *,
                  options: ExecutionOptions | None = None, calibration: Calibration | None = None) -> StepEstimate:
    """Step time and throughput of training ``model`` with ``layout`` on ``accelerator``."""
    check_layout(model, layout)
    device = as_device(accelerator)
    options = options or ExecutionOptions()
    calibration = calibration or default_calibration()
    stage = _critical_stage(model, layout, device, options, calibration)
    m, pp, v = layout.micro_batches, layout.pp, layout.virtual_stages
    t_mb = stage.total
    if pp == 1:
        bubble = 0.0
    elif layout.schedule == "dualpipe":
        bubble = (pp / 2 - 1) * stage.forward_compute_only
    else:
        bubble = (pp - 1) / v * t_mb

    p2p = 0.0
    if pp > 1:
        # scattered over the tensor ranks (sequence parallelism, or Megatron's scatter/gather
        # optimisation, SC'21 sec. 4.1) and re-gathered over the intra-node link
        nbytes = tokens_per_microbatch(model, layout) * model.hidden_size * 2.0 / layout.tp
        link = group_link(device, calibration, size=pp, stride=layout.tp * layout.cp * layout.dp)
        send = point_to_point(nbytes, link)
        p2p = 2 * (pp * v - 1) * send + (0.0 if options.overlap_p2p else 2 * v * m * send)

    dp_comm, optimizer = _data_parallel(model, layout, device, options, calibration, stage)
    step = m * t_mb + bubble + p2p + dp_comm + optimizer
    tokens = layout.global_batch_size * model.sequence_length
    flops = model_flops_per_token(model) * tokens
    peak = device.peak_flops(model.precision)
    notes: list[str] = []
    if model.precision == "fp8" and not device.supports("fp8"):
        notes.append(f"{device.name} has no FP8 units: matrix multiplications run in BF16")
    if pp > 1 and m < pp:
        notes.append(f"only {m} micro-batches for {pp} pipeline stages: the bubble dominates")
    return StepEstimate(
        step_seconds=step, tokens_per_second=tokens / step, mfu=flops / (step * layout.devices * peak),
        achieved_tflops_per_device=flops / step / layout.devices / 1e12, model_flops_per_step=flops,
        devices=layout.devices, compute=m * (stage.forward + stage.backward), recompute=m * stage.recompute,
        tp_comm=m * stage.tp_comm, cp_comm=m * stage.cp_comm, ep_comm=m * stage.ep_comm, pp_bubble=bubble,
        pp_p2p=p2p, dp_comm=dp_comm, optimizer=optimizer, microbatch_seconds=t_mb, notes=tuple(notes))


@dataclass(frozen=True)
class TrainingEstimate:
    """Memory and step time of one training run on one accelerator type."""

    accelerator: str
    layout: Layout
    memory: MemoryEstimate
    step: StepEstimate

    @property
    def fits(self) -> bool:
        return self.memory.fits

    def as_dict(self) -> dict[str, object]:
        return {"accelerator": self.accelerator, "layout": self.layout.describe(),
                "memory": self.memory.as_dict(), "step": self.step.as_dict()}


def estimate_training(model: ModelShape, layout: Layout, accelerator: object, *,
                      options: ExecutionOptions | None = None,
                      calibration: Calibration | None = None) -> TrainingEstimate:
    """Memory and step estimate together (the step is estimated even when memory does not fit)."""
    device = as_device(accelerator)
    memory = estimate_memory(model, layout, device, options=options, calibration=calibration)
    step = estimate_step(model, layout, device, options=options, calibration=calibration)
    return TrainingEstimate(accelerator=device.name, layout=layout, memory=memory, step=step)
