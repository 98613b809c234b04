"""Step time: compute, tensor/pipeline/data/expert communication, bubble, and the MFU identity."""

from __future__ import annotations

import pytest

from controlplane.domain.errors import InvalidInputError
from controlplane.perfmodel import (
    ExecutionOptions,
    Layout,
    MoEShape,
    estimate_step,
    estimate_training,
    model_flops_per_token,
    parameter_counts,
)
from controlplane.perfmodel.flops import attention_score_flops
from tests.unit.perfmodel.perfmodel_factories import gpt, llama2_7b, llama3_70b, toy_device


def test_model_flops_are_six_n_plus_the_attention_scores() -> None:
    model = llama3_70b()
    counts = parameter_counts(model)
    matmul_params = counts.total - counts.embedding - model.layers * counts.norms_per_layer
    scores = 3 * 2 * model.sequence_length * model.attention_heads * 2 * 128 * model.layers
    assert model_flops_per_token(model) == pytest.approx(6 * matmul_params + scores)


def test_fused_attention_skips_the_masked_half_but_model_flops_do_not() -> None:
    model, layout = gpt(), Layout()
    full = attention_score_flops(model, layout, executed=False)
    assert attention_score_flops(model, layout, executed=True, fused=True) == pytest.approx(full / 2)
    assert attention_score_flops(model, layout, executed=True, fused=False) == pytest.approx(full)


def test_mfu_tokens_and_breakdown_are_consistent(h100) -> None:
    model, layout = llama3_70b(), Layout(tp=8, pp=4, dp=4, micro_batches=32, virtual_stages=2)
    step = estimate_step(model, layout, h100)
    tokens = layout.global_batch_size * model.sequence_length
    assert step.tokens_per_second * step.step_seconds == pytest.approx(tokens)
    assert step.model_flops_per_step == pytest.approx(model_flops_per_token(model) * tokens)
    assert step.mfu * h100.peak_flops("bf16") * layout.devices * step.step_seconds == pytest.approx(
        step.model_flops_per_step)
    assert sum(step.breakdown().values()) == pytest.approx(step.step_seconds)
    assert 0.2 < step.mfu < 0.7


