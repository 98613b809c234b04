"""Device memory of a training run: weights, gradients, optimizer states, activations — and fit.

Owns ``MemoryEstimate`` and ``estimate_memory``. Figures are per device, for the pipeline
stage that needs the most (the first stage holds the most in-flight micro-batches and the
embedding; the last holds the output head and the logits).

Bytes per parameter (Megatron-LM mixed precision, its distributed-optimizer table): 2 for BF16
weights (plus 1 for an FP8 weight copy when training in FP8), ``grad_bytes`` (4: gradients
accumulate in FP32) and 12 for Adam (FP32 master weights and two moments). ZeRO stage 1
shards the optimizer over the data-parallel group (``dp × cp`` ranks; experts over their
``dp × cp / ep`` replicas), stage 2 the gradients too, stage 3 the weights too (plus a
gathered two-layer working buffer).

Activations follow Korthikanti et al., "Reducing Activation Recomputation in Large
Transformer Models" (arXiv:2205.05198, sec. 4), generalised to grouped-query attention,
gated MLPs, MoE, fused attention and dropout-free models: per token and layer, layer-norm
inputs ``4h`` bytes, attention ``2h + 2(H·d + H_kv·d) + 2·H_kv·d + 2·H·d`` (+ ``5·H·s`` for
the unfused softmax/dropout, + ``h`` dropout mask), MLP ``2h + 2f·(2 if gated) + 2f`` (+ ``h``
mask). Without sequence parallelism the layer-norm inputs, the two GEMM inputs and the dropout
masks (``10h`` in the paper) are replicated on every tensor rank; with it everything is
divided by ``tp``. In FP8 training the inputs kept for the backward GEMMs are stored in FP8
(Transformer Engine and DeepSeek-V3 both do), halving those terms. Selective recomputation
drops the ``5·H·s`` term; full recomputation keeps
only each layer's input plus one layer's working set. In-flight micro-batches on the first
stage: ``min(m, pp)`` stages' worth for 1F1B, ``L·(1 + (pp-1)/(pp·v))`` layers' worth for the
interleaved schedule, ``pp + 1`` for DualPipe (DeepSeek-V3 report, Table 2).
"""

from __future__ import annotations

from dataclasses import dataclass

from controlplane.perfmodel.calibration import Calibration, default_calibration
from controlplane.perfmodel.device import BYTES_PER_GIB, DeviceSpec, as_device
from controlplane.perfmodel.flops import ParameterCounts, expert_token_split, parameter_counts, tokens_per_microbatch
from controlplane.perfmodel.shapes import ExecutionOptions, Layout, ModelShape, ceil_div

ADAM_BYTES_PER_PARAM = 12.0


@dataclass(frozen=True)
class MemoryEstimate:
    """Per-device bytes of the most loaded pipeline stage, and whether they fit."""

    weights: float
    gradients: float
    optimizer: float
    activations: float
    capacity: float
    """Usable bytes: HBM minus the reserve and fragmentation allowance."""
    hbm: float

    @property
    def total(self) -> float:
        return self.weights + self.gradients + self.optimizer + self.activations

    @property
    def fits(self) -> bool:
        return self.total <= self.capacity

    @property
    def headroom(self) -> float:
        """Usable bytes left (negative when it does not fit)."""
        return self.capacity - self.total

    @property
    def reason(self) -> str | None:
        """Why it does not fit, in numbers; None when it fits."""
        if self.fits:
            return None
        return (f"needs {gib(self.total):.1f} GiB per device (weights {gib(self.weights):.1f}, gradients "
                f"{gib(self.gradients):.1f}, optimizer {gib(self.optimizer):.1f}, activations "
                f"{gib(self.activations):.1f}) but only {gib(self.capacity):.1f} of {gib(self.hbm):.0f} GiB is usable")

    def as_dict(self) -> dict[str, float | bool | str | None]:
        return {"weights_gib": gib(self.weights), "gradients_gib": gib(self.gradients),
                "optimizer_gib": gib(self.optimizer), "activations_gib": gib(self.activations),
                "total_gib": gib(self.total), "capacity_gib": gib(self.capacity), "hbm_gib": gib(self.hbm),
                "fits": self.fits, "reason": self.reason}


