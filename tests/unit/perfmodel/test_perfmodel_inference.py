"""Serving: memory fit with the KV cache, memory-bound decode, compute-bound prefill."""

from __future__ import annotations

import pytest

from controlplane.perfmodel import parameter_counts
from controlplane.perfmodel.inference import estimate_inference, kv_bytes_per_token
from tests.unit.perfmodel.perfmodel_factories import llama3_70b


def test_kv_cache_per_token_counts_keys_and_values_of_every_layer() -> None:
    model = llama3_70b()
    assert kv_bytes_per_token(model, tp=1, pp=1, kv_bytes=2) == 2 * 80 * 8 * 128 * 2
    assert kv_bytes_per_token(model, tp=8, pp=1, kv_bytes=2) == 2 * 80 * 1 * 128 * 2


def test_batch_one_decode_is_bound_by_streaming_the_weights(h100, calibration) -> None:
    model = llama3_70b()
    estimate = estimate_inference(model, h100, tp=4, batch_size=1, prompt_tokens=512, output_tokens=128)
    weight_seconds = parameter_counts(model).total * 2 / 4 / (h100.hbm_bytes_per_s * calibration.hbm_efficiency)
    # streaming the weights dominates; kernel launches and the 160 small all-reduces add the rest
    assert weight_seconds <= estimate.time_per_output_token_s <= 1.5 * weight_seconds


def test_larger_batches_raise_decode_throughput_and_latency(h100) -> None:
    small = estimate_inference(llama3_70b(), h100, tp=4, batch_size=1)
    large = estimate_inference(llama3_70b(), h100, tp=4, batch_size=64)
    assert large.decode_tokens_per_second > 20 * small.decode_tokens_per_second
    assert large.time_per_output_token_s > small.time_per_output_token_s


def test_prefill_is_much_faster_per_token_than_decode(h100) -> None:
    estimate = estimate_inference(llama3_70b(), h100, tp=4, batch_size=1)
    assert estimate.prefill_tokens_per_second > 50 * estimate.decode_tokens_per_second
    assert estimate.p50_latency_s > estimate.time_to_first_token_s


def test_a_70b_model_in_bf16_does_not_fit_one_80_gb_device_but_fits_four(h100) -> None:
    one = estimate_inference(llama3_70b(), h100, tp=1)
    four = estimate_inference(llama3_70b(), h100, tp=4)
    assert not one.fits and one.reason is not None and "weights" in one.reason
    assert four.fits and four.max_batch_size >= 32


def test_fp8_weights_halve_weight_memory(h100) -> None:
    bf16 = estimate_inference(llama3_70b(), h100, tp=4)
    fp8 = estimate_inference(llama3_70b(precision="fp8"), h100, tp=4)
    assert fp8.weights_bytes_per_device == pytest.approx(bf16.weights_bytes_per_device / 2)
