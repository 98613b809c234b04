"""What a transformer computes: parameter counts, matrix multiplications and FLOPs.

Owns ``ParameterCounts`` (counted from the shape, never taken on trust), ``Gemm`` (one matrix
multiplication ``[m × k] · [k × n]``, possibly repeated), ``layer_gemms`` (the forward GEMMs of
one layer on one device for one micro-batch under a layout) and the FLOP counts used for MFU.

Conventions:
- FLOPs count a multiply-add as 2.
- *Model FLOPs* (for MFU) are ``3 ×`` the forward FLOPs of the matrix multiplications plus
  attention scores ``2·s·H·(d_qk + d_v)`` per token per layer *without* halving for the causal
  mask — the convention of PaLM (Chowdhery et al. 2022, App. B) and Megatron-LM — and without
  activation recomputation. *Executed* attention FLOPs halve for causal masks when a fused
  (flash) kernel skips the masked blocks.
- Tensor parallelism splits attention heads and the MLP's inner dimension; MLA's low-rank
  down-projections and the MoE router are replicated across tensor ranks. Routed experts are
  split across tensor ranks only when expert parallelism is off; with ``ep > 1`` each device
  holds ``experts / ep`` whole experts and the tokens are split across tensor ranks instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from controlplane.perfmodel.shapes import Layout, ModelShape


@dataclass(frozen=True)
class ParameterCounts:
    """Parameters by role; ``expert`` is one routed expert."""

    attention_per_layer: float
    dense_mlp_per_layer: float
    router_per_moe_layer: float
    expert: float
    shared_experts_per_moe_layer: float
    norms_per_layer: float
    embedding: float
    output: float
    dense_layers: int
    moe_layers: int
    routed_experts: int
    top_k: int

    @property
    def routed_per_moe_layer(self) -> float:
        return self.expert * self.routed_experts

    @property
    def dense_layer(self) -> float:
        return self.attention_per_layer + self.dense_mlp_per_layer + self.norms_per_layer

    @property
    def moe_layer_non_expert(self) -> float:
        """Parameters of an MoE layer that every token uses (attention, router, shared experts)."""
        return (self.attention_per_layer + self.router_per_moe_layer + self.shared_experts_per_moe_layer
                + self.norms_per_layer)

    @property
    def total(self) -> float:
        return (self.dense_layers * self.dense_layer
                + self.moe_layers * (self.moe_layer_non_expert + self.routed_per_moe_layer)
                + self.embedding + self.output)

    @property
    def active(self) -> float:
        """Parameters one token touches (embedding and output included)."""
        return (self.dense_layers * self.dense_layer
                + self.moe_layers * (self.moe_layer_non_expert + self.expert * self.top_k)
                + self.embedding + self.output)

    @property
    def expert_total(self) -> float:
        return self.moe_layers * self.routed_per_moe_layer

    @property
    def non_expert_total(self) -> float:
        return self.total - self.expert_total


def attention_parameters(model: ModelShape) -> float:
    h, heads = model.hidden_size, model.attention_heads
    if model.mla is not None:
        mla = model.mla
        query = (h * mla.q_lora_rank + mla.q_lora_rank * heads * mla.qk_head_dim
                 if mla.q_lora_rank else h * heads * mla.qk_head_dim)
        key_value = h * (mla.kv_lora_rank + mla.qk_rope_head_dim) + mla.kv_lora_rank * heads * (
            mla.qk_nope_head_dim + mla.v_head_dim)
        return query + key_value + heads * mla.v_head_dim * h
    d = model.qk_head_dim
    return h * heads * d + 2 * h * model.kv * d + heads * d * h


def mlp_parameters(hidden: int, ffn: int, gated: bool) -> float:
    return (3 if gated else 2) * hidden * ffn


def parameter_counts(model: ModelShape) -> ParameterCounts:
    h = model.hidden_size
    moe = model.moe
    embedding = float(model.vocab_size * h)
    return ParameterCounts(
        attention_per_layer=float(attention_parameters(model)),
        dense_mlp_per_layer=float(mlp_parameters(h, model.ffn, model.gated_mlp)),
        router_per_moe_layer=float(h * moe.experts) if moe else 0.0,
        expert=float(mlp_parameters(h, moe.expert_hidden_size, model.gated_mlp)) if moe else 0.0,
        shared_experts_per_moe_layer=(
            float(moe.shared_experts * mlp_parameters(h, moe.expert_hidden_size, model.gated_mlp)) if moe else 0.0),
        norms_per_layer=float(2 * h),
        embedding=embedding,
        output=0.0 if model.tied_embeddings else embedding,
        dense_layers=model.dense_layer_count,
        moe_layers=model.moe_layer_count,
        routed_experts=moe.experts if moe else 0,
        top_k=moe.top_k if moe else 0,
    )


@dataclass(frozen=True)
class Gemm:
    """``count`` identical multiplications of an ``m × k`` by a ``k × n`` matrix."""

    name: str
    m: float
    k: float
    n: float
    count: float = 1.0

    @property
    def flops(self) -> float:
        return 2.0 * self.m * self.k * self.n * self.count

    def operand_elements(self) -> float:
        return (self.m * self.k + self.k * self.n + self.m * self.n) * self.count


def tokens_per_microbatch(model: ModelShape, layout: Layout) -> float:
    """Tokens of one micro-batch on one device before tensor-parallel splitting."""
    return layout.micro_batch_size * model.sequence_length / layout.cp


def expert_token_split(layout: Layout) -> tuple[int, int]:
    """(tensor split of expert weights, tensor split of the tokens experts see)."""
    return (layout.tp, 1) if layout.ep == 1 else (1, layout.tp)


def attention_gemms(model: ModelShape, layout: Layout) -> list[Gemm]:
    t, tp, h, heads = tokens_per_microbatch(model, layout), layout.tp, model.hidden_size, model.attention_heads
    if model.mla is not None:
        mla = model.mla
        gemms = [Gemm("kv_down", t, h, mla.kv_lora_rank + mla.qk_rope_head_dim),
                 Gemm("kv_up", t, mla.kv_lora_rank, heads * (mla.qk_nope_head_dim + mla.v_head_dim) / tp)]
        if mla.q_lora_rank:
            gemms += [Gemm("q_down", t, h, mla.q_lora_rank),
                      Gemm("q_up", t, mla.q_lora_rank, heads * mla.qk_head_dim / tp)]
        else:
            gemms.append(Gemm("q", t, h, heads * mla.qk_head_dim / tp))
        return [*gemms, Gemm("attn_out", t, heads * mla.v_head_dim / tp, h)]
    d = model.qk_head_dim
    kv_heads = max(model.kv, tp)  # KV heads are replicated when tp exceeds them
    return [Gemm("qkv", t, h, (heads * d + 2 * kv_heads * d) / tp), Gemm("attn_out", t, heads * d / tp, h)]


def dense_mlp_gemms(model: ModelShape, layout: Layout, ffn: int, name: str = "mlp") -> list[Gemm]:
    t, tp, h = tokens_per_microbatch(model, layout), layout.tp, model.hidden_size
    width = (2 if model.gated_mlp else 1) * ffn
    return [Gemm(f"{name}_up", t, h, width / tp), Gemm(f"{name}_down", t, ffn / tp, h)]


def moe_gemms(model: ModelShape, layout: Layout) -> list[Gemm]:
    moe = model.moe
    assert moe is not None
    t, h = tokens_per_microbatch(model, layout), model.hidden_size
    weight_split, token_split = expert_token_split(layout)
    local_experts = moe.experts / layout.ep
    assignments = t * moe.top_k / token_split  # token-expert pairs this device computes
    per_expert = assignments / local_experts
    width = (2 if model.gated_mlp else 1) * moe.expert_hidden_size
    gemms = [Gemm("router", t, h, moe.experts),
             Gemm("experts_up", per_expert, h, width / weight_split, count=local_experts),
             Gemm("experts_down", per_expert, moe.expert_hidden_size / weight_split, h, count=local_experts)]
    if moe.shared_experts:
        gemms += dense_mlp_gemms(model, layout, moe.shared_experts * moe.expert_hidden_size, name="shared")
    return gemms


def layer_gemms(model: ModelShape, layout: Layout, *, moe_layer: bool) -> list[Gemm]:
    """Forward GEMMs of one layer for one micro-batch on one device."""
    mlp = moe_gemms(model, layout) if moe_layer else dense_mlp_gemms(model, layout, model.ffn)
    return attention_gemms(model, layout) + mlp


def output_head_gemm(model: ModelShape, layout: Layout) -> Gemm:
    return Gemm("output_head", tokens_per_microbatch(model, layout), model.hidden_size,
                model.vocab_size / layout.tp)


def attention_score_flops(model: ModelShape, layout: Layout, *, executed: bool, fused: bool = True) -> float:
    """Forward FLOPs of ``QKᵀ`` and ``PV`` for one layer, one micro-batch, one device.

    ``executed=False`` gives the model-FLOPs convention (full score matrix); ``executed=True``
    halves it for causal masks when the kernel is fused (flash attention skips masked blocks).
    """
    queries = tokens_per_microbatch(model, layout)
    keys = model.sequence_length
    heads = model.attention_heads / layout.tp
    flops = 2.0 * queries * keys * heads * (model.qk_head_dim + model.v_head_dim)
    return flops / 2 if executed and fused else flops


def model_flops_per_token(model: ModelShape) -> float:
    """Training model FLOPs per token (3 × forward; see the module conventions)."""
    counts = parameter_counts(model)
    matmul_params = counts.active - counts.embedding  # the embedding lookup is not a matmul
    if model.tied_embeddings:
        matmul_params += counts.embedding  # ... but a tied output head is one
    matmul_params -= model.layers * counts.norms_per_layer
    attention = 2.0 * model.sequence_length * model.attention_heads * (model.qk_head_dim + model.v_head_dim)
    return 3.0 * (2.0 * matmul_params + model.layers * attention)
