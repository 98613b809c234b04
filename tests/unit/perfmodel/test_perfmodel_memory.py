"""Memory per device: hand-checked parameter, optimizer and activation bytes, and the fit rule."""

from __future__ import annotations

from dataclasses import replace

import pytest

from controlplane.perfmodel import ExecutionOptions, Layout, estimate_memory, parameter_counts
from controlplane.perfmodel.memory import activation_bytes_per_layer
from tests.unit.perfmodel.perfmodel_factories import gpt, llama2_7b, toy_device

GiB = 2**30
UNFUSED = ExecutionOptions(flash_attention=False)


def test_llama2_7b_has_the_published_parameter_count() -> None:
    assert parameter_counts(llama2_7b()).total == pytest.approx(6.74e9, rel=0.01)


def test_a_7b_model_does_not_fit_80_gb_with_plain_data_parallelism(h100, calibration) -> None:
    model = llama2_7b()
    params = parameter_counts(model).total
    memory = estimate_memory(model, Layout(dp=8, micro_batches=4, zero_stage=0), h100, calibration=calibration)
    # bf16 weights (2 B) + fp32 gradients (4 B) + Adam fp32 master and moments (12 B), unsharded
    assert memory.weights == pytest.approx(2 * params)
    assert memory.gradients == pytest.approx(4 * params)
    assert memory.optimizer == pytest.approx(12 * params)
    assert not memory.fits
    assert memory.reason is not None and "needs" in memory.reason and "GiB" in memory.reason


def test_zero1_over_8_ranks_shards_only_the_optimizer_and_makes_7b_fit(h100, calibration) -> None:
    model = llama2_7b()
    params = parameter_counts(model).total
    memory = estimate_memory(model, Layout(dp=8, micro_batches=4, zero_stage=1), h100, calibration=calibration)
    assert memory.weights == pytest.approx(2 * params)
    assert memory.gradients == pytest.approx(4 * params)
    assert memory.optimizer == pytest.approx(12 * params / 8)
    assert memory.fits and memory.reason is None
    assert memory.headroom > 0


@pytest.mark.parametrize(("stage", "sharded"), [(2, {"optimizer", "gradients"}),
                                                 (3, {"optimizer", "gradients", "weights"})])
def test_higher_zero_stages_shard_gradients_then_weights(h100, stage, sharded) -> None:
    model = llama2_7b()
    base = estimate_memory(model, Layout(dp=8, micro_batches=4, zero_stage=1), h100)
    more = estimate_memory(model, Layout(dp=8, micro_batches=4, zero_stage=stage), h100)
    for part in ("weights", "gradients", "optimizer"):
        if part in sharded and part != "optimizer":
            assert getattr(more, part) < getattr(base, part) / 2
        elif part == "optimizer":
            assert more.optimizer == pytest.approx(base.optimizer)
        else:
            assert getattr(more, part) == pytest.approx(getattr(base, part))


def test_activations_follow_korthikanti_without_parallelism() -> None:
    s, b, h, a = 2048, 1, 2048, 16
    model = gpt(hidden=h, heads=a, seq=s)
    layout = Layout(micro_batch_size=b, activation_recompute="none")
    expected = s * b * h * (34 + 5 * a * s / h)
    assert activation_bytes_per_layer(model, layout, UNFUSED, moe_layer=False) == pytest.approx(expected)


@pytest.mark.parametrize("t", [2, 4, 8])
def test_tensor_parallel_activations_replicate_10sbh_without_sequence_parallelism(t: int) -> None:
    s, b, h, a = 2048, 1, 2048, 16
    model = gpt(hidden=h, heads=a, seq=s)
    plain = Layout(tp=t, activation_recompute="none", sequence_parallel=False)
    with_sp = replace(plain, sequence_parallel=True)
    assert activation_bytes_per_layer(model, plain, UNFUSED, moe_layer=False) == pytest.approx(
        s * b * h * (10 + 24 / t + 5 * a * s / (h * t)))
    assert activation_bytes_per_layer(model, with_sp, UNFUSED, moe_layer=False) == pytest.approx(
        s * b * h * (34 / t + 5 * a * s / (h * t)))


def test_selective_recompute_drops_the_attention_scores_and_full_keeps_the_layer_input() -> None:
    s, b, h, a, t = 2048, 1, 2048, 16, 8
    model = gpt(hidden=h, heads=a, seq=s)
    selective = Layout(tp=t, activation_recompute="selective")
    full = Layout(tp=t, activation_recompute="full")
    assert activation_bytes_per_layer(model, selective, UNFUSED, moe_layer=False) == pytest.approx(s * b * h * 34 / t)
    assert activation_bytes_per_layer(model, full, UNFUSED, moe_layer=False) == pytest.approx(2 * s * b * h / t)


def test_pipeline_first_stage_holds_activations_of_pp_micro_batches(h100) -> None:
    model = gpt(layers=24)
    few = estimate_memory(model, Layout(pp=4, micro_batches=2), h100)
    many = estimate_memory(model, Layout(pp=4, micro_batches=16), h100)
    more = estimate_memory(model, Layout(pp=4, micro_batches=64), h100)
    assert few.activations < many.activations
    assert many.activations == pytest.approx(more.activations)  # capped at pp in flight (1F1B)


def test_expert_weights_are_sharded_by_expert_parallelism(h100) -> None:
    from controlplane.perfmodel import MoEShape
    model = llama2_7b(moe=MoEShape(experts=8, top_k=2, expert_hidden_size=11008))
    one = estimate_memory(model, Layout(dp=8, micro_batches=8), h100)
    eight = estimate_memory(model, Layout(dp=8, ep=8, micro_batches=8), h100)
    counts = parameter_counts(model)
    assert one.weights - eight.weights == pytest.approx(2 * counts.expert_total * (1 - 1 / 8), rel=1e-6)


def test_exactly_at_capacity_fits_and_one_byte_over_does_not(exact_calibration) -> None:
    model, layout = llama2_7b(), Layout(dp=8, micro_batches=4)
    needed = estimate_memory(model, layout, toy_device(), calibration=exact_calibration).total
    at_capacity = estimate_memory(model, layout, toy_device(hbm_gib=needed / GiB), calibration=exact_calibration)
    short = estimate_memory(model, layout, toy_device(hbm_gib=(needed - 1) / GiB), calibration=exact_calibration)
    assert at_capacity.capacity == needed and at_capacity.fits and at_capacity.headroom == 0
    assert not short.fits and short.headroom < 0
    assert short.reason is not None and "usable" in short.reason


def test_usable_memory_subtracts_the_reserve_and_fragmentation(h100, calibration) -> None:
    memory = estimate_memory(llama2_7b(), Layout(dp=8, micro_batches=4), h100, calibration=calibration)
    expected = 80 * GiB * (1 - calibration.memory_fragmentation) - calibration.memory_reserve_bytes
    assert memory.capacity == pytest.approx(expected)
