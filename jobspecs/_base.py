"""Shared building blocks of the spec models: the base model, field types and rule reporting.

Owns:

* ``SpecModel`` -- the pydantic base every contract model derives from: unknown fields are
  rejected (``extra="forbid"``), instances are frozen, YAML keys are camelCase aliases of the
  snake_case attributes, and NaN/infinity are refused.
* Reusable annotated field types (``PositiveInt``, ``DnsLabel``, ``Parameters``, ...).
* ``Violation`` and ``raise_violations`` -- the way a model validator reports *several*
  cross-field problems at once, each with its own location (relative to the model), message
  and hint.  ``errors.py`` expands them into one ``SpecIssue`` each.

Vocabulary: a *loc* is a tuple of YAML keys (alias form) and list indices, relative to the
model that raised it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Any, Final, NamedTuple, NoReturn, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from jobspecs.units import DURATION_PATTERN, QUANTITY_PATTERN, parse_duration, parse_quantity

#: The pydantic error type used for every Suanli-specific validation failure.
SPEC_ERROR_TYPE: Final = "suanli"

#: The multiplication sign used in messages about parallel layouts.
TIMES: Final = "\u00d7"

Loc = tuple[str | int, ...]


class Violation(NamedTuple):
    """One broken rule, located relative to the model whose validator found it."""

    loc: Loc
    message: str
    hint: str | None = None


def _summary(violations: Iterable[Violation]) -> str:
    parts = []
    for violation in violations:
        where = ".".join(str(part) for part in violation.loc)
        text = f"{where}: {violation.message}" if where else violation.message
        if violation.hint:
            text = f"{text}; {violation.hint}"
        parts.append(text)
    return " | ".join(parts)


def raise_violations(violations: Iterable[Violation]) -> None:
    """Raise one pydantic error carrying every violation, or return if there is none."""
    found = tuple(violations)
    if found:
        raise PydanticCustomError(
            SPEC_ERROR_TYPE, "{summary}", {"summary": _summary(found), "violations": found}
        )


def fail(message: str, hint: str | None = None) -> NoReturn:
    """Reject the value being validated with a human message and an optional fix."""
    violation = Violation((), message, hint)
    raise PydanticCustomError(
        SPEC_ERROR_TYPE, "{summary}", {"summary": _summary([violation]), "violations": (violation,)}
    )


class SpecModel(BaseModel):
    """Base of every contract model: strict about keys, frozen, camelCase in YAML."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        allow_inf_nan=False,
        use_attribute_docstrings=True,
    )


# --------------------------------------------------------------------------- numbers


def _max_is_optional(schema: dict[str, Any]) -> None:
    schema.pop("required", None)


class BoundedRange(SpecModel, json_schema_extra=_max_is_optional):
    """A ``{min, max}`` count (nodes, replicas): ``max`` may be left out and must not be below ``min``.
    Subclasses declare the two fields and how a plain integer is read."""

    min: int
    max: int

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.max < self.min:
            raise_violations([Violation(("max",), f"max ({self.max}) is below min ({self.min})",
                                        f"set max to at least {self.min}")])
        return self


def reject_bool(value: Any) -> Any:
    # YAML turns yes/no/on/off into booleans, and pydantic would then read them as 1/0.
    if isinstance(value, bool):
        fail(f"must be a number, not the boolean {str(value).lower()}", "write a number")
    return value


Int = Annotated[int, BeforeValidator(reject_bool)]
# Constraints go before the validator so that they show up in the JSON Schema.
PositiveInt = Annotated[int, Field(ge=1), BeforeValidator(reject_bool)]
NonNegativeInt = Annotated[int, Field(ge=0), BeforeValidator(reject_bool)]
PositiveFloat = Annotated[float, Field(gt=0), BeforeValidator(reject_bool)]
NonNegativeFloat = Annotated[float, Field(ge=0), BeforeValidator(reject_bool)]


