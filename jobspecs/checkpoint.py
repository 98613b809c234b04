"""Checkpoint policy of a training job and the tier URIs it writes to.

Owns ``CheckpointPolicy`` and the rules for tier URIs.  Tiers are listed fastest first; the
schemes Suanli understands are:

========== ============================================ =====================================
scheme     form                                         meaning
========== ============================================ =====================================
memory://  ``memory://``                                host memory of the node itself
peer://    ``peer://``                                  host memory of a node in another
                                                        failure domain
file://    ``file:///abs/path``                         local disk or a shared filesystem
s3://      ``s3://bucket/prefix``                       S3 or an S3-compatible object store
gs://      ``gs://bucket/prefix``                       Google Cloud Storage
az://      ``az://container/prefix``                    Azure Blob Storage
abfs://    ``abfs://container@account.dfs.../prefix``   Azure Data Lake Gen2
========== ============================================ =====================================

``interval`` is ``"auto"`` (Suanli picks it from checkpoint cost and preemption rate) or a
duration stored as seconds.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final

from pydantic import BeforeValidator, Field, WithJsonSchema, model_validator

from jobspecs._base import Interval, PositiveInt, SpecModel, Violation, fail, raise_violations

TIER_SCHEMES: Final = ("memory", "peer", "file", "s3", "gs", "az", "abfs")
#: Tiers whose contents survive the loss of the node that wrote them.
DURABLE_SCHEMES: Final = ("peer", "file", "s3", "gs", "az", "abfs")
_EXAMPLES: Final = (
    "memory://, peer://, file:///abs/path, s3://bucket/prefix, gs://bucket/prefix, az://container"
)
_BUCKET = {
    "s3": re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"),
    "gs": re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$"),
}


def _check_tier(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        fail(f"a checkpoint tier must be a URI string (got {value!r})", f"use one of {_EXAMPLES}")
    uri = value.strip()
    scheme, separator, rest = uri.partition("://")
    if not separator:
        fail(f"{uri!r} is not a URI", f"write it with a scheme, one of {_EXAMPLES}")
    scheme = scheme.lower()
    if scheme not in TIER_SCHEMES:
        fail(
            f"unsupported checkpoint tier scheme '{scheme}://'",
            "use one of " + ", ".join(f"{name}://" for name in TIER_SCHEMES),
        )
    if scheme == "file" and not rest.startswith("/"):
        fail(
            f"file tiers need an absolute path (got {uri!r})",
            f"write file:///{rest or 'var/lib/suanli/checkpoints'} (three slashes)",
        )
    if scheme in _BUCKET:
        bucket = rest.split("/", 1)[0]
        if not bucket:
            fail(f"{uri!r} names no bucket", f"write {scheme}://<bucket>/<prefix>")
        if not _BUCKET[scheme].match(bucket):
            fail(
                f"{bucket!r} is not a valid {scheme} bucket name",
                "bucket names are 3-63 lowercase letters, digits, '.' or '-'",
            )
    if scheme in ("az", "abfs") and not rest.split("/", 1)[0]:
        fail(f"{uri!r} names no container", f"write {scheme}://<container>/<prefix>")
    return f"{scheme}://{rest}"


TierUri = Annotated[
    str,
    BeforeValidator(_check_tier),
    WithJsonSchema(
        {"type": "string", "pattern": r"^(memory|peer|file|s3|gs|az|abfs)://", "description": _EXAMPLES}
    ),
]


def tier_scheme(uri: str) -> str:
    """The scheme of a tier URI, e.g. "s3"."""
    return uri.partition("://")[0].lower()


def is_durable(uri: str) -> bool:
    """Whether a tier survives the loss of the node that wrote it."""
    return tier_scheme(uri) in DURABLE_SCHEMES


def _tier_key(uri: str) -> str:
    scheme, _, rest = uri.partition("://")
    return f"{scheme}://{rest.rstrip('/')}"


class CheckpointPolicy(SpecModel):
    """When and where a training job checkpoints."""

    interval: Interval = "auto"
    """'auto' or a duration ("30s", "15m", "2h", or seconds); stored as seconds."""
    tiers: tuple[TierUri, ...] = Field(default=("memory://",), json_schema_extra={"minItems": 1})
    """Checkpoint tiers, fastest first."""
    keep_last: PositiveInt = 3
    """How many committed checkpoints to keep."""
    every_steps: PositiveInt | None = None
    """Also checkpoint every N steps."""

    @model_validator(mode="after")
    def _no_duplicate_tiers(self) -> CheckpointPolicy:
        seen: dict[str, int] = {}
        problems = []
        if not self.tiers:
            problems.append(Violation(("tiers",), "must list at least one tier", "e.g. tiers: [memory://]"))
        for index, uri in enumerate(self.tiers):
            key = _tier_key(uri)
            if key in seen:
                problems.append(
                    Violation(
                        ("tiers", index),
                        f"{uri!r} repeats tiers[{seen[key]}]",
                        "list each tier once",
                    )
                )
            seen.setdefault(key, index)
        raise_violations(problems)
        return self

    @property
    def interval_seconds(self) -> float | None:
        """The fixed interval in seconds, or ``None`` when it is ``auto``."""
        return None if isinstance(self.interval, str) else self.interval

    @property
    def durable_tiers(self) -> tuple[str, ...]:
        """Tiers that survive the loss of the writing node."""
        return tuple(uri for uri in self.tiers if is_durable(uri))
