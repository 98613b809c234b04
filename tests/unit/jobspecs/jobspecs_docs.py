"""Valid spec documents to start tests from, and helpers to break them one field at a time."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from jobspecs import SpecError, SpecIssue, parse_document

API_VERSION = "suanli.dev/v1alpha1"
DELETE = object()
"""Marker: ``merged(doc, {"spec": {"key": DELETE}})`` removes ``spec.key``."""


def merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``base`` with ``changes`` merged in (mappings recursively)."""
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if value is DELETE:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def training(**spec: Any) -> dict[str, Any]:
    """A valid 128-device TrainingJob (TP8 PP4 DP4, 70B dense), with ``spec`` changes merged in."""
    base = {
        "apiVersion": API_VERSION,
        "kind": "TrainingJob",
        "metadata": {"name": "llama", "team": "research"},
        "spec": {
            "entrypoint": {"command": ["python", "train.py"]},
            "model": {
                "parameters": "70B",
                "layers": 80,
                "hiddenSize": 8192,
                "attentionHeads": 64,
                "kvHeads": 8,
                "sequenceLength": 8192,
                "globalBatchSize": 512,
            },
            "resources": {"accelerators": {"count": 128, "types": ["H100"]}},
            "parallelism": {"tensor": 8, "pipeline": 4, "data": 4},
            "totalSteps": 1000,
        },
    }
    return merged(base, {"spec": spec})


MOE = {"experts": 64, "topK": 8, "groups": 8, "activeParameters": "20B", "moeLayers": 40}


def service(**spec: Any) -> dict[str, Any]:
    """A valid InferenceService (MoE, TP8 EP8, 1..4 replicas), with ``spec`` changes merged in."""
    base = {
        "apiVersion": API_VERSION,
        "kind": "InferenceService",
        "metadata": {"name": "chat", "team": "serving"},
        "spec": {
            "model": {"parameters": "400B", "layers": 48, "attentionHeads": 64, "kvHeads": 8, "moe": MOE},
            "replicas": {"min": 1, "max": 4},
            "parallelism": {"tensor": 8, "expert": 8},
            "resources": {"accelerators": {"types": ["H200"]}},
            "autoscaling": {"metric": "concurrency", "target": 16},
            "slo": {"p99LatencyMs": 800},
        },
    }
    return merged(base, {"spec": spec})


def pool(**spec: Any) -> dict[str, Any]:
    base = {
        "apiVersion": API_VERSION,
        "kind": "AcceleratorPool",
        "metadata": {"name": "aws-h100"},
        "spec": {
            "provider": "aws",
            "region": "us-east-1",
            "accelerator": "H100",
            "devicesPerNode": 8,
            "nodes": {"min": 0, "max": 4},
            "capacityType": "spot",
        },
    }
    return merged(base, {"spec": spec})


def queue(**spec: Any) -> dict[str, Any]:
    base = {
        "apiVersion": API_VERSION,
        "kind": "Queue",
        "metadata": {"name": "research", "team": "ml"},
        "spec": {"quotas": {"devices": {"H100": 64}}},
    }
    return merged(base, {"spec": spec})


def issues_of(document: Any) -> list[SpecIssue]:
    """The issues ``parse_document`` reports; fails the test if the document is accepted."""
    with pytest.raises(SpecError) as raised:
        parse_document(document, source="t.yaml")
    return raised.value.issues


def issue_at(document: Any, path: str) -> SpecIssue:
    """The single issue reported at ``path``."""
    found = [issue for issue in issues_of(document) if issue.path == path]
    assert len(found) == 1, f"expected one issue at {path}, got {issues_of(document)}"
    return found[0]
