"""Content hashes of JSON specs. Pure.

Two specs that are equal as JSON documents hash the same whatever the key order, so an apply of
an unchanged manifest is recognised as "unchanged" and an idempotent retry as "same body".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from controlplane.domain.errors import InvalidInputError


def canonical_json(document: Mapping[str, Any]) -> str:
    """``document`` as compact JSON with sorted keys: one text per JSON value."""
    try:
        return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidInputError(
            f"spec is not a JSON document: {error}",
            field="spec",
            hint="use only strings, finite numbers, booleans, null, lists and objects with string keys",
        ) from error


def spec_hash(document: Mapping[str, Any]) -> str:
    """Hex SHA-256 of :func:`canonical_json` of ``document``."""
    return hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()
