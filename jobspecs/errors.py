"""Errors a user sees when a spec is wrong, and the translation from pydantic's errors.

Owns ``SpecIssue`` (one problem: file, line, dotted path, message, hint), ``SpecError`` (all
problems of a load, one line each when printed) and ``issues_from_validation_error``, which
rewrites pydantic's error list into issues: Suanli rule violations are expanded to their own
locations, generic pydantic messages are rephrased, unknown fields list the allowed ones.

Vocabulary: a *path* is the dotted alias path of a value, list indices in brackets and keys
that are not plain identifiers quoted: ``spec.checkpoint.tiers[2]``,
``metadata.labels["suanli.dev/role"]``.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from jobspecs._base import SPEC_ERROR_TYPE, Loc, Violation

LineOf = Callable[[Sequence[str | int]], int | None]
"""Maps a location (alias keys and list indices) to a 1-based line, or ``None``."""

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class SpecIssue:
    """One problem found in a spec document."""

    file: str
    line: int | None
    path: str
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        text = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        return f"{text}; {self.hint}" if self.hint else text


class SpecError(Exception):
    """One or more problems in spec documents; str() gives one line per issue."""

    def __init__(self, issues: Iterable[SpecIssue]) -> None:
        self.issues: list[SpecIssue] = list(issues)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(issue) for issue in self.issues)


def format_path(loc: Iterable[str | int]) -> str:
    """("spec", "tiers", 2) -> spec.tiers[2]."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += '["' + part.replace('"', '\\"') + '"]'
    return out


# --------------------------------------------------------------------------- model walking


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete types behind Annotated/Optional/unions."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        found: list[Any] = []
        for arg in typing.get_args(annotation):
            found.extend(_unwrap(arg))
        return found
    return [annotation]


