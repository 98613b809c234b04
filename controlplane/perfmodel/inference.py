"""Serving estimates: does a replica fit, how fast it prefills and decodes, and its latency.

Owns ``InferenceEstimate`` and ``estimate_inference`` for one replica of ``tp × pp`` devices
serving ``batch_size`` concurrent sequences of ``prompt_tokens + output_tokens``.

- Memory: weights (``bytes_per_weight``: 2 for BF16, 1 for FP8) split over the replica's
  devices, plus the KV cache — ``2 · layers · kv_heads · head_dim`` values per token
  (``layers · (kv_lora_rank + rope_dim)`` for MLA), KV heads split over tensor ranks — plus
  a workspace of one prefill micro-batch's activations.
- Decode: one token for every sequence per step; each layer's GEMMs have ``M = batch``, so
  the same roofline as training puts small batches on the memory roof (weights streamed
  from HBM once per step) and large ones on the compute roof; attention streams the KV cache.
  Tensor parallelism adds two all-reduces of ``batch · h`` values per layer (latency-bound).
  With ``pp > 1`` a token passes the stages one after another, so latency adds up over
  stages while throughput stays that of one stage when ``batch ≥ pp`` (the stages work on
  different sequences).
- Prefill: ``prompt_tokens`` tokens of one request, compute-bound, which gives the time to
  first token; prefill throughput is that of a full micro-batch.
- ``p50_latency_s`` is a proxy: time to first token plus ``output_tokens`` decode steps at
  the estimated batch (queueing is not modelled).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from controlplane.perfmodel.calibration import Calibration, default_calibration
from controlplane.perfmodel.comm import all_reduce, group_link
from controlplane.perfmodel.device import DeviceSpec, as_device
from controlplane.perfmodel.flops import attention_score_flops, layer_gemms, output_head_gemm, parameter_counts
from controlplane.perfmodel.kernels import KernelTimer
from controlplane.perfmodel.memory import gib
from controlplane.perfmodel.shapes import Layout, ModelShape, ceil_div

ACTIVATION_BYTES = 2.0


@dataclass(frozen=True)
class InferenceEstimate:
    accelerator: str
    devices_per_replica: int
    batch_size: int
    weights_bytes_per_device: float
    kv_bytes_per_device: float
    capacity_bytes: float
    max_batch_size: int
    time_to_first_token_s: float
    time_per_output_token_s: float
    prefill_tokens_per_second: float
    decode_tokens_per_second: float
    p50_latency_s: float

    @property
    def fits(self) -> bool:
        return self.weights_bytes_per_device + self.kv_bytes_per_device <= self.capacity_bytes

    @property
    def reason(self) -> str | None:
        if self.fits:
            return None
        return (f"needs {gib(self.weights_bytes_per_device):.1f} GiB of weights and "
                f"{gib(self.kv_bytes_per_device):.1f} GiB of KV cache per device but only "
                f"{gib(self.capacity_bytes):.1f} GiB is usable")

    def as_dict(self) -> dict[str, object]:
        return {"accelerator": self.accelerator, "devices_per_replica": self.devices_per_replica,
                "batch_size": self.batch_size, "weights_gib": gib(self.weights_bytes_per_device),
                "kv_cache_gib": gib(self.kv_bytes_per_device), "capacity_gib": gib(self.capacity_bytes),
                "max_batch_size": self.max_batch_size, "fits": self.fits, "reason": self.reason,
                "time_to_first_token_s": self.time_to_first_token_s,
                "time_per_output_token_s": self.time_per_output_token_s,
                "prefill_tokens_per_second": self.prefill_tokens_per_second,
                "decode_tokens_per_second": self.decode_tokens_per_second, "p50_latency_s": self.p50_latency_s}


def kv_bytes_per_token(model: ModelShape, *, tp: int, pp: int, kv_bytes: float) -> float:
    """KV-cache bytes one token occupies on one device of the replica."""
    if model.mla is not None:  # the compressed latent is shared by all heads: replicated over tp
        return model.layers * (model.mla.kv_lora_rank + model.mla.qk_rope_head_dim) * kv_bytes / pp
    kv_heads_per_device = max(1.0, model.kv / tp)
    return 2 * model.layers * kv_heads_per_device * (model.qk_head_dim + model.v_head_dim) / 2 * kv_bytes / pp


def _stage_step(model: ModelShape, sequences: int, new_tokens: int, context: int, *, tp: int, pp: int,
                device: DeviceSpec, calibration: Calibration, timer: KernelTimer, kv_bytes: float) -> float:
    """Seconds for one pipeline stage to add ``new_tokens`` to each of ``sequences`` sequences
    whose attention spans ``context`` tokens."""
    tokens = sequences * new_tokens
    shaped = replace(model, sequence_length=1)
    layout = Layout(tp=tp, micro_batch_size=tokens)
    layers = ceil_div(model.layers, pp)
    dense = timer.gemms(layer_gemms(shaped, layout, moe_layer=False))
    moe = timer.gemms(layer_gemms(shaped, layout, moe_layer=True)) if model.moe else dense
    moe_here = min(model.moe_layer_count, layers)
    per_stage = moe_here * moe + (layers - moe_here) * dense
    scores = attention_score_flops(replace(model, sequence_length=context), Layout(tp=tp), executed=False)
    scores *= tokens / context  # ``tokens`` queries, each against ``context`` keys
    if new_tokens > 1:
        scores /= 2  # causal prefill
    kv_read = kv_bytes_per_token(model, tp=tp, pp=pp, kv_bytes=kv_bytes) * context * sequences
    attention = max(scores * layers / timer.gemm_rate("bf16"), kv_read / timer.memory_rate)
    link = group_link(device, calibration, size=tp, stride=1)
    tp_comm = 2 * layers * all_reduce(tp, tokens * model.hidden_size * ACTIVATION_BYTES, link)
    head = timer.gemm(output_head_gemm(shaped, layout)) / pp
    return per_stage + attention + tp_comm + head


def estimate_inference(model: ModelShape, accelerator: object, *, tp: int = 1, pp: int = 1, batch_size: int = 1,
                       prompt_tokens: int = 1024, output_tokens: int = 256, bytes_per_weight: float | None = None,
                       kv_bytes: float = 2.0, calibration: Calibration | None = None) -> InferenceEstimate:
    """Serving estimate for one replica of ``model`` on ``tp × pp`` devices of ``accelerator``."""
    device = as_device(accelerator)
    calibration = calibration or default_calibration()
    weight_bytes = bytes_per_weight or (1.0 if model.precision == "fp8" else 2.0)
    timer = KernelTimer(device, model.precision, calibration)
    devices = tp * pp
    weights = parameter_counts(model).total * weight_bytes / devices
    context = prompt_tokens + output_tokens
    per_sequence_kv = kv_bytes_per_token(model, tp=tp, pp=pp, kv_bytes=kv_bytes) * context
    workspace = prompt_tokens * (model.hidden_size + model.ffn * 2 + model.vocab_size / tp) * ACTIVATION_BYTES
    capacity = max(0.0, device.hbm_bytes * (1 - calibration.memory_fragmentation) - calibration.memory_reserve_bytes)
    free = capacity - weights - workspace
    max_batch = max(0, int(free // per_sequence_kv)) if per_sequence_kv > 0 else 0

    prefill_stage = _stage_step(model, 1, prompt_tokens, prompt_tokens, tp=tp, pp=pp, device=device,
                                calibration=calibration, timer=timer, kv_bytes=kv_bytes)
    ttft = prefill_stage * pp
    average_context = prompt_tokens + output_tokens // 2
    decode_stage = _stage_step(model, batch_size, 1, average_context, tp=tp, pp=pp, device=device,
                               calibration=calibration, timer=timer, kv_bytes=kv_bytes)
    tpot = decode_stage * pp
    decode_rate = batch_size / (decode_stage if batch_size >= pp else tpot)
    return InferenceEstimate(
        accelerator=device.name, devices_per_replica=devices, batch_size=batch_size,
        weights_bytes_per_device=weights, kv_bytes_per_device=per_sequence_kv * batch_size + workspace,
        capacity_bytes=capacity, max_batch_size=max_batch, time_to_first_token_s=ttft,
        time_per_output_token_s=tpot, prefill_tokens_per_second=prompt_tokens / prefill_stage,
        decode_tokens_per_second=decode_rate, p50_latency_s=ttft + output_tokens * tpot)
