"""The Kubernetes-style envelope shared by every kind: ``apiVersion``, ``metadata``, ``status``.

Owns ``API_VERSION``, the ``Metadata`` model (name, team, labels) and the annotated types
used for the ``apiVersion`` and ``status`` fields of each kind.  ``status`` is written by
Suanli: it is accepted on load (so ``get -o yaml`` output can be re-applied) but the control
plane ignores what a user puts there, and it is not part of ``spec_hash``.

Vocabulary: *team* is Suanli's tenancy unit; Kubernetes manifests may call it ``namespace``.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import AliasChoices, BeforeValidator, Field, model_validator

from jobspecs._base import DnsLabel, Labels, SpecModel, Violation, raise_violations

API_VERSION: Final = "suanli.dev/v1alpha1"
API_GROUP: Final = "suanli.dev"
API_VERSION_NAME: Final = "v1alpha1"
DEFAULT_TEAM: Final = "default"


def _check_api_version(value: Any) -> Any:
    if value != API_VERSION:
        raise_violations(
            [
                Violation(
                    (),
                    f"unsupported apiVersion {value!r}; the supported version is {API_VERSION}",
                    f"set apiVersion: {API_VERSION}",
                )
            ]
        )
    return value


ApiVersion = Annotated[Literal["suanli.dev/v1alpha1"], BeforeValidator(_check_api_version)]

Status = dict[str, Any] | None
"""Free-form status written by Suanli; accepted on load and otherwise ignored."""


def _add_namespace_alias(schema: dict[str, Any]) -> None:
    properties = schema.get("properties", {})
    if "team" in properties:
        properties["namespace"] = {**properties["team"], "description": "Alias of team."}


class Metadata(SpecModel, json_schema_extra=_add_namespace_alias):
    """Identity of a resource: a DNS-1123 name, unique per kind within its team."""

    name: DnsLabel
    """Name of the resource (DNS-1123 label: lowercase letters, digits, '-', at most 63)."""
    team: DnsLabel = Field(
        default=DEFAULT_TEAM,
        validation_alias=AliasChoices("team", "namespace"),
        serialization_alias="team",
    )
    """Owning team (namespace is accepted as an alias)."""
    labels: Labels = Field(default_factory=dict)
    """Free-form labels, Kubernetes label syntax."""

    @model_validator(mode="before")
    @classmethod
    def _team_or_namespace(cls, data: Any) -> Any:
        if isinstance(data, dict) and "team" in data and "namespace" in data:
            if data["team"] != data["namespace"]:
                raise_violations(
                    [
                        Violation(
                            ("namespace",),
                            f"team ({data['team']!r}) and namespace ({data['namespace']!r}) disagree",
                            "namespace is an alias of team: keep only one of them",
                        )
                    ]
                )
            data = {key: value for key, value in data.items() if key != "namespace"}
        return data

    @property
    def key(self) -> str:
        """``team/name``, unique per kind."""
        return f"{self.team}/{self.name}"