def _field_annotation(model: type[BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        if key in (name, info.alias, info.serialization_alias):
            return info.annotation
        choices = getattr(info.validation_alias, "choices", ())
        if key in choices:
            return info.annotation
    return None


def _model_at(root: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    """The model class whose fields sit at loc below root, if it can be told."""
    current: list[Any] = [root]
    for part in loc:
        following: list[Any] = []
        for candidate in current:
            for concrete in _unwrap(candidate):
                origin = typing.get_origin(concrete)
                args = typing.get_args(concrete)
                if isinstance(concrete, type) and issubclass(concrete, BaseModel) and isinstance(part, str):
                    annotation = _field_annotation(concrete, part)
                    if annotation is not None:
                        following.append(annotation)
                elif origin in (list, tuple) and isinstance(part, int) and args:
                    following.append(args[0])
                elif origin is dict and len(args) == 2:
                    following.append(args[1])
        current = following
    for candidate in current:
        for concrete in _unwrap(candidate):
            if isinstance(concrete, type) and issubclass(concrete, BaseModel):
                return concrete
    return None


def allowed_fields(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


# --------------------------------------------------------------------------- rephrasing


def _show(value: Any) -> str:
    if isinstance(value, str):
        text = repr(value)
    elif isinstance(value, bool):
        text = str(value).lower()
    elif value is None:
        text = "null"
    elif isinstance(value, dict):
        text = "a mapping"
    elif isinstance(value, list | tuple):
        text = "a list"
    else:
        text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def close_match(word: str, options: Sequence[str]) -> str | None:
    matches = difflib.get_close_matches(word, list(options), n=1, cutoff=0.55)
    if not matches:
        lowered = {option.lower(): option for option in options}
        matches = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.55)
        matches = [lowered[m] for m in matches]
    return matches[0] if matches else None


_SIMPLE: dict[str, tuple[str, str | None]] = {
    "int_type": ("must be a whole number (got {input})", None),
    "int_parsing": ("must be a whole number (got {input})", None),
    "int_from_float": ("must be a whole number (got {input})", None),
    "float_type": ("must be a number (got {input})", None),
    "float_parsing": ("must be a number (got {input})", None),
    "finite_number": ("must be a finite number (got {input})", None),
    "bool_type": ("must be true or false (got {input})", None),
    "bool_parsing": ("must be true or false (got {input})", None),
    "string_type": ("must be a string (got {input})", "quote the value"),
    "dict_type": ("must be a mapping of keys to values (got {input})", None),
    "model_type": ("must be a mapping of fields (got {input})", None),
    "model_attributes_type": ("must be a mapping of fields (got {input})", None),
    "list_type": ("must be a list (got {input})", None),
    "tuple_type": ("must be a list (got {input})", None),
    "datetime_type": ("must be a date-time (got {input})", "write e.g. 2025-07-01T00:00:00Z"),
    "datetime_parsing": ("must be an ISO-8601 date-time (got {input})", "write e.g. 2025-07-01T00:00:00Z"),
    "datetime_from_date_parsing": (
        "must be an ISO-8601 date-time (got {input})",
        "write e.g. 2025-07-01T00:00:00Z",
    ),
    "timezone_aware": (
        "must include a timezone (got {input})",
        "append Z for UTC or an offset such as +08:00, e.g. 2025-07-01T00:00:00Z",
    ),
    "greater_than": ("must be greater than {gt} (got {input})", None),
    "greater_than_equal": ("must be at least {ge} (got {input})", None),
    "less_than": ("must be less than {lt} (got {input})", None),
    "less_than_equal": ("must be at most {le} (got {input})", None),
    "too_short": ("must have at least {min_length} item(s)", None),
    "too_long": ("must have at most {max_length} item(s)", None),
    "string_too_short": ("must not be empty", None),
    "string_too_long": ("must be at most {max_length} characters", None),
    "string_pattern_mismatch": ("{input} does not match the pattern {pattern}", None),
}


def _rephrase(error: Any, root: type[BaseModel], loc: Loc) -> tuple[str, str | None]:
    kind = error["type"]
    ctx = {
        key: f"{value:g}" if isinstance(value, float) else value
        for key, value in (error.get("ctx") or {}).items()
    }
    shown = _show(error.get("input"))
    last = loc[-1] if loc else ""
    if kind == "missing":
        parent = format_path(loc[:-1])
        where = f" under {parent}" if parent else ""
        return f"missing required field {last!s}", f"add {last}{where}"
    if kind == "extra_forbidden":
        model = _model_at(root, loc[:-1])
        allowed = allowed_fields(model) if model is not None else []
        message = f"unknown field {last!s}"
        if allowed:
            message += f"; allowed fields: {', '.join(allowed)}"
        guess = close_match(str(last), allowed) if allowed else None
        return message, (f"did you mean {guess}?" if guess else "remove it")
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        message = f"must be one of {', '.join(options)} (got {shown})"
        guess = close_match(str(error.get("input")), options) if options else None
        return message, (f"did you mean {guess}?" if guess else None)
    if kind in _SIMPLE:
        template, hint = _SIMPLE[kind]
        try:
            return template.format(input=shown, **ctx), hint
        except (KeyError, IndexError):
            return template, hint
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"]), None
    message = str(error.get("msg", "is invalid"))
    return re.sub(r"^(Value error|Assertion failed), ", "", message), None


_BRANCH_TAG = re.compile(r"^[a-z][a-z_-]*\[.*\]$")


def _clean_loc(loc: Iterable[str | int]) -> Loc:
    """Drop pydantic's union-branch tags (``literal['any']``) and dict-key markers from a location."""
    return tuple(
        part for part in loc if not (isinstance(part, str) and (part == "[key]" or _BRANCH_TAG.match(part)))
    )


def issues_from_validation_error(
    exc: ValidationError,
    root: type[BaseModel],
    source: str,
    line_of: LineOf | None = None,
) -> list[SpecIssue]:
    """Rewrite a pydantic ValidationError raised while validating ``root`` into issues."""
    issues: list[SpecIssue] = []
    seen: set[tuple[str, str]] = set()
    for error in exc.errors(include_url=False):
        loc = _clean_loc(error["loc"])
        found: list[tuple[Loc, str, str | None]] = []
        if error["type"] == SPEC_ERROR_TYPE:
            violations: Sequence[Violation] = (error.get("ctx") or {}).get("violations", ())
            found.extend((loc + v.loc, v.message, v.hint) for v in violations)
        else:
            message, hint = _rephrase(error, root, loc)
            found.append((loc, message, hint))
        for where, message, hint in found:
            path = format_path(where)
            if (path, message) in seen:  # union branches can report the same problem twice
                continue
            seen.add((path, message))
            line = line_of(where) if line_of is not None else None
            issues.append(SpecIssue(source, line, path, message, hint))
    return issues
