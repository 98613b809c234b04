"""The environment variables that carry a job's checkpoint policy to its ranks.

The control plane adds these to a ``LaunchSpec``'s ``env`` (``checkpoint_environment``); the
worker SDK reads them (``CheckpointSettings.from_environment``).

=====================================  ==========================================================
``SUANLI_CHECKPOINT_TIERS``            the policy's tiers, fastest first, as a JSON list (a
                                       comma-separated list is accepted too). Without it the SDK
                                       falls back to ``SUANLI_CHECKPOINT_URI`` (one tier).
``SUANLI_CHECKPOINT_PEER``             the node whose RAM holds this rank's ``peer://`` replica,
                                       chosen by the control plane in another failure domain
                                       (``peers.choose_peers``); a JSON object ``{node: peer}``
                                       for the whole attempt or one node name
``SUANLI_CHECKPOINT_KEEP_LAST``        committed checkpoints kept per tier (default 3)
``SUANLI_CHECKPOINT_STORAGE_OPTIONS``  JSON ``{scheme: fsspec options}``, e.g. an S3 endpoint
``SUANLI_CHECKPOINT_COMMIT_TIMEOUT_S`` how long the coordinator waits for every rank (600)
=====================================  ==========================================================
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

TIERS = "SUANLI_CHECKPOINT_TIERS"
URI = "SUANLI_CHECKPOINT_URI"
PEER = "SUANLI_CHECKPOINT_PEER"
KEEP_LAST = "SUANLI_CHECKPOINT_KEEP_LAST"
STORAGE_OPTIONS = "SUANLI_CHECKPOINT_STORAGE_OPTIONS"
COMMIT_TIMEOUT_S = "SUANLI_CHECKPOINT_COMMIT_TIMEOUT_S"


def checkpoint_environment(tiers: Sequence[str], *, keep_last: int | None = None,
                           peers: Mapping[str, str] | None = None,
                           storage_options: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, str]:
    """The variables to add to every rank's environment for a job's checkpoint policy."""
    environment = {TIERS: json.dumps(list(tiers))}
    if keep_last is not None:
        environment[KEEP_LAST] = str(int(keep_last))
    if peers:
        environment[PEER] = json.dumps(dict(peers), sort_keys=True)
    if storage_options:
        environment[STORAGE_OPTIONS] = json.dumps({k: dict(v) for k, v in storage_options.items()}, sort_keys=True)
    return environment


@dataclass(frozen=True, slots=True)
class CheckpointSettings:
    """What the worker SDK needs from the environment."""

    tiers: tuple[str, ...]
    peer: str | None = None
    keep_last: int = 3
    storage_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    commit_timeout_s: float = 600.0

    @classmethod
    def from_environment(cls, env: Mapping[str, str], node: str | None = None) -> CheckpointSettings | None:
        """The settings for a rank on ``node``, or ``None`` when no tier is configured."""
        tiers = _tiers(env.get(TIERS, "")) or _tiers(env.get(URI, ""))
        if not tiers:
            return None
        keep = env.get(KEEP_LAST, "").strip()
        timeout = env.get(COMMIT_TIMEOUT_S, "").strip()
        options = json.loads(env[STORAGE_OPTIONS]) if env.get(STORAGE_OPTIONS) else {}
        return cls(tiers=tuple(tiers), peer=_peer(env.get(PEER, ""), node), keep_last=int(keep) if keep else 3,
                   storage_options=options, commit_timeout_s=float(timeout) if timeout else 600.0)


def _tiers(text: str) -> list[str]:
    text = text.strip()
    if not text:
        return []
    if text.startswith("["):
        return [str(item) for item in json.loads(text)]
    return [item.strip() for item in text.split(",") if item.strip()]


def _peer(text: str, node: str | None) -> str | None:
    text = text.strip()
    if not text:
        return None
    if text.startswith("{"):
        mapping = json.loads(text)
        value = mapping.get(node or "")
        return str(value) if value else None
    return text