def gib(value: float) -> float:
    return value / BYTES_PER_GIB


def activation_bytes_per_layer(model: ModelShape, layout: Layout, options: ExecutionOptions, *,
                               moe_layer: bool, recompute: str | None = None) -> float:
    """Stored activation bytes of one layer for one micro-batch on one device."""
    mode = recompute or layout.activation_recompute
    tokens = tokens_per_microbatch(model, layout)
    tp = layout.tp
    sp = tp if layout.sequence_parallel_active else 1
    if mode == "full":
        return 2.0 * model.hidden_size * tokens / sp
    h, heads, kv = model.hidden_size, model.attention_heads, max(model.kv, tp)
    dq, dv = model.qk_head_dim, model.v_head_dim
    g = 1 if model.precision == "fp8" else 2  # FP8 training keeps GEMM inputs for backward in FP8
    dropout_masks = 2 * h if model.dropout else 0
    replicated = 4 * h + g * h + g * h + dropout_masks  # LN inputs, QKV and MLP inputs, masks
    attention = 2 * (heads * dq + kv * dq) + 2 * kv * dv + g * heads * dv
    if options.flash_attention:
        attention += 4 * heads  # softmax statistics (fp32 per row)
    elif mode == "none":
        attention += 5 * heads * model.sequence_length
    split = float(attention) / tp
    if moe_layer and model.moe is not None:
        moe = model.moe
        weight_split, token_split = expert_token_split(layout)
        per_assignment = g * h + (4 if model.gated_mlp else 2) * moe.expert_hidden_size + g * moe.expert_hidden_size
        split += moe.top_k * per_assignment / (weight_split * token_split)
        if moe.shared_experts:
            f = moe.shared_experts * moe.expert_hidden_size
            split += ((4 if model.gated_mlp else 2) * f + g * f) / tp
    else:
        split += ((4 if model.gated_mlp else 2) * model.ffn + g * model.ffn) / tp
    return tokens * (replicated / sp + split)


def stage_layers(model: ModelShape, layout: Layout) -> tuple[int, int]:
    """(layers on the fullest stage, layers on the last stage) when layers are spread as evenly
    as possible and the last stage, which also holds the output head, takes the remainder."""
    per_stage = ceil_div(model.layers, layout.pp)
    if layout.pp == 1:
        return model.layers, model.layers
    return per_stage, max(0, model.layers - (layout.pp - 1) * per_stage)


def in_flight_layers(model: ModelShape, layout: Layout, layers_on_stage: int) -> float:
    """Layers' worth of micro-batch activations the first stage holds at its peak."""
    m, pp, v = layout.micro_batches, layout.pp, layout.virtual_stages
    if layout.schedule == "dualpipe":
        return layers_on_stage * min(m, pp + 1)
    if v > 1:
        chunks = min(m * v, pp * v + pp - 1)
        return chunks * model.layers / (pp * v)
    return layers_on_stage * min(m, pp)


def _mixed_layer_average(model: ModelShape, value_dense: float, value_moe: float, layers: int) -> float:
    """Sum over ``layers`` layers of one stage, MoE layers counted first (the worst stage)."""
    moe_here = min(model.moe_layer_count, layers)
    return moe_here * value_moe + (layers - moe_here) * value_dense


def _stage_parameters(counts: ParameterCounts, model: ModelShape, layout: Layout,
                      layers: int) -> tuple[float, float]:
    """(non-expert, expert) parameters held by one device for ``layers`` layers."""
    moe_here = min(model.moe_layer_count, layers)
    dense_here = layers - moe_here
    weight_split, _ = expert_token_split(layout)
    non_expert = (dense_here * counts.dense_layer + moe_here * counts.moe_layer_non_expert) / layout.tp
    expert = moe_here * counts.routed_per_moe_layer / (layout.ep * weight_split)
    return non_expert, expert


