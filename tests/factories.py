"""Builders of valid spec documents for tests: start from a valid one, change what the test is about."""

from __future__ import annotations

import copy
from typing import Any

API_VERSION = "suanli.dev/v1alpha1"


def training_job(name: str = "tiny", team: str = "ml", **spec_overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "entrypoint": {"function": "controlplane.examples.tiny_train:main"},
        "model": {"parameters": "1M", "layers": 2, "hiddenSize": 64, "attentionHeads": 4,
                  "sequenceLength": 32, "globalBatchSize": 8},
        "resources": {"accelerators": {"count": 2, "types": "any"}},
        "parallelism": {"data": 2},
        "totalSteps": 50,
    }
    spec.update(copy.deepcopy(spec_overrides))
    return {"apiVersion": API_VERSION, "kind": "TrainingJob", "metadata": {"name": name, "team": team},
            "spec": spec}


def inference_service(name: str = "chat", team: str = "ml") -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION, "kind": "InferenceService", "metadata": {"name": name, "team": team},
        "spec": {
            "model": {"name": "tiny-moe", "parameters": "1B", "layers": 4, "hiddenSize": 512,
                      "attentionHeads": 8, "sequenceLength": 2048, "globalBatchSize": 1,
                      "moe": {"experts": 8, "topK": 2}},
            "replicas": {"min": 1, "max": 2},
            "parallelism": {"tensor": 2, "expert": 2},
            "resources": {"accelerators": {"types": ["H100"]}},
            "autoscaling": {"metric": "concurrency", "target": 8},
            "slo": {"p99LatencyMs": 500},
        },
    }


def pool(name: str = "aws-h100-spot", **spec_overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"provider": "aws", "region": "us-east-1", "accelerator": "H100",
                            "devicesPerNode": 8, "nodes": {"min": 0, "max": 4}, "capacityType": "spot",
                            "instanceType": "p5.48xlarge"}
    spec.update(copy.deepcopy(spec_overrides))
    return {"apiVersion": API_VERSION, "kind": "AcceleratorPool", "metadata": {"name": name}, "spec": spec}


def on_prem_pool(name: str = "onprem-910b", price: float | None = 1.1) -> dict[str, Any]:
    spec: dict[str, Any] = {"provider": "on-prem", "region": "shenzhen", "accelerator": "Ascend-910B",
                            "devicesPerNode": 8, "nodes": 2, "capacityType": "reserved"}
    if price is not None:
        spec["price"] = {"perDeviceHour": price}
    return {"apiVersion": API_VERSION, "kind": "AcceleratorPool", "metadata": {"name": name}, "spec": spec}


def queue(name: str = "research", team: str = "ml") -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": "Queue", "metadata": {"name": name, "team": team},
            "spec": {"quotas": {"devices": {"H100": 64}}, "weight": 2.0}}