def test_tensor_parallel_communication_grows_with_the_tensor_parallel_size(h100) -> None:
    model = llama3_70b()
    comm = [estimate_step(model, Layout(tp=tp, pp=8, dp=8 // tp, micro_batches=8), h100).tp_comm
            for tp in (1, 2, 4, 8)]
    assert comm[0] == 0
    assert comm[1] < comm[2] < comm[3]


def test_tensor_parallelism_across_nodes_is_much_slower_than_within_a_node() -> None:
    model, layout = llama3_70b(), Layout(tp=8, pp=8, micro_batches=8)
    inside = estimate_step(model, layout, toy_device(devices_per_node=8)).tp_comm
    across = estimate_step(model, layout, toy_device(devices_per_node=4)).tp_comm
    assert across > 5 * inside


@pytest.mark.parametrize(("pp", "virtual"), [(2, 1), (4, 1), (8, 1), (8, 2), (8, 5)])
def test_pipeline_bubble_is_pp_minus_one_over_v_micro_batch_times(h100, pp: int, virtual: int) -> None:
    step = estimate_step(llama3_70b(), Layout(tp=8, pp=pp, micro_batches=16, virtual_stages=virtual), h100)
    assert step.pp_bubble == pytest.approx((pp - 1) / virtual * step.microbatch_seconds)


def test_no_pipeline_means_no_bubble_and_no_point_to_point(h100) -> None:
    step = estimate_step(llama2_7b(), Layout(dp=8, micro_batches=4), h100)
    assert step.pp_bubble == 0 and step.pp_p2p == 0


def test_more_micro_batches_shrink_the_bubble_share(h100) -> None:
    model = llama3_70b()
    few = estimate_step(model, Layout(tp=8, pp=8, micro_batches=8), h100)
    many = estimate_step(model, Layout(tp=8, pp=8, micro_batches=64), h100)
    assert many.pp_bubble / many.step_seconds < few.pp_bubble / few.step_seconds


def test_dualpipe_has_a_smaller_bubble_than_1f1b(h100) -> None:
    model = llama3_70b()
    one_f_one_b = estimate_step(model, Layout(tp=8, pp=8, micro_batches=16), h100)
    dualpipe = estimate_step(model, Layout(tp=8, pp=8, micro_batches=16, schedule="dualpipe"), h100)
    assert dualpipe.pp_bubble < one_f_one_b.pp_bubble / 4


def _moe_model():
    return llama2_7b(moe=MoEShape(experts=64, top_k=4, expert_hidden_size=2048))


def test_expert_all_to_all_appears_only_with_expert_parallelism(h100) -> None:
    dense = estimate_step(llama2_7b(), Layout(dp=64, micro_batches=2), h100)
    moe_no_ep = estimate_step(_moe_model(), Layout(dp=64, micro_batches=2), h100)
    moe_ep = estimate_step(_moe_model(), Layout(dp=64, ep=16, micro_batches=2), h100)
    assert dense.ep_comm == 0 and moe_no_ep.ep_comm == 0
    assert moe_ep.ep_comm > 0


def test_overlapping_the_all_to_all_hides_some_of_it(h100) -> None:
    layout = Layout(dp=64, ep=16, micro_batches=2)
    exposed = estimate_step(_moe_model(), layout, h100)
    hidden = estimate_step(_moe_model(), layout, h100, options=ExecutionOptions(overlap_ep_comm=True))
    assert hidden.ep_comm < exposed.ep_comm


def test_node_limited_routing_cuts_cross_node_all_to_all(h100) -> None:
    free = llama2_7b(moe=MoEShape(experts=64, top_k=8, expert_hidden_size=2048))
    limited = llama2_7b(moe=MoEShape(experts=64, top_k=8, expert_hidden_size=2048, routing_node_limit=2))
    layout = Layout(dp=64, ep=64, micro_batches=2)
    assert estimate_step(limited, layout, h100).ep_comm < estimate_step(free, layout, h100).ep_comm


def test_expert_load_imbalance_slows_the_step(h100) -> None:
    balanced = llama2_7b(moe=MoEShape(experts=64, top_k=4, expert_hidden_size=2048))
    skewed = llama2_7b(moe=MoEShape(experts=64, top_k=4, expert_hidden_size=2048, load_imbalance=1.5))
    layout = Layout(dp=64, ep=16, micro_batches=2)
    assert estimate_step(skewed, layout, h100).step_seconds > estimate_step(balanced, layout, h100).step_seconds


def test_data_parallel_reduction_hides_behind_backward_only_when_overlapped(h100) -> None:
    layout = Layout(dp=64, micro_batches=1)
    overlapped = estimate_step(llama2_7b(), layout, h100)
    serial = estimate_step(llama2_7b(), layout, h100, options=ExecutionOptions(
        overlap_grad_reduce=False, overlap_param_gather=False))
    assert serial.dp_comm > overlapped.dp_comm


def test_full_recompute_costs_about_one_more_forward_pass(h100) -> None:
    layout = Layout(tp=8, pp=4, micro_batches=16)
    selective = estimate_step(llama3_70b(), layout, h100)
    full = estimate_step(llama3_70b(), Layout(tp=8, pp=4, micro_batches=16, activation_recompute="full"), h100)
    assert full.recompute == pytest.approx(selective.compute / 3, rel=0.15)
    assert full.mfu < selective.mfu


def test_fp8_is_faster_where_the_device_has_fp8_and_noted_where_it_does_not(h100, a100) -> None:
    layout = Layout(tp=8, pp=4, micro_batches=16)
    bf16, fp8 = llama3_70b(), llama3_70b(precision="fp8")
    assert estimate_step(fp8, layout, h100).step_seconds < estimate_step(bf16, layout, h100).step_seconds
    on_a100 = estimate_step(fp8, layout, a100)
    assert any("no FP8" in note for note in on_a100.notes)


def test_a_faster_device_gives_a_faster_step(h100, a100) -> None:
    layout = Layout(tp=8, pp=4, micro_batches=16)
    faster = estimate_step(llama3_70b(), layout, h100).step_seconds
    assert faster < estimate_step(llama3_70b(), layout, a100).step_seconds


@pytest.mark.parametrize(("layout", "field"), [
    (Layout(tp=3), "layout.tp"),
    (Layout(pp=100), "layout.pp"),
    (Layout(cp=3), "layout.cp"),
    (Layout(dp=4, ep=2), "layout.ep"),
])
def test_layouts_that_cannot_split_the_model_are_refused_with_the_field(h100, layout: Layout, field: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        estimate_step(llama2_7b(), layout, h100)
    assert raised.value.field == field


def test_layout_values_are_validated_on_construction() -> None:
    with pytest.raises(InvalidInputError):
        Layout(tp=0)
    with pytest.raises(InvalidInputError):
        Layout(dp=4, ep=3)
    with pytest.raises(InvalidInputError):
        Layout(zero_stage=4)


def test_training_estimate_combines_memory_and_step(h100) -> None:
    estimate = estimate_training(llama3_70b(), Layout(tp=8, pp=4, dp=4, micro_batches=32), h100)
    assert estimate.fits == estimate.memory.fits
    assert estimate.as_dict()["layout"] == "tp=8,pp=4,dp=4"