def estimate_memory(model: ModelShape, layout: Layout, accelerator: object, *,
                    options: ExecutionOptions | None = None,
                    calibration: Calibration | None = None) -> MemoryEstimate:
    """Per-device memory of the most loaded stage of ``model`` trained with ``layout``."""
    device: DeviceSpec = as_device(accelerator)
    options = options or ExecutionOptions()
    calibration = calibration or default_calibration()
    counts = parameter_counts(model)
    first_layers, last_layers = stage_layers(model, layout)
    stages = [(first_layers, counts.embedding, True)]
    if layout.pp > 1:
        stages.append((last_layers, counts.output if not model.tied_embeddings else counts.embedding, False))
    else:
        stages = [(first_layers, counts.embedding + counts.output, True)]
    best: MemoryEstimate | None = None
    for layers, embedding_params, is_first in stages:
        estimate = _stage_memory(model, layout, device, options, calibration, counts, layers,
                                 embedding_params, is_first=is_first)
        if best is None or estimate.total > best.total:
            best = estimate
    assert best is not None
    return best


def _stage_memory(model: ModelShape, layout: Layout, device: DeviceSpec, options: ExecutionOptions,
                  calibration: Calibration, counts: ParameterCounts, layers: int, embedding_params: float,
                  *, is_first: bool) -> MemoryEstimate:
    non_expert, expert = _stage_parameters(counts, model, layout, layers)
    non_expert += embedding_params / layout.tp
    copies = 2.0 if layout.schedule == "dualpipe" else 1.0  # DualPipe keeps two stages per device
    dp_shard = layout.dp * layout.cp
    expert_shard = max(1, dp_shard // layout.ep)
    weight_bytes = 2.0 + (1.0 if model.precision == "fp8" else 0.0)
    if model.precision == "fp32":
        weight_bytes = 4.0

    def sharded(params_non_expert: float, params_expert: float, stage: int, bytes_per: float) -> float:
        if layout.zero_stage >= stage:
            return bytes_per * (params_non_expert / dp_shard + params_expert / expert_shard)
        return bytes_per * (params_non_expert + params_expert)

    weights = copies * sharded(non_expert, expert, 3, weight_bytes)
    if layout.zero_stage >= 3:  # gathered working set: the layer running and the one prefetched
        per_layer = (non_expert + expert) / max(1, layers)
        weights += 2 * per_layer * weight_bytes
    gradients = copies * sharded(non_expert, expert, 2, float(options.grad_bytes))
    optimizer = copies * sharded(non_expert, expert, 1, ADAM_BYTES_PER_PARAM)

    per_dense = activation_bytes_per_layer(model, layout, options, moe_layer=False)
    per_moe = activation_bytes_per_layer(model, layout, options, moe_layer=True)
    average = _mixed_layer_average(model, per_dense, per_moe, layers) / max(1, layers)
    activations = average * in_flight_layers(model, layout, layers)
    if layout.activation_recompute == "full":  # one layer is rematerialised at a time
        activations += _mixed_layer_average(
            model, activation_bytes_per_layer(model, layout, options, moe_layer=False, recompute="none"),
            activation_bytes_per_layer(model, layout, options, moe_layer=True, recompute="none"),
            1)
    if not is_first or layout.pp == 1:  # logits (bf16) and their fp32 softmax on the last stage
        activations += 6.0 * tokens_per_microbatch(model, layout) * model.vocab_size / layout.tp
    usable = device.hbm_bytes * (1 - calibration.memory_fragmentation) - calibration.memory_reserve_bytes
    return MemoryEstimate(weights=weights, gradients=gradients, optimizer=optimizer, activations=activations,
                          capacity=max(0.0, usable), hbm=device.hbm_bytes)
