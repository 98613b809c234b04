"""Inputs of the performance model: what is trained, how it is split, which kernels run.

Owns the frozen value types every estimate takes:

* ``ModelShape`` (with optional ``MoEShape`` and ``MLAShape``): the architecture of a
  decoder-only transformer, enough to list its matrix multiplications and activations.
* ``Layout``: the parallel layout of one training run in Megatron vocabulary — the world is
  ``tp × cp × dp × pp`` devices (tensor innermost, pipeline outermost); expert parallelism
  ``ep`` is carved out of ``dp × cp`` and multiplies nothing.  ``micro_batches`` is the number
  of micro-batches per pipeline per optimizer step (gradient-accumulation steps), so the
  global batch is ``dp × micro_batches × micro_batch_size`` sequences.
* ``ExecutionOptions``: facts about the training software (fused attention, which
  communication overlaps are switched on), so that runs made with a 2021 code base and a 2025
  code base are each modelled as what they were, with the same calibration constants.

Nothing here depends on ``jobspecs``; ``controlplane.perfmodel.adapters`` converts from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from controlplane.domain.errors import InvalidInputError

Precision = Literal["bf16", "fp16", "fp8", "fp32"]
Recompute = Literal["none", "selective", "full"]
Schedule = Literal["1f1b", "dualpipe"]

RECOMPUTE_MODES: tuple[Recompute, ...] = ("none", "selective", "full")


@dataclass(frozen=True)
class MoEShape:
    """Mixture-of-experts part of a model.

    ``moe_layers`` MoE layers are the *last* layers of the model (DeepSeek-V3 keeps its first
    three layers dense); the others use the dense ``ffn_hidden_size``.  ``routing_node_limit``
    caps how many nodes one token is sent to (DeepSeek-V3's node-limited routing sends each
    token to at most 4 nodes), which bounds cross-node all-to-all traffic.  ``load_imbalance``
    scales the expert work and all-to-all traffic of the busiest rank, which every rank waits
    for (the expert-placement policy can supply it; benchmarks force-balance, i.e. 1.0).
    """

    experts: int
    top_k: int
    expert_hidden_size: int
    shared_experts: int = 0
    moe_layers: int | None = None
    routing_node_limit: int | None = None
    load_imbalance: float = 1.0
    """Tokens on the busiest expert-parallel rank over the mean (1.0 = perfectly balanced)."""

    def __post_init__(self) -> None:
        _positive("moe.experts", self.experts)
        _positive("moe.top_k", self.top_k)
        _positive("moe.expert_hidden_size", self.expert_hidden_size)
        if self.top_k > self.experts:
            raise InvalidInputError(
                f"top_k ({self.top_k}) exceeds experts ({self.experts})", field="moe.top_k",
                hint=f"set top_k to at most {self.experts}",
            )
        if self.shared_experts < 0:
            raise InvalidInputError("must not be negative", field="moe.shared_experts")
        if self.load_imbalance < 1.0:
            raise InvalidInputError(
                f"load_imbalance is max/mean tokens per rank, so at least 1 (got {self.load_imbalance})",
                field="moe.load_imbalance")


@dataclass(frozen=True)
class MLAShape:
    """Multi-head latent attention (DeepSeek-V2/V3): low-rank query and key/value projections."""

    kv_lora_rank: int
    qk_nope_head_dim: int
    qk_rope_head_dim: int
    v_head_dim: int
    q_lora_rank: int | None = None

    @property
    def qk_head_dim(self) -> int:
        return self.qk_nope_head_dim + self.qk_rope_head_dim


@dataclass(frozen=True)
class ModelShape:
    """A decoder-only transformer.

    ``gated_mlp`` selects a SwiGLU-style MLP (three weight matrices, Llama) instead of a
    two-matrix GELU MLP (GPT-3); ``dropout`` adds the dropout masks GPT-3-era models store.
    ``head_dim`` defaults to ``hidden_size / attention_heads``.
    ``parameters`` and ``active_parameters``, when given, are the published counts; the
    model itself always counts parameters from the shape (see ``flops.parameter_counts``)
    and only reports the declared figures next to its own.
    """

    layers: int
    hidden_size: int
    attention_heads: int
    sequence_length: int
    vocab_size: int = 32000
    ffn_hidden_size: int | None = None
    kv_heads: int | None = None
    head_dim: int | None = None
    gated_mlp: bool = True
    dropout: bool = False
    tied_embeddings: bool = False
    precision: Precision = "bf16"
    moe: MoEShape | None = None
    mla: MLAShape | None = None
    name: str = "model"
    parameters: float | None = None
    active_parameters: float | None = None

    def __post_init__(self) -> None:
        for name in ("layers", "hidden_size", "attention_heads", "sequence_length", "vocab_size"):
            _positive(name, getattr(self, name))
        if self.kv_heads is not None and self.attention_heads % self.kv_heads:
            raise InvalidInputError(
                f"kv_heads ({self.kv_heads}) must divide attention_heads ({self.attention_heads})",
                field="kv_heads",
            )
        if self.moe is not None and self.moe.moe_layers is not None and self.moe.moe_layers > self.layers:
            raise InvalidInputError(
                f"moe_layers ({self.moe.moe_layers}) exceeds layers ({self.layers})", field="moe.moe_layers"
            )

    @property
    def ffn(self) -> int:
        """Dense feed-forward hidden size (default 4 × hidden)."""
        return self.ffn_hidden_size or 4 * self.hidden_size

    @property
    def kv(self) -> int:
        """Key/value heads (multi-head attention when not set)."""
        return self.kv_heads or self.attention_heads

    @property
    def qk_head_dim(self) -> int:
        if self.mla is not None:
            return self.mla.qk_head_dim
        return self.head_dim or self.hidden_size // self.attention_heads

    @property
    def v_head_dim(self) -> int:
        if self.mla is not None:
            return self.mla.v_head_dim
        return self.head_dim or self.hidden_size // self.attention_heads

    @property
    def moe_layer_count(self) -> int:
        if self.moe is None:
            return 0
        return self.moe.moe_layers if self.moe.moe_layers is not None else self.layers

    @property
    def dense_layer_count(self) -> int:
        return self.layers - self.moe_layer_count


@dataclass(frozen=True)
class Layout:
    """Parallel layout and memory-saving choices of one training run.

    ``virtual_stages`` > 1 is Megatron's interleaved 1F1B schedule (each device holds that many
    model chunks); ``schedule="dualpipe"`` is DeepSeek-V3's bidirectional schedule.
    ``zero_stage`` shards optimizer states (1), gradients too (2) and weights too (3) across the
    data-parallel group; 1 is Megatron's distributed optimizer.
    """

    tp: int = 1
    pp: int = 1
    dp: int = 1
    ep: int = 1
    cp: int = 1
    micro_batch_size: int = 1
    micro_batches: int = 1
    virtual_stages: int = 1
    zero_stage: int = 1
    activation_recompute: Recompute = "selective"
    sequence_parallel: bool = True
    schedule: Schedule = "1f1b"

    def __post_init__(self) -> None:
        for name in ("tp", "pp", "dp", "ep", "cp", "micro_batch_size", "micro_batches", "virtual_stages"):
            _positive(name, getattr(self, name))
        if self.zero_stage not in (0, 1, 2, 3):
            raise InvalidInputError(
                f"zero_stage must be 0, 1, 2 or 3 (got {self.zero_stage})", field="zero_stage"
            )
        if self.activation_recompute not in RECOMPUTE_MODES:
            raise InvalidInputError(
                f"unknown recompute mode {self.activation_recompute!r}", field="activation_recompute",
                hint="use none, selective or full",
            )
        if (self.dp * self.cp) % self.ep:
            raise InvalidInputError(
                f"ep ({self.ep}) must divide dp × cp ({self.dp * self.cp}): experts are sharded over "
                "the data-parallel ranks",
                field="ep",
            )
        if self.schedule == "dualpipe" and self.pp % 2:
            raise InvalidInputError("dualpipe needs an even number of pipeline stages", field="pp")

    @property
    def devices(self) -> int:
        return self.tp * self.pp * self.dp * self.cp

    @property
    def global_batch_size(self) -> int:
        """Sequences per optimizer step."""
        return self.dp * self.micro_batches * self.micro_batch_size

    @property
    def sequence_parallel_active(self) -> bool:
        return self.sequence_parallel and self.tp > 1

    def describe(self) -> str:
        parts = [f"tp={self.tp}", f"pp={self.pp}", f"dp={self.dp}"]
        if self.cp > 1:
            parts.append(f"cp={self.cp}")
        if self.ep > 1:
            parts.append(f"ep={self.ep}")
        if self.virtual_stages > 1:
            parts.append(f"vp={self.virtual_stages}")
        return ",".join(parts)


@dataclass(frozen=True)
class ExecutionOptions:
    """What the training software does, independent of the hardware.

    Defaults describe a current Megatron-Core run: fused (flash) attention, gradient
    reduce-scatter overlapped with the last backward pass, parameter all-gather overlapped with
    the first forward pass, asynchronous pipeline sends, tensor-parallel and expert all-to-all
    communication *not* hidden behind compute.
    """

    flash_attention: bool = True
    overlap_grad_reduce: bool = True
    overlap_param_gather: bool = True
    overlap_p2p: bool = True
    overlap_tp_comm: bool = False
    overlap_ep_comm: bool = False
    comm_sm_fraction: float = 0.0
    """Share of the compute units dedicated to communication kernels (DeepSeek-V3: 20 of 132
    SMs), taken away from matrix multiplications for the whole step."""
    grad_bytes: int = 4
    """Bytes per gradient element, accumulated and reduced (Megatron-LM does both in FP32 for BF16)."""


def _positive(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidInputError(f"must be a positive integer (got {value!r})", field=name)


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)
