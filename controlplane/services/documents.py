"""Turning request bodies into validated jobspecs resources, and resources into stored documents.

The server trusts no client: every body is parsed with the public contract (``jobspecs``) and
checked against what the endpoint accepts (its kind, and the name/team in the URL).
"""

from __future__ import annotations

from typing import Any

import jobspecs
from controlplane.domain.errors import InvalidInputError

REQUEST_SOURCE = "<request>"


def parse_resource(document: dict[str, Any], *, expected_kind: str) -> Any:
    """Validate ``document`` as a resource of ``expected_kind``; raise SpecError/InvalidInputError."""
    kind = document.get("kind")
    if kind is not None and kind != expected_kind and kind in jobspecs.KINDS:
        raise InvalidInputError(
            f"this endpoint takes {expected_kind}, not {kind}",
            field="kind", hint=f"send {kind} documents to {ENDPOINT_OF.get(str(kind), 'its own endpoint')}",
        )
    return jobspecs.parse_document(document, source=REQUEST_SOURCE)


def check_identity(resource: Any, *, name: str, team: str | None = None) -> None:
    """The name (and team) in the URL must match the document's metadata."""
    if resource.metadata.name != name:
        raise InvalidInputError(
            f"the URL names {name!r} but the document's metadata.name is {resource.metadata.name!r}",
            field="metadata.name", hint="make them equal",
        )
    if team is not None and resource.metadata.team != team:
        raise InvalidInputError(
            f"the URL names team {team!r} but the document's metadata.team is {resource.metadata.team!r}",
            field="metadata.team", hint="make them equal",
        )


def stored_spec(resource: Any) -> dict[str, Any]:
    """The canonical spec to store: camelCase keys, no nulls."""
    data: dict[str, Any] = resource.model_dump(mode="json", by_alias=True, exclude_none=True)
    spec: dict[str, Any] = data["spec"]
    return spec


ENDPOINT_OF = {
    "TrainingJob": "POST /v1/jobs",
    "InferenceService": "POST /v1/inference-services",
    "AcceleratorPool": "PUT /v1/pools/{name}",
    "Queue": "PUT /v1/queues/{team}/{name}",
}
