"""JSON Schema and Kubernetes CRD schema export of the kinds.

Owns ``json_schema`` (pydantic's JSON Schema, draft 2020-12, in alias form, describing what
a YAML document may contain), ``crd_openapi_schema`` (the same turned into a Kubernetes
*structural* ``openAPIV3Schema``) and ``crd_manifest`` (a whole ``CustomResourceDefinition``
for the operator).

Structural conversion rules: ``$ref`` is inlined; ``anyOf [X, null]`` becomes ``X`` with
``nullable: true``; a number-or-string choice becomes ``x-kubernetes-int-or-string``; any
other choice, and values of unconstrained type, become ``x-kubernetes-preserve-unknown-fields``
(the control plane validates them on submission); ``const`` becomes a one-value ``enum``;
numeric ``exclusiveMinimum`` becomes OpenAPI 3.0's boolean form; keywords Kubernetes rejects
(``title``, ``$defs``, ``uniqueItems``, ``additionalProperties: false`` ...) are dropped.
``metadata`` is left to Kubernetes (``team`` is the namespace there).
"""

from __future__ import annotations

import copy
from typing import Any, Final

from pydantic.json_schema import GenerateJsonSchema

from jobspecs.envelope import API_GROUP, API_VERSION_NAME
from jobspecs.kinds import model_for

_DROPPED: Final = frozenset(
    {"title", "$schema", "$defs", "$id", "discriminator", "uniqueItems", "propertyNames", "examples", "const"}
)
_CLUSTER_SCOPED: Final = frozenset({"AcceleratorPool"})


class _Generator(GenerateJsonSchema):
    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def json_schema(kind: str) -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a kind's documents, keys in alias (YAML) form."""
    model = model_for(kind)
    schema = model.model_json_schema(by_alias=True, mode="validation", schema_generator=_Generator)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        rest = {key: value for key, value in schema.items() if key != "$ref"}
        schema = {**defs[name], **rest}
    return schema


def _structural(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    schema = _resolve(schema, defs)
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches is not None:
        return _choice(schema, branches, defs)
    if not schema or set(schema) <= {"description", "default"}:
        out: dict[str, Any] = {"x-kubernetes-preserve-unknown-fields": True}
        if "description" in schema:
            out["description"] = schema["description"]
        return out
    out = {}
    for key, value in schema.items():
        if key in _DROPPED:
            continue
        if key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            out["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            out[key] = True
        elif key == "properties":
            out[key] = {name: _structural(sub, defs) for name, sub in value.items()}
        elif key == "items" and isinstance(value, dict):
            out[key] = _structural(value, defs)
        elif key == "additionalProperties":
            if isinstance(value, dict):
                out[key] = _structural(value, defs)
            elif value is True:
                out["x-kubernetes-preserve-unknown-fields"] = True
        elif key == "default":
            if isinstance(value, str | int | float | bool):
                out[key] = value
        else:
            out[key] = copy.deepcopy(value)
    if "const" in schema:
        out["enum"] = [schema["const"]]
        out.setdefault("type", "string" if isinstance(schema["const"], str) else "number")
    if "properties" in out:
        out.pop("additionalProperties", None)
        out.setdefault("type", "object")
    return out


def _choice(schema: dict[str, Any], branches: list[dict[str, Any]], defs: dict[str, Any]) -> dict[str, Any]:
    options = [branch for branch in branches if branch.get("type") != "null"]
    nullable = len(options) < len(branches)
    rest = {key: value for key, value in schema.items() if key not in ("anyOf", "oneOf")}
    if rest.get("default") is None:
        rest.pop("default", None)
    if len(options) == 1:
        out = _structural({**_resolve(options[0], defs), **rest}, defs)
    else:
        kinds = {_resolve(option, defs).get("type") for option in options}
        out = (
            {"x-kubernetes-int-or-string": True}
            if "string" in kinds and kinds <= {"string", "integer", "number"} and len(kinds) > 1
            else {"x-kubernetes-preserve-unknown-fields": True}
        )
        if "description" in rest:
            out["description"] = rest["description"]
    if nullable:
        out["nullable"] = True
    return out


def crd_openapi_schema(kind: str) -> dict[str, Any]:
    """Kubernetes structural openAPIV3Schema of a kind (no $ref, no anyOf)."""
    raw = json_schema(kind)
    defs = raw.get("$defs", {})
    spec = _structural(raw["properties"]["spec"], defs)
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": {
                "type": "object",
                "description": "Written by Suanli.",
                "x-kubernetes-preserve-unknown-fields": True,
            },
        },
    }
    if "description" in raw:
        schema["description"] = raw["description"]
    if "spec" in raw.get("required", []):
        schema["required"] = ["spec"]
    return schema


def crd_manifest(kind: str) -> dict[str, Any]:
    """A CustomResourceDefinition (apiextensions.k8s.io/v1) for a kind."""
    model_for(kind)
    plural = f"{kind.lower()}s"
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{API_GROUP}"},
        "spec": {
            "group": API_GROUP,
            "scope": "Cluster" if kind in _CLUSTER_SCOPED else "Namespaced",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "categories": ["suanli"],
            },
            "versions": [
                {
                    "name": API_VERSION_NAME,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": crd_openapi_schema(kind)},
                    "subresources": {"status": {}},
                }
            ],
        },
    }
