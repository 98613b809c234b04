"""JSON Schema and Kubernetes CRD schema export."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jobspecs import KINDS, crd_manifest, crd_openapi_schema, json_schema

_STRUCTURAL_FORBIDDEN = {
    "$ref",
    "$defs",
    "anyOf",
    "oneOf",
    "allOf",
    "const",
    "title",
    "uniqueItems",
    "prefixItems",
}


def walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every schema node with its path (through properties, items and additionalProperties)."""
    found = [(path, node)]
    for name, child in node.get("properties", {}).items():
        found.extend(walk(child, f"{path}.{name}"))
    if isinstance(node.get("items"), dict):
        found.extend(walk(node["items"], f"{path}[]"))
    if isinstance(node.get("additionalProperties"), dict):
        found.extend(walk(node["additionalProperties"], f"{path}{{}}"))
    return found


@pytest.mark.parametrize("kind", list(KINDS))
def test_json_schema_of_every_kind_is_a_valid_draft_2020_12_schema_in_alias_form(kind: str) -> None:
    schema = json_schema(kind)
    assert schema["$schema"].endswith("2020-12/schema")
    assert set(schema["properties"]) == {"apiVersion", "kind", "metadata", "spec", "status"}
    assert schema["additionalProperties"] is False
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(schema)
    text = json.dumps(schema)
    assert "_" not in "".join(name for name in schema["properties"]["spec"].get("properties", {}))
    assert '"ge"' not in text and '"gt"' not in text


def test_json_schema_rejects_what_the_models_reject() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(json_schema("Queue"))
    good = {
        "apiVersion": "suanli.dev/v1alpha1",
        "kind": "Queue",
        "metadata": {"name": "q", "namespace": "ml"},
    }
    assert not list(validator.iter_errors(good))
    assert list(validator.iter_errors({**good, "spec": {"weight": 0}}))
    assert list(validator.iter_errors({**good, "spec": {"colour": "blue"}}))
    assert list(validator.iter_errors({**good, "apiVersion": "v1"}))


def test_json_schema_uses_yaml_names_and_documents_fields() -> None:
    schema = json_schema("TrainingJob")
    accelerators = schema["$defs"]["AcceleratorRequest"]["properties"]
    assert "minMemoryGiB" in accelerators
    assert accelerators["count"]["minimum"] == 1
    assert accelerators["count"]["description"]


def test_unknown_kind_is_refused_with_the_known_kinds() -> None:
    with pytest.raises(ValueError, match="known kinds: TrainingJob, InferenceService"):
        json_schema("Pod")


@pytest.mark.parametrize("kind", list(KINDS))
def test_crd_schema_is_structural_with_no_refs_or_unions(kind: str) -> None:
    schema = crd_openapi_schema(kind)
    text = json.dumps(schema)
    assert "$ref" not in text and "anyOf" not in text
    for path, node in walk(schema):
        assert not (_STRUCTURAL_FORBIDDEN & set(node)), path
        special = node.get("x-kubernetes-preserve-unknown-fields") or node.get("x-kubernetes-int-or-string")
        assert "type" in node or special, f"{path} has no type"
        if "properties" in node:
            assert "additionalProperties" not in node, path
        if "exclusiveMinimum" in node:
            assert node["exclusiveMinimum"] is True and "minimum" in node, path
        if "default" in node:
            assert isinstance(node["default"], str | int | float | bool), path


def test_crd_schema_simplifies_nullable_and_mixed_types() -> None:
    spec = crd_openapi_schema("TrainingJob")["properties"]["spec"]["properties"]
    assert spec["model"]["properties"]["kvHeads"] == {
        "minimum": 1,
        "type": "integer",
        "description": spec["model"]["properties"]["kvHeads"]["description"],
        "nullable": True,
    }
    assert spec["model"]["properties"]["parameters"]["x-kubernetes-int-or-string"] is True
    assert spec["checkpoint"]["properties"]["interval"]["x-kubernetes-int-or-string"] is True
    types = spec["resources"]["properties"]["accelerators"]["properties"]["types"]
    assert types["x-kubernetes-preserve-unknown-fields"] is True
    assert spec["model"]["properties"]["precision"]["enum"] == ["bf16", "fp8", "fp16", "fp32"]


def test_crd_status_preserves_unknown_fields() -> None:
    status = crd_openapi_schema("InferenceService")["properties"]["status"]
    assert status["type"] == "object"
    assert status["x-kubernetes-preserve-unknown-fields"] is True


def test_crd_manifest_wraps_the_schema() -> None:
    crd = crd_manifest("TrainingJob")
    assert crd["metadata"]["name"] == "trainingjobs.suanli.dev"
    assert crd["spec"]["scope"] == "Namespaced"
    assert crd_manifest("AcceleratorPool")["spec"]["scope"] == "Cluster"
    (version,) = crd["spec"]["versions"]
    assert version["name"] == "v1alpha1"
    assert version["schema"]["openAPIV3Schema"] == crd_openapi_schema("TrainingJob")
    assert version["subresources"] == {"status": {}}
