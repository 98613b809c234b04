"""The shipped examples load cleanly and say what their README says."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from jobspecs import (
    AcceleratorPool,
    InferenceService,
    Queue,
    TrainingJob,
    json_schema,
    load_file,
)
from jobspecs.examples import EXAMPLES_DIR as EXAMPLES
from jobspecs.examples import example_path
from jobspecs.yamlio import read_documents

FILES = sorted(EXAMPLES.glob("*.yaml"))


def test_the_expected_example_files_exist() -> None:
    assert {path.name for path in FILES} == {
        "llama-70b-pretrain.yaml",
        "deepseek-v3-moe-train.yaml",
        "moe-inference.yaml",
        "tiny-cpu.yaml",
        "tiny-resilient.yaml",
        "pools.yaml",
        "queues.yaml",
    }
    assert (EXAMPLES / "README.md").is_file()
    assert example_path("tiny-cpu.yaml") == EXAMPLES / "tiny-cpu.yaml"
    with pytest.raises(FileNotFoundError, match="available: deepseek"):
        example_path("nope.yaml")


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_example_loads_cleanly(path: Path) -> None:
    assert load_file(path)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_example_document_satisfies_the_published_json_schema(path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    for document in read_documents(path.read_text(), str(path)):
        data: Any = json.loads(json.dumps(document.data, default=_iso))
        validator = jsonschema.Draft202012Validator(json_schema(data["kind"]))
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]
        assert not errors


def _iso(value: object) -> str:
    assert isinstance(value, datetime)
    return value.isoformat()


def test_llama_70b_example_is_tp8_pp4_dp4_on_128_devices() -> None:
    (job,) = load_file(EXAMPLES / "llama-70b-pretrain.yaml")
    assert isinstance(job, TrainingJob)
    spec = job.spec
    assert (spec.parallelism.tensor, spec.parallelism.pipeline, spec.parallelism.data) == (8, 4, 4)
    assert spec.device_count == 128
    assert spec.resources.accelerators.types == ("H100", "H200", "MI300X")
    assert spec.resources.accelerators.min_memory_gib == 80
    model = spec.model
    assert (model.layers, model.hidden_size, model.ffn_hidden_size) == (80, 8192, 28672)
    assert (model.attention_heads, model.kv_heads, model.vocab_size, model.sequence_length) == (
        64,
        8,
        128256,
        8192,
    )
    assert spec.spot.allowed and spec.spot.fallback_to_on_demand
    assert spec.checkpoint.tiers == ("memory://", "peer://", "s3://suanli-ckpt/llama70b")
    assert spec.checkpoint.interval == "auto"


def test_deepseek_example_is_a_671b_moe_on_2048_devices_with_ep64() -> None:
    (job,) = load_file(EXAMPLES / "deepseek-v3-moe-train.yaml")
    assert isinstance(job, TrainingJob)
    spec = job.spec
    moe = spec.model.moe
    assert moe is not None
    assert (spec.model.parameters, moe.active_parameters) == (671e9, 37e9)
    assert (moe.experts, moe.top_k, moe.groups, moe.shared_experts, moe.expert_hidden_size) == (
        256,
        8,
        8,
        1,
        2048,
    )
    assert (spec.model.layers, moe.moe_layers, spec.model.hidden_size) == (61, 58, 7168)
    assert (spec.parallelism.pipeline, spec.parallelism.data, spec.parallelism.expert) == (16, 128, 64)
    assert spec.device_count == 2048
    assert spec.resources.accelerators.types == ("H100", "H200")


def test_moe_inference_example_is_tp8_ep8_per_replica() -> None:
    (svc,) = load_file(EXAMPLES / "moe-inference.yaml")
    assert isinstance(svc, InferenceService)
    assert (svc.spec.parallelism.tensor, svc.spec.parallelism.expert) == (8, 8)
    assert svc.spec.devices_per_replica == 8
    assert (svc.spec.replicas.min, svc.spec.replicas.max) == (1, 4)
    assert svc.spec.resources.accelerators.types == ("H200", "MI300X")
    assert svc.spec.slo is not None and svc.spec.slo.p99_latency_ms is not None
    assert svc.spec.spot.on_demand_base == 1


def test_tiny_example_is_the_four_rank_data_parallel_demo_job() -> None:
    (job,) = load_file(EXAMPLES / "tiny-cpu.yaml")
    assert isinstance(job, TrainingJob)
    spec = job.spec
    assert spec.device_count == 4 and spec.parallelism.data == 4
    assert spec.resources.accelerators.types == "any"
    assert spec.entrypoint.function == "controlplane.examples.tiny_train:main"
    assert spec.total_steps == 300
    assert spec.checkpoint.tiers == ("memory://", "file:///tmp/suanli-ckpt/tiny")
    assert 0.5e6 <= spec.model.parameters <= 2e6
    assert (spec.model.layers, spec.model.hidden_size, spec.model.sequence_length) == (2, 64, 32)
    assert spec.model.global_batch_size == 8


def test_pools_example_covers_three_clouds_on_prem_and_tpu() -> None:
    pools = load_file(EXAMPLES / "pools.yaml")
    assert all(isinstance(p, AcceleratorPool) for p in pools)
    summary = {
        (p.spec.provider, p.spec.accelerator, p.spec.capacity_type, p.spec.instance_type)
        for p in pools
        if isinstance(p, AcceleratorPool)
    }
    assert ("aws", "H100", "spot", "p5.48xlarge") in summary
    assert ("gcp", "A100-80GB", "on-demand", "a2-ultragpu-8g") in summary
    assert any(provider == "azure" and acc == "MI300X" for provider, acc, _, _ in summary)
    assert any(acc == "TPU-v6e" for _, acc, _, _ in summary)
    (on_prem,) = [p for p in pools if isinstance(p, AcceleratorPool) and p.spec.provider == "on-prem"]
    assert on_prem.spec.price is not None and on_prem.spec.price.per_device_hour == 1.10


def test_queues_example_has_quotas_dollars_and_borrowing() -> None:
    queues = load_file(EXAMPLES / "queues.yaml")
    assert 2 <= len(queues) <= 3
    assert all(isinstance(q, Queue) for q in queues)
    assert any(isinstance(q, Queue) and q.spec.quotas.devices for q in queues)
    assert any(isinstance(q, Queue) and q.spec.quotas.dollars_per_day for q in queues)
    assert any(isinstance(q, Queue) and q.spec.borrowing.enabled for q in queues)