def _compact_number(value: Any) -> Any:
    """Whole floats as ints in JSON/YAML output (7e10 -> 70000000000)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _parse_parameters(value: Any) -> float:
    try:
        return parse_quantity(value)
    except ValueError as exc:
        fail(str(exc), 'write a number such as 7.0e+10 or a string such as "70B", "1.5T", "125M"')


Parameters = Annotated[
    float,
    BeforeValidator(_parse_parameters),
    PlainSerializer(_compact_number, when_used="json"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0},
                {"type": "string", "pattern": QUANTITY_PATTERN},
            ],
            "description": 'A parameter count: a number or a string like "70B", "1.5T", "125M".',
        }
    ),
]


def _parse_interval(value: Any) -> float | str:
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        return parse_duration(value)
    except ValueError as exc:
        fail(str(exc), 'write "auto", a duration such as "30s", "15m", "2h", or a number of seconds')


Interval = Annotated[
    float | str,
    BeforeValidator(_parse_interval),
    PlainSerializer(_compact_number, when_used="json"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0},
                {"type": "string", "pattern": f"^(auto|{DURATION_PATTERN})$"},
            ],
            "description": '"auto", a duration like "15m" / "2h", or a number of seconds.',
        }
    ),
]


# --------------------------------------------------------------------------- names

DNS_LABEL_PATTERN: Final = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_DNS_LABEL = re.compile(DNS_LABEL_PATTERN)


def suggest_dns_label(value: str) -> str:
    """Best-effort DNS-1123 label made from value (for hints)."""
    slug = re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-")
    slug = re.sub(r"-{2,}", "-", slug)[:63].strip("-")
    return slug or "my-name"


def check_dns_label(value: Any) -> str:
    if not isinstance(value, str):
        fail(f"must be a string (got {value!r})", 'quote it, e.g. "my-name"')
    if len(value) > 63:
        fail(
            f"must be at most 63 characters (got {len(value)})",
            f"shorten it, e.g. {suggest_dns_label(value)!r}",
        )
    if not _DNS_LABEL.match(value):
        fail(
            f"{value!r} is not a DNS-1123 label (lowercase letters, digits and '-', "
            "starting and ending with a letter or digit)",
            f"use {suggest_dns_label(value)!r}",
        )
    return value


DnsLabel = Annotated[
    str,
    BeforeValidator(check_dns_label),
    WithJsonSchema({"type": "string", "pattern": DNS_LABEL_PATTERN, "maxLength": 63}),
]


def _check_name(value: Any) -> str:
    if not isinstance(value, str):
        fail(f"must be a string (got {value!r})", "quote it")
    stripped = value.strip()
    if not stripped:
        fail("must not be empty")
    if any(ch.isspace() for ch in stripped):
        fail(f"{value!r} must not contain whitespace")
    return stripped


Name = Annotated[str, BeforeValidator(_check_name), WithJsonSchema({"type": "string", "pattern": r"^\S+$"})]
"""A free-form identifier without whitespace (accelerator types, regions, instance types)."""

_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _check_label_key(value: Any) -> str:
    if not isinstance(value, str):
        fail(f"label keys must be strings (got {value!r})", "quote the key")
    prefix, slash, name = value.rpartition("/")
    if slash and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        fail(
            f"label key prefix {prefix!r} is not a DNS subdomain",
            "use a lowercase domain such as 'suanli.dev/role'",
        )
    if len(name) > 63 or not _LABEL_NAME.match(name):
        fail(
            f"label key {value!r} is invalid: the name part must be 1-63 characters of letters, digits, "
            "'-', '_' or '.', starting and ending with a letter or digit",
            "rename the key, e.g. 'team-role'",
        )
    return value


def _check_label_value(value: Any) -> str:
    if not isinstance(value, str):
        fail(f"label values must be strings (got {value!r})", f'quote it: "{value}"')
    if value and (len(value) > 63 or not _LABEL_NAME.match(value)):
        fail(
            f"label value {value!r} is invalid: at most 63 characters of letters, digits, '-', '_' "
            "or '.', starting and ending with a letter or digit",
        )
    return value


LabelKey = Annotated[str, BeforeValidator(_check_label_key)]
LabelValue = Annotated[str, BeforeValidator(_check_label_value)]
Labels = dict[LabelKey, LabelValue]


def divisors(n: int, limit: int | None = None) -> list[int]:
    """Divisors of n in increasing order (used to suggest valid parallel sizes)."""
    found = [d for d in range(1, n + 1) if n % d == 0] if n > 0 else [1]
    return found if limit is None else found[:limit]


def choices(values: Iterable[int], limit: int = 8) -> str:
    shown = list(values)
    text = ", ".join(str(v) for v in shown[:limit])
    return text + (", ..." if len(shown) > limit else "")
