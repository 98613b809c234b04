"""Reading spec files into models, writing models back out, and hashing specs.

Owns the public I/O of the contract:

* ``load_file`` / ``load_text`` -- YAML (multi-document, ``---``) or JSON into a list of
  resources; every problem of every document is collected into one ``SpecError``.
* ``parse_document`` -- one already-parsed mapping into a resource.
* ``dump_yaml`` / ``dump_json`` / ``to_document`` -- the canonical, minimal form (``None`` and
  default values left out, except the identity fields), which loads back equal.
* ``spec_hash`` -- sha256 of the canonical JSON of kind, name, team and spec, for idempotent
  submission: two documents that mean the same spec hash the same.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from jobspecs.envelope import API_VERSION
from jobspecs.errors import (
    LineOf,
    SpecError,
    SpecIssue,
    close_match,
    format_path,
    issues_from_validation_error,
)
from jobspecs.kinds import KINDS, Resource
from jobspecs.yamlio import duplicate_keys, line_finder, read_documents, to_yaml

_ENVELOPE_HINT = (
    "a spec document looks like: apiVersion: suanli.dev/v1alpha1, kind: TrainingJob, "
    "metadata: {name: ...}, spec: {...}"
)


def _envelope_issues(data: dict[Any, Any], source: str, line: LineOf) -> list[SpecIssue]:
    issues = []
    if "apiVersion" not in data:
        issues.append(
            SpecIssue(
                source, line(()), "", "missing required field apiVersion", f"add apiVersion: {API_VERSION}"
            )
        )
    kind = data.get("kind")
    if "kind" not in data:
        issues.append(
            SpecIssue(
                source, line(()), "", "missing required field kind", f"add kind: one of {', '.join(KINDS)}"
            )
        )
    elif kind not in KINDS:
        guess = close_match(str(kind), list(KINDS))
        issues.append(
            SpecIssue(
                source,
                line(("kind",)),
                "kind",
                f"unknown kind {kind!r}; known kinds: {', '.join(KINDS)}",
                f"did you mean {guess}?" if guess else None,
            )
        )
        version = data.get("apiVersion", API_VERSION)
        if version != API_VERSION:
            issues.append(
                SpecIssue(
                    source,
                    line(("apiVersion",)),
                    "apiVersion",
                    f"unsupported apiVersion {version!r}; the supported version is {API_VERSION}",
                    f"set apiVersion: {API_VERSION}",
                )
            )
    return issues


def _validate(data: Any, source: str, line_of: LineOf | None) -> tuple[Resource | None, list[SpecIssue]]:
    def line(loc: Sequence[str | int]) -> int | None:
        return None if line_of is None else line_of(loc)

    if not isinstance(data, dict):
        shown = "a list" if isinstance(data, list) else type(data).__name__
        return None, [
            SpecIssue(source, line(()), "", f"a document must be a mapping, not {shown}", _ENVELOPE_HINT)
        ]
    issues = _envelope_issues(data, source, line)
    model = KINDS.get(data.get("kind"))  # type: ignore[arg-type]
    if model is None:
        return None, issues
    try:
        resource = model.model_validate(data)
    except ValidationError as exc:
        issues.extend(issues_from_validation_error(exc, model, source, line_of))
        return None, issues
    return (resource if not issues else None), issues


def parse_document(data: Any, source: str = "<string>", line_of: LineOf | None = None) -> Resource:
    """Validate one parsed document (a mapping) into its resource model.

    ``line_of`` maps a location (alias keys, list indices) to a 1-based line for messages.
    Raises ``SpecError`` listing every problem found.
    """
    resource, issues = _validate(data, source, line_of)
    if issues or resource is None:
        raise SpecError(issues)
    return resource


def _sort_key(issue: SpecIssue) -> tuple[bool, int]:
    return issue.line is None, issue.line or 0


def load_text(text: str, source: str = "<string>") -> list[Resource]:
    """Load every resource in a YAML or JSON text (``source`` names it in messages).

    Empty documents are skipped.  Raises ``SpecError`` listing every problem of every document,
    ordered by line.
    """
    resources: list[Resource] = []
    issues: list[SpecIssue] = []
    first_line: dict[tuple[str, str], int | None] = {}
    for document in read_documents(text, source):
        line_of = line_finder(document.node)
        for loc, line in duplicate_keys(document.node):
            issues.append(
                SpecIssue(
                    source,
                    line,
                    format_path(loc),
                    "duplicate key",
                    "keep one; YAML would silently use the last",
                )
            )
        resource, found = _validate(document.data, source, line_of)
        issues.extend(found)
        if resource is None:
            continue
        identity = (resource.kind, resource.metadata.key)
        if identity in first_line:
            earlier = first_line[identity]
            issues.append(
                SpecIssue(
                    source,
                    line_of(("metadata", "name")),
                    "metadata.name",
                    f"{resource.kind} {resource.metadata.key} is defined twice"
                    + (f" (first at line {earlier})" if earlier else ""),
                    "rename one of them",
                )
            )
            continue
        first_line[identity] = line_of(("metadata", "name"))
        resources.append(resource)
    if issues:
        raise SpecError(sorted(issues, key=_sort_key))
    return resources


def load_file(path: str | PathLike[str]) -> list[Resource]:
    """Load every resource in a .yaml/.yml/.json file; raises SpecError."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise SpecError([SpecIssue(source, None, "", f"cannot read the file: {reason}")]) from exc
    return load_text(text, source)


# --------------------------------------------------------------------------- writing


def to_document(resource: Resource) -> dict[str, Any]:
    """The minimal plain-data form of a resource (aliases, no None, no defaults)."""
    metadata: dict[str, Any] = {"name": resource.metadata.name, "team": resource.metadata.team}
    if resource.metadata.labels:
        metadata["labels"] = dict(resource.metadata.labels)
    document: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": resource.kind,
        "metadata": metadata,
        "spec": resource.spec.model_dump(
            mode="json", by_alias=True, exclude_none=True, exclude_defaults=True
        ),
    }
    if resource.status is not None:
        document["status"] = resource.model_dump(mode="json", include={"status"})["status"]
    return document


def _as_list(resources: Resource | Iterable[Resource]) -> list[Resource]:
    if isinstance(resources, tuple(KINDS.values())):
        return [resources]  # type: ignore[list-item]
    return list(resources)  # type: ignore[arg-type]


def dump_yaml(resources: Resource | Iterable[Resource]) -> str:
    """YAML of one resource, or of several as a multi-document stream."""
    return to_yaml([to_document(resource) for resource in _as_list(resources)])


def dump_json(resources: Resource | Iterable[Resource], indent: int | None = 2) -> str:
    """JSON of one resource (an object), or of several (an array)."""
    if isinstance(resources, tuple(KINDS.values())):
        payload: Any = to_document(resources)  # type: ignore[arg-type]
    else:
        payload = [to_document(resource) for resource in _as_list(resources)]
    return json.dumps(payload, indent=indent, ensure_ascii=False) + "\n"


def spec_hash(resource: Resource) -> str:
    """Hex sha256 of the canonical JSON of kind, metadata.name, metadata.team and spec.

    Labels and status do not count.  The spec is hashed after validation with defaults filled
    in and ``None`` left out, so omitting a default and writing it out hash the same, as do
    ``parameters: 70B`` and ``parameters: 7.0e10``.
    """
    payload = {
        "kind": resource.kind,
        "metadata": {"name": resource.metadata.name, "team": resource.metadata.team},
        "spec": resource.spec.model_dump(mode="json", by_alias=True, exclude_none=True),
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
