"""From the public contract (``jobspecs``) and from user text to the performance model's inputs.

Owns ``model_shape_from_spec`` (``ModelSpec``/``ServingModelSpec`` → ``ModelShape``),
``layout_from_spec`` (a ``TrainingJob``'s parallelism → ``Layout``) and ``parse_layout``
(the CLI's ``tp=8,pp=4,dp=4`` syntax).

Two things the contract does not say and the adapter decides:
- whether the MLP is gated (SwiGLU): the variant whose parameter count lands closer to the
  declared ``parameters`` wins (Llama-3-70B: gated 70.6B vs plain 61.2B → gated);
- the memory-saving defaults of a job: ZeRO-1 (Megatron's distributed optimizer), selective
  recomputation and sequence parallelism, i.e. what current Megatron-Core runs use.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from controlplane.domain.errors import InvalidInputError
from controlplane.perfmodel.flops import parameter_counts
from controlplane.perfmodel.shapes import RECOMPUTE_MODES, Layout, ModelShape, MoEShape

LAYOUT_FIELD = "--layout"
LAYOUT_HINT = ("write comma-separated key=value pairs, e.g. tp=8,pp=4,dp=4 "
               "(keys: tp, pp, dp, ep, cp, vp, mbs, zero, recompute)")
_LAYOUT_KEYS = {"tp": "tp", "tensor": "tp", "pp": "pp", "pipeline": "pp", "dp": "dp", "data": "dp", "ep": "ep",
                "expert": "ep", "cp": "cp", "context": "cp", "vp": "virtual_stages", "virtual": "virtual_stages",
                "mbs": "micro_batch_size", "zero": "zero_stage", "recompute": "activation_recompute"}


def model_shape_from_spec(model: Any, *, sequence_length: int | None = None) -> ModelShape:
    """A ``ModelShape`` from a ``jobspecs`` ``ModelSpec`` or ``ServingModelSpec``."""
    missing = [name for name, value in (("layers", model.layers), ("hiddenSize", model.hidden_size),
                                        ("attentionHeads", model.attention_heads)) if value is None]
    if missing:
        raise InvalidInputError(
            f"the performance model needs {', '.join(missing)}", field="spec.model",
            hint="add " + ", ".join(f"spec.model.{name}" for name in missing) + " (the model's config.json has them)")
    seq = sequence_length or model.sequence_length or 4096
    moe = None
    if model.moe is not None:
        spec = model.moe
        moe = MoEShape(experts=spec.experts, top_k=spec.top_k,
                       expert_hidden_size=spec.expert_hidden_size or model.ffn_hidden_size or 4 * model.hidden_size,
                       shared_experts=spec.shared_experts, moe_layers=spec.moe_layers)
    shape = ModelShape(layers=model.layers, hidden_size=model.hidden_size, attention_heads=model.attention_heads,
                       sequence_length=seq, vocab_size=model.vocab_size, ffn_hidden_size=model.ffn_hidden_size,
                       kv_heads=model.kv_heads, precision=model.precision, moe=moe, name=model.name or "model",
                       parameters=float(model.parameters), active_parameters=float(model.active_parameters))
    plain = replace(shape, gated_mlp=False)
    declared = float(model.parameters)
    if abs(parameter_counts(plain).total - declared) < abs(parameter_counts(shape).total - declared):
        return plain
    return shape


def layout_from_spec(job: Any) -> Layout:
    """The ``Layout`` of a ``TrainingJob`` (or its ``spec``) with the default memory savings."""
    spec = getattr(job, "spec", job)
    par = spec.parallelism
    return Layout(tp=par.tensor, pp=par.pipeline, dp=par.data, ep=par.expert, cp=par.context,
                  micro_batch_size=spec.model.micro_batch_size, micro_batches=spec.micro_batches)


def parse_layout(text: str, *, base: Layout, global_batch_size: int) -> Layout:
    """``base`` with the ``key=value`` pairs of ``text`` applied; micro-batches follow from the
    global batch unless the data-parallel size makes that impossible (an error then)."""
    values: dict[str, Any] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key, sep, raw = item.partition("=")
        key, raw = key.strip().lower(), raw.strip()
        if not sep or key not in _LAYOUT_KEYS:
            raise InvalidInputError(f"{item!r} is not a known key=value pair", field=LAYOUT_FIELD, hint=LAYOUT_HINT)
        name = _LAYOUT_KEYS[key]
        if name == "activation_recompute":
            if raw not in RECOMPUTE_MODES:
                raise InvalidInputError(f"{item!r}: recompute must be one of {', '.join(RECOMPUTE_MODES)}",
                                        field=LAYOUT_FIELD, hint=LAYOUT_HINT)
            values[name] = raw
            continue
        if not raw.isdigit() or (int(raw) < 1 and name != "zero_stage"):
            raise InvalidInputError(f"{item!r}: {raw!r} is not a positive integer", field=LAYOUT_FIELD,
                                    hint=LAYOUT_HINT)
        values[name] = int(raw)
    if not values:
        raise InvalidInputError("the layout is empty", field=LAYOUT_FIELD, hint=LAYOUT_HINT)
    dp = values.get("dp", base.dp)
    mbs = values.get("micro_batch_size", base.micro_batch_size)
    if global_batch_size % (dp * mbs):
        raise InvalidInputError(
            f"the global batch of {global_batch_size} sequences does not split into dp={dp} × micro-batch {mbs}",
            field=LAYOUT_FIELD, hint=f"choose dp × mbs dividing {global_batch_size}")
    values["micro_batches"] = global_batch_size // (dp * mbs)
    try:
        return replace(base, **values)
    except InvalidInputError as exc:
        raise InvalidInputError(exc.message, field=LAYOUT_FIELD, hint=exc.hint or LAYOUT_HINT) from exc
