"""Descriptions of the neural network a job trains or a service serves.

Owns ``MoESpec`` (mixture-of-experts shape), ``ModelSpec`` (a model *being trained*: full
architecture plus sequence length and batch sizes, which the performance model needs) and
``ServingModelSpec`` (a model *being served*: only ``parameters`` is required; the
architecture fields are optional because a user serving a checkpoint may not know them, but
when given they are checked the same way and enable better sizing of the KV cache).
``ServingModelSpec`` accepts every key of ``ModelSpec`` (``sequenceLength`` meaning the longest
context served; ``globalBatchSize``/``microBatchSize`` accepted and unused) so that a model
block can be copied from a training job into a service unchanged.

Vocabulary: *parameters* is the total parameter count (all experts included);
*activeParameters* is what one token actually uses in an MoE model.  Both accept ``"70B"``-style
strings.  *kvHeads* is the number of key/value heads (grouped-query attention).
"""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from jobspecs._base import (
    NonNegativeInt,
    Parameters,
    PositiveInt,
    SpecModel,
    Violation,
    divisors,
    raise_violations,
)
from jobspecs.units import format_quantity

Precision = Literal["bf16", "fp8", "fp16", "fp32"]


class MoESpec(SpecModel):
    """Mixture-of-experts shape of the MoE layers."""

    experts: PositiveInt
    """Routed experts per MoE layer."""
    top_k: PositiveInt
    """Experts each token is routed to (at most experts)."""
    groups: PositiveInt = 1
    """Expert groups for group-limited routing (must divide experts)."""
    shared_experts: NonNegativeInt = 0
    """Always-active shared experts per MoE layer."""
    active_parameters: Parameters | None = None
    """Parameters used per token (at most the model's parameters)."""
    expert_hidden_size: PositiveInt | None = None
    """Hidden size of one expert's feed-forward network."""
    moe_layers: PositiveInt | None = None
    """How many of the model's layers are MoE layers (default: all)."""

    @model_validator(mode="after")
    def _check(self) -> MoESpec:
        problems = []
        if self.top_k > self.experts:
            problems.append(
                Violation(
                    ("topK",),
                    f"topK ({self.top_k}) exceeds experts ({self.experts})",
                    f"set topK to at most {self.experts}",
                )
            )
        if self.experts % self.groups:
            problems.append(
                Violation(
                    ("groups",),
                    f"groups ({self.groups}) must divide experts ({self.experts})",
                    f"choose groups among {', '.join(map(str, divisors(self.experts, 10)))}",
                )
            )
        raise_violations(problems)
        return self


def _architecture_violations(
    parameters: float,
    layers: int | None,
    attention_heads: int | None,
    kv_heads: int | None,
    moe: MoESpec | None,
) -> list[Violation]:
    """Rules shared by the training and serving model descriptions."""
    problems = []
    if kv_heads is not None and attention_heads is not None and attention_heads % kv_heads:
        problems.append(
            Violation(
                ("kvHeads",),
                f"kvHeads ({kv_heads}) must divide attentionHeads ({attention_heads})",
                f"choose kvHeads among {', '.join(map(str, divisors(attention_heads, 12)))}",
            )
        )
    if moe is not None:
        if moe.active_parameters is not None and moe.active_parameters > parameters:
            problems.append(
                Violation(
                    ("moe", "activeParameters"),
                    f"activeParameters ({format_quantity(moe.active_parameters)}) exceeds the model's "
                    f"parameters ({format_quantity(parameters)})",
                    "parameters is the total count including every expert; activeParameters is the "
                    "per-token subset",
                )
            )
        if moe.moe_layers is not None and layers is not None and moe.moe_layers > layers:
            problems.append(
                Violation(
                    ("moe", "moeLayers"),
                    f"moeLayers ({moe.moe_layers}) exceeds layers ({layers})",
                    f"set moeLayers to at most {layers}",
                )
            )
    return problems


class ModelSpec(SpecModel):
    """The model a training job trains, with the shapes the performance model needs."""

    name: str | None = None
    """Free-form model name, e.g. llama-3-70b."""
    parameters: Parameters
    """Total parameter count (70B, 1.5T, 7.0e10 ...)."""
    layers: PositiveInt
    """Transformer layers."""
    hidden_size: PositiveInt
    """Model (embedding) dimension."""
    ffn_hidden_size: PositiveInt | None = None
    """Dense feed-forward hidden size."""
    attention_heads: PositiveInt
    """Query attention heads."""
    kv_heads: PositiveInt | None = None
    """Key/value heads for grouped-query attention (must divide attentionHeads)."""
    vocab_size: PositiveInt = 32000
    """Vocabulary size."""
    sequence_length: PositiveInt
    """Training sequence length in tokens."""
    global_batch_size: PositiveInt
    """Sequences per optimizer step."""
    micro_batch_size: PositiveInt = 1
    """Sequences per micro-batch on one data-parallel rank."""
    precision: Precision = "bf16"
    """Compute precision."""
    moe: MoESpec | None = None
    """Mixture-of-experts shape; absent for dense models."""

    @model_validator(mode="after")
    def _check(self) -> ModelSpec:
        raise_violations(
            _architecture_violations(
                self.parameters, self.layers, self.attention_heads, self.kv_heads, self.moe
            )
        )
        return self

    @property
    def tokens_per_step(self) -> int:
        """Tokens processed by one optimizer step."""
        return self.global_batch_size * self.sequence_length

    @property
    def active_parameters(self) -> float:
        """Parameters used per token: ``moe.activeParameters`` when known, else ``parameters``."""
        if self.moe is not None and self.moe.active_parameters is not None:
            return self.moe.active_parameters
        return self.parameters


class ServingModelSpec(SpecModel):
    """The model an inference service serves; architecture fields are optional."""

    name: str | None = None
    """Free-form model name, e.g. deepseek-v3."""
    parameters: Parameters
    """Total parameter count (671B ...)."""
    layers: PositiveInt | None = None
    """Transformer layers."""
    hidden_size: PositiveInt | None = None
    """Model (embedding) dimension."""
    ffn_hidden_size: PositiveInt | None = None
    """Dense feed-forward hidden size."""
    attention_heads: PositiveInt | None = None
    """Query attention heads."""
    kv_heads: PositiveInt | None = None
    """Key/value heads (must divide attentionHeads)."""
    vocab_size: PositiveInt = 32000
    """Vocabulary size."""
    sequence_length: PositiveInt | None = None
    """Longest context (prompt + output tokens) the service must support."""
    global_batch_size: PositiveInt | None = None
    """Accepted so a TrainingJob model block can be reused verbatim; not used for serving."""
    micro_batch_size: PositiveInt | None = None
    """Accepted so a TrainingJob model block can be reused verbatim; not used for serving."""
    precision: Precision = "bf16"
    """Serving precision."""
    moe: MoESpec | None = None
    """Mixture-of-experts shape; absent for dense models."""

    @model_validator(mode="after")
    def _check(self) -> ServingModelSpec:
        raise_violations(
            _architecture_violations(
                self.parameters, self.layers, self.attention_heads, self.kv_heads, self.moe
            )
        )
        return self

    @property
    def active_parameters(self) -> float:
        """Parameters used per token: ``moe.activeParameters`` when known, else ``parameters``."""
        if self.moe is not None and self.moe.active_parameters is not None:
            return self.moe.active_parameters
        return self.parameters
