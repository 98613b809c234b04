"""YAML and JSON reading with line numbers, and YAML writing that reads back the same.

Owns:

* ``SpecLoader`` / ``SpecDumper`` -- PyYAML's safe loader and dumper, plus YAML 1.2-style
  floats without a dot or exponent sign (``7e10``, ``7.0e10``), which YAML 1.1 would read as
  strings.  The dumper quotes strings that the loader would otherwise read as floats.
* ``read_documents`` -- splits a text into ``RawDocument`` (data plus its YAML node tree and
  index), skipping empty documents; a top-level list is read as a list of documents.
* ``line_finder`` -- maps an alias location to the 1-based line of that key, or of the
  nearest existing parent.
* ``duplicate_keys`` -- keys repeated within one mapping (PyYAML silently keeps the last).

Lines are absolute within the text, also for the later documents of a multi-document file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic.alias_generators import to_snake

from jobspecs.errors import SpecError, SpecIssue

_YAML12_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")
_FLOAT_TAG = "tag:yaml.org,2002:float"

#: Other keys a location element may appear under in the YAML (aliases accepted on load).
_ALTERNATIVE_KEYS: dict[str, tuple[str, ...]] = {"team": ("namespace",)}


class SpecLoader(yaml.SafeLoader):
    """Safe loader that also reads 7e10 and 7.0e10 as floats."""


class SpecDumper(yaml.SafeDumper):
    """Safe dumper that quotes any string SpecLoader would read as a float."""


SpecLoader.add_implicit_resolver(_FLOAT_TAG, _YAML12_FLOAT, list("-+0123456789"))
SpecDumper.add_implicit_resolver(_FLOAT_TAG, _YAML12_FLOAT, list("-+0123456789"))


@dataclass(frozen=True)
class RawDocument:
    """One document of a file, before validation."""

    data: Any
    node: yaml.Node | None
    index: int

    @property
    def line(self) -> int | None:
        return None if self.node is None else self.node.start_mark.line + 1


def _syntax_issue(source: str, exc: yaml.YAMLError) -> SpecIssue:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    line = None if mark is None else mark.line + 1
    message = f"YAML syntax error: {problem}"
    if mark is not None:
        message += f" (column {mark.column + 1})"
    return SpecIssue(source, line, "", message, context)


def _split_top_level(data: Any, node: yaml.Node | None) -> Iterator[tuple[Any, yaml.Node | None]]:
    if isinstance(data, list):
        items = node.value if isinstance(node, yaml.SequenceNode) else [None] * len(data)
        yield from zip(data, items, strict=False)
    else:
        yield data, node


def _read_yaml(text: str, source: str) -> list[RawDocument]:
    loader = SpecLoader(text)
    documents: list[RawDocument] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            data = loader.construct_document(node)
            for item, item_node in _split_top_level(data, node):
                if item is not None:
                    documents.append(RawDocument(item, item_node, len(documents)))
    except yaml.YAMLError as exc:
        raise SpecError([_syntax_issue(source, exc)]) from exc
    finally:
        loader.dispose()
    return documents


def _read_json(text: str, source: str) -> list[RawDocument]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(
            [SpecIssue(source, exc.lineno, "", f"JSON syntax error: {exc.msg} (column {exc.colno})")]
        ) from exc
    try:  # JSON is (almost always) YAML too: reuse the node tree for line numbers
        node: yaml.Node | None = yaml.compose(text, Loader=SpecLoader)
    except yaml.YAMLError:
        node = None
    return [
        RawDocument(item, item_node, index)
        for index, (item, item_node) in enumerate(_split_top_level(data, node))
        if item is not None
    ]


def read_documents(text: str, source: str = "<string>") -> list[RawDocument]:
    """Parse YAML (multi-document) or, for *.json sources, JSON; empty documents skipped."""
    if source.lower().endswith(".json"):
        return _read_json(text, source)
    return _read_yaml(text, source)


def _key_candidates(key: str) -> tuple[str, ...]:
    return (key, to_snake(key), *_ALTERNATIVE_KEYS.get(key, ()))


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node, int] | None:
    """The value node under part and the line of its key (or item)."""
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        candidates = _key_candidates(part)
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value in candidates:
                return value_node, key_node.start_mark.line + 1
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        item = node.value[part]
        return item, item.start_mark.line + 1
    return None


def line_finder(node: yaml.Node | None) -> Callable[[Sequence[str | int]], int | None]:
    """A function from a location to the line of the deepest part of it present in node."""

    def line_of(loc: Sequence[str | int]) -> int | None:
        if node is None:
            return None
        current, line = node, node.start_mark.line + 1
        for part in loc:
            found = _child(current, part)
            if found is None:
                break
            current, line = found
        return line

    return line_of


def duplicate_keys(node: yaml.Node | None) -> list[tuple[tuple[str | int, ...], int]]:
    """Locations (and lines) of keys that repeat an earlier key of the same mapping."""
    found: list[tuple[tuple[str | int, ...], int]] = []
    visited: set[int] = set()

    def walk(current: yaml.Node | None, loc: tuple[str | int, ...]) -> None:
        if current is None or id(current) in visited:  # anchors may make the tree a graph
            return
        visited.add(id(current))
        if isinstance(current, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in current.value:
                if isinstance(key_node, yaml.ScalarNode):
                    key = key_node.value
                    if key in seen and key != "<<":
                        found.append(((*loc, key), key_node.start_mark.line + 1))
                    seen.add(key)
                    walk(value_node, (*loc, key))
        elif isinstance(current, yaml.SequenceNode):
            for index, item in enumerate(current.value):
                walk(item, (*loc, index))

    walk(node, ())
    return found


def to_yaml(documents: Sequence[dict[str, Any]]) -> str:
    """Block-style YAML of one or more documents, keys in the given order."""
    return yaml.dump_all(
        documents,
        Dumper=SpecDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        explicit_start=len(documents) > 1,
    )
