"""From jobspecs and CLI text to model shapes and layouts."""

from __future__ import annotations

from pathlib import Path

import pytest

from controlplane.domain.errors import InvalidInputError
from controlplane.perfmodel import Layout, parameter_counts
from controlplane.perfmodel.adapters import layout_from_spec, model_shape_from_spec, parse_layout
from jobspecs import load_file

EXAMPLES = Path(__file__).resolve().parents[3] / "jobspecs" / "examples"


def _first(name: str):
    return load_file(EXAMPLES / name)[0]


def test_the_70b_example_becomes_a_gated_70b_shape_and_its_layout() -> None:
    job = _first("llama-70b-pretrain.yaml")
    model = model_shape_from_spec(job.spec.model)
    assert model.gated_mlp and model.kv == 8 and model.sequence_length == 8192
    assert parameter_counts(model).total == pytest.approx(70e9, rel=0.02)
    layout = layout_from_spec(job)
    assert (layout.tp, layout.pp, layout.dp, layout.devices) == (8, 4, 4, 128)
    assert layout.micro_batches == 512 // 4 and layout.global_batch_size == 512


def test_moe_examples_keep_their_experts_and_parameter_count() -> None:
    model = model_shape_from_spec(_first("deepseek-v3-moe-train.yaml").spec.model)
    assert model.moe is not None and model.moe.experts == 256 and model.moe_layer_count == 58
    assert parameter_counts(model).total == pytest.approx(671e9, rel=0.02)
    assert parameter_counts(model).active == pytest.approx(37e9, rel=0.1)


def test_a_plain_gelu_mlp_is_chosen_when_it_matches_the_declared_size() -> None:
    from jobspecs import ModelSpec
    spec = ModelSpec(parameters="1.3B", layers=24, hidden_size=2048, attention_heads=16, sequence_length=2048,
                     global_batch_size=8, vocab_size=50257)
    assert not model_shape_from_spec(spec).gated_mlp


def test_parse_layout_applies_pairs_and_derives_micro_batches() -> None:
    base = Layout(tp=8, pp=4, dp=4, micro_batches=128)
    layout = parse_layout("tp=4, pp=8, dp=4, vp=2, recompute=full, zero=2", base=base, global_batch_size=512)
    assert (layout.tp, layout.pp, layout.dp, layout.virtual_stages) == (4, 8, 4, 2)
    assert layout.activation_recompute == "full" and layout.zero_stage == 2
    assert layout.micro_batches == 128


@pytest.mark.parametrize(("text", "words"), [
    ("tp=x", "not a positive integer"),
    ("tp=0", "not a positive integer"),
    ("tpx8", "not a known key=value"),
    ("speed=11", "not a known key=value"),
    ("recompute=half", "recompute must be one of"),
    ("dp=3", "does not split"),
    ("", "empty"),
])
def test_malformed_layouts_name_the_option_and_the_fix(text: str, words: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        parse_layout(text, base=Layout(), global_batch_size=512)
    assert raised.value.field == "--layout"
    assert words in raised.value.message
