"""Parsing and formatting of the human quantities that appear in specs.

Owns two small grammars, both pure functions with no pydantic involved:

* **quantities** (parameter counts): a positive number, or a string with an optional
  suffix ``K`` (10^3), ``M`` (10^6), ``B``/``G`` (10^9) or ``T`` (10^12), case-insensitive,
  e.g. ``"70B"``, ``"1.5T"``, ``"125M"``, ``"7.0e10"``.
* **durations**: a positive number of seconds, or one or more ``<number><unit>`` parts with
  units ``ms``, ``s``, ``m``, ``h``, ``d``, e.g. ``"30s"``, ``"15m"``, ``"1h30m"``.

Both raise ``ValueError`` with a human message on bad input.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Final

_NUMBER: Final = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"

QUANTITY_PATTERN: Final = rf"^\s*{_NUMBER}\s*[kKmMbBgGtT]?\s*$"
DURATION_PATTERN: Final = rf"(?:{_NUMBER}(?:ms|s|m|h|d))+|{_NUMBER}"

_QUANTITY = re.compile(rf"^({_NUMBER})\s*([kKmMbBgGtT]?)$")
_QUANTITY_SUFFIX: Final = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "g": 10**9, "t": 10**12}

_DURATION_PART = re.compile(rf"({_NUMBER})(ms|s|m|h|d)")
_DURATION_UNIT: Final[dict[str, Decimal]] = {
    "ms": Decimal("0.001"),
    "s": Decimal(1),
    "m": Decimal(60),
    "h": Decimal(3600),
    "d": Decimal(86400),
}


def _positive_number(value: int | float, what: str) -> float:
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{what} must be a positive finite number (got {value!r})")
    return number


def parse_quantity(value: object) -> float:
    """Parse a parameter count such as 70_000_000_000, 7.0e10 or "70B"."""
    if isinstance(value, bool):
        raise ValueError(f"expected a parameter count, got the boolean {str(value).lower()}")
    if isinstance(value, int | float):
        return _positive_number(value, "a parameter count")
    if not isinstance(value, str):
        raise ValueError(f"expected a parameter count, got {type(value).__name__}")
    text = value.strip().replace("_", "").replace(",", "")
    match = _QUANTITY.match(text)
    if not match:
        raise ValueError(f"cannot read {value!r} as a parameter count")
    number, suffix = match.groups()
    try:
        result = float(Decimal(number) * _QUANTITY_SUFFIX[suffix.lower()])
    except InvalidOperation as exc:  # pragma: no cover - the regex only admits decimals
        raise ValueError(f"cannot read {value!r} as a parameter count") from exc
    return _positive_number(result, "a parameter count")


def format_quantity(value: float) -> str:
    """Short human form of a count: 70000000000.0 -> "70B", 1.5e12 -> "1.5T"."""
    for suffix, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.4g}{suffix}"
    return f"{value:.4g}"


def parse_duration(value: object) -> float:
    """Parse a duration such as "30s", "15m", "1h30m" or 1800 into seconds."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration, got the boolean {str(value).lower()}")
    if isinstance(value, int | float):
        return _positive_number(value, "a duration")
    if not isinstance(value, str):
        raise ValueError(f"expected a duration, got {type(value).__name__}")
    text = value.strip().replace(" ", "")
    if re.fullmatch(_NUMBER, text):
        return _positive_number(float(text), "a duration")
    pos, total = 0, Decimal(0)
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += Decimal(match.group(1)) * _DURATION_UNIT[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(f"cannot read {value!r} as a duration")
    return _positive_number(float(total), "a duration")


def format_duration(seconds: float) -> str:
    """Short human form of a duration in seconds: 5400 -> "1h30m"."""
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    remaining = seconds
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        whole = int(remaining // size)
        if whole:
            parts.append(f"{whole}{unit}")
            remaining -= whole * size
    if remaining or not parts:
        parts.append(f"{remaining:g}s")
    return "".join(parts)
