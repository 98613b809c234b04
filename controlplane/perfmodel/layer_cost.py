"""Seconds one transformer layer costs one device for one micro-batch, split by cause.

Owns ``LayerCost`` and ``layer_cost``: forward and backward compute (GEMMs, attention,
memory-bound kernels), recomputation, and the communication that sits inside a layer —
tensor-parallel all-gather/reduce-scatter, context-parallel KV exchange and expert
all-to-all — each both as raw time and as the part left exposed after the overlap the
``ExecutionOptions`` allow.

Backward GEMMs cost twice the forward ones (a data-gradient and a weight-gradient GEMM of the
same size); fused attention's backward costs 2.5 × its forward (it recomputes the scores).
Tensor parallelism issues four collectives of ``T·h`` 16-bit values per layer per pass (two
all-reduces, or with sequence parallelism two all-gathers and two reduce-scatters: same
volume); full recomputation repeats the forward ones. Expert parallelism issues a dispatch
and a combine all-to-all per pass (dispatch in FP8 when training in FP8, as DeepSeek-V3
does); the share of tokens leaving the node is bounded by ``routing_node_limit``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from controlplane.perfmodel.calibration import Calibration
from controlplane.perfmodel.comm import group_link, intra_node_link, reduce_scatter, scale_out_link
from controlplane.perfmodel.device import DeviceSpec
from controlplane.perfmodel.flops import (
    Gemm,
    attention_score_flops,
    expert_token_split,
    layer_gemms,
    output_head_gemm,
    tokens_per_microbatch,
)
from controlplane.perfmodel.kernels import KernelTimer
from controlplane.perfmodel.memory import activation_bytes_per_layer
from controlplane.perfmodel.shapes import ExecutionOptions, Layout, ModelShape

FUSED_ATTENTION_BACKWARD_RATIO = 2.5
ACTIVATION_BYTES = 2.0


@dataclass(frozen=True)
class LayerCost:
    """Seconds for one layer (or the output head), one micro-batch, one device."""

    forward: float = 0.0
    backward: float = 0.0
    recompute: float = 0.0
    tp_comm: float = 0.0
    cp_comm: float = 0.0
    ep_comm: float = 0.0
    tp_comm_raw: float = 0.0
    ep_comm_raw: float = 0.0
    forward_compute_only: float = 0.0

    @property
    def compute(self) -> float:
        return self.forward + self.backward + self.recompute

    @property
    def total(self) -> float:
        return self.compute + self.tp_comm + self.cp_comm + self.ep_comm

    def scaled(self, factor: float) -> LayerCost:
        return LayerCost(**{f.name: getattr(self, f.name) * factor for f in fields(self)})

    def __add__(self, other: LayerCost) -> LayerCost:
        return LayerCost(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})


def _attention_forward(model: ModelShape, layout: Layout, options: ExecutionOptions, timer: KernelTimer) -> float:
    if options.flash_attention:
        return timer.fused_attention(attention_score_flops(model, layout, executed=True, fused=True))
    queries = tokens_per_microbatch(model, layout) / layout.micro_batch_size
    batches = layout.micro_batch_size * model.attention_heads / layout.tp
    keys = model.sequence_length
    return timer.gemms([Gemm("scores", queries, model.qk_head_dim, keys, count=batches),
                        Gemm("context", queries, keys, model.v_head_dim, count=batches)])


def _tp_comm_per_pass(model: ModelShape, layout: Layout, device: DeviceSpec, calibration: Calibration) -> float:
    if layout.tp == 1:
        return 0.0
    link = group_link(device, calibration, size=layout.tp, stride=1)
    nbytes = tokens_per_microbatch(model, layout) * model.hidden_size * ACTIVATION_BYTES
    return 4 * reduce_scatter(layout.tp, nbytes, link)


def _cp_comm_per_pass(model: ModelShape, layout: Layout, device: DeviceSpec, calibration: Calibration) -> float:
    if layout.cp == 1:
        return 0.0
    link = group_link(device, calibration, size=layout.cp, stride=layout.tp)
    kv_heads = max(model.kv, layout.tp) / layout.tp
    chunk = tokens_per_microbatch(model, layout) * kv_heads * (model.qk_head_dim + model.v_head_dim) * ACTIVATION_BYTES
    return (layout.cp - 1) * (chunk / link.bytes_per_s + link.latency_s)


def _ep_all_to_alls(model: ModelShape, layout: Layout, device: DeviceSpec, calibration: Calibration) -> float:
    """Seconds for one dispatch plus one combine all-to-all of one MoE layer."""
    moe = model.moe
    if moe is None or layout.ep == 1:
        return 0.0
    _, token_split = expert_token_split(layout)
    tokens = tokens_per_microbatch(model, layout) / token_split
    ranks_per_node = max(1, device.devices_per_node // (layout.tp * layout.cp))
    in_node = min(layout.ep, ranks_per_node)
    cross_fraction = (layout.ep - in_node) / layout.ep
    local_fraction = (in_node - 1) / layout.ep
    cross_copies = moe.top_k * cross_fraction
    if moe.routing_node_limit is not None:
        cross_copies = min(cross_copies, float(moe.routing_node_limit))
    intra, scale_out = intra_node_link(device, calibration), scale_out_link(device, calibration)
    tokens *= moe.load_imbalance  # the busiest rank receives (and returns) the most tokens
    seconds = 0.0
    for element_bytes in (1.0 if model.precision == "fp8" else ACTIVATION_BYTES, ACTIVATION_BYTES):
        per_copy = tokens * model.hidden_size * element_bytes
        cross = cross_copies * per_copy / scale_out.bytes_per_s + (scale_out.latency_s if cross_copies else 0.0)
        local = moe.top_k * local_fraction * per_copy / intra.bytes_per_s + (intra.latency_s if local_fraction else 0.0)
        seconds += max(cross, local)
    return seconds


def layer_cost(model: ModelShape, layout: Layout, device: DeviceSpec, options: ExecutionOptions,
               calibration: Calibration, *, moe_layer: bool) -> LayerCost:
    """Cost of one transformer layer for one micro-batch on one device."""
    timer = KernelTimer(device, model.precision, calibration, compute_share=1 - options.comm_sm_fraction)
    gemms = layer_gemms(model, layout, moe_layer=moe_layer)
    imbalance = model.moe.load_imbalance if (moe_layer and model.moe is not None) else 1.0
    gemm_forward = sum(timer.gemm(g) * (imbalance if g.name.startswith("experts") else 1.0) for g in gemms)
    attention_forward = _attention_forward(model, layout, options, timer)
    stored = activation_bytes_per_layer(model, layout, options, moe_layer=moe_layer, recompute="none")
    streaming_forward = timer.streaming(stored * calibration.elementwise_bytes_per_stored_byte / 3, kernels=8)
    attention_backward_ratio = FUSED_ATTENTION_BACKWARD_RATIO if options.flash_attention else 2.0
    forward = gemm_forward + attention_forward + streaming_forward
    backward = 2 * gemm_forward + attention_backward_ratio * attention_forward + 2 * streaming_forward

    tp_pass = _tp_comm_per_pass(model, layout, device, calibration)
    cp_pass = _cp_comm_per_pass(model, layout, device, calibration)
    ep_pass = _ep_all_to_alls(model, layout, device, calibration) if moe_layer else 0.0

    recompute = 0.0
    passes = 2.0  # forward and backward each communicate once
    if layout.activation_recompute == "full":
        recompute = forward
        passes = 3.0
    elif layout.activation_recompute == "selective" and not options.flash_attention:
        # core attention again: score GEMMs plus softmax/dropout over the 5·H·s bytes per token
        score_bytes = 5 * model.attention_heads * model.sequence_length / layout.tp * tokens_per_microbatch(
            model, layout)
        recompute = attention_forward + timer.streaming(
            score_bytes * calibration.elementwise_bytes_per_stored_byte / 3, kernels=3)

    tp_raw, ep_raw = passes * tp_pass, passes * ep_pass
    gemm_time = gemm_forward * (3 + (1 if layout.activation_recompute == "full" else 0))
    tp_exposed = max(0.0, tp_raw - gemm_time) if options.overlap_tp_comm else tp_raw
    ep_exposed = max(0.0, ep_raw - (forward + backward)) if options.overlap_ep_comm else ep_raw
    attention_time = attention_forward * (1 + attention_backward_ratio)
    cp_exposed = max(0.0, cp_pass * 3 - attention_time)  # ring attention hides KV exchange behind compute
    return LayerCost(forward=forward, backward=backward, recompute=recompute, tp_comm=tp_exposed,
                     cp_comm=cp_exposed, ep_comm=ep_exposed, tp_comm_raw=tp_raw, ep_comm_raw=ep_raw,
                     forward_compute_only=forward)


def output_head_cost(model: ModelShape, layout: Layout, device: DeviceSpec, options: ExecutionOptions,
                     calibration: Calibration) -> LayerCost:
    """The output projection and the cross-entropy over the vocabulary (last stage only)."""
    timer = KernelTimer(device, model.precision, calibration, compute_share=1 - options.comm_sm_fraction)
    forward_gemm = timer.gemm(output_head_gemm(model, layout))
    logits = tokens_per_microbatch(model, layout) * model.vocab_size / layout.tp
    loss = timer.streaming(logits * 12.0, kernels=4)  # bf16 logits, fp32 softmax, gradient
    forward = forward_gemm + loss / 2
    return LayerCost(forward=forward, backward=2 * forward_gemm + loss / 2, forward_compute_only=forward)
