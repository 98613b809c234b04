"""What the checkpoint engine tells the world: events, commit reports and the rank's identity.

``CheckpointEvent`` kinds:

==================== ==========================================================================
``snapshot``         the state was copied to host memory (training may go on)
``written``          this rank's shard and record are on a tier
``committed``        the coordinator committed the manifest on a tier
``tier_failed``      writing or committing on a tier failed (the others go on)
``tier_unavailable`` a tier cannot be used from this rank (no peer node, no store)
``retention``        old committed checkpoints were deleted from a tier
``gc``               orphaned pieces (never committed) were deleted from a tier
``fallback_tier``    restore found a shard missing or corrupt on a tier and tried the next one
``fallback_checkpoint`` restore gave up on a checkpoint and tried the previous one
``restored``         the state was restored
==================== ==========================================================================
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger("suanli.checkpoints")

WARNING_KINDS = frozenset({"tier_failed", "tier_unavailable", "fallback_tier", "fallback_checkpoint"})


@dataclass(frozen=True, slots=True)
class RankIdentity:
    """Who is checkpointing: the job, the attempt and this rank's place in the layout."""

    rank: int = 0
    world_size: int = 1
    job_id: str | None = None
    attempt_id: str | None = None
    node: str | None = None
    coordinates: Mapping[str, int] = field(default_factory=dict)
    group_sizes: Mapping[str, int] = field(default_factory=dict)

    @property
    def coordinator(self) -> bool:
        """Global rank 0 commits manifests, applies retention and reports commits."""
        return self.rank == 0


@dataclass(frozen=True, slots=True)
class CheckpointEvent:
    kind: str
    message: str
    step: int | None = None
    tier: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CommitReport:
    """A checkpoint committed on one tier, as the coordinator reports it to the control plane."""

    step: int
    checkpoint: str
    tier: str
    uri: str
    bytes: int
    snapshot_s: float
    persist_s: float
    """From the snapshot's end to this tier's commit."""
    committed_at: float
    world_size: int
    attempt_id: str | None = None

    def details(self) -> dict[str, Any]:
        return {"tier": self.tier, "checkpoint": self.checkpoint, "snapshotS": round(self.snapshot_s, 6),
                "persistS": round(self.persist_s, 6), "worldSize": self.world_size}


EventSink = Callable[[CheckpointEvent], None]


def log_event(event: CheckpointEvent) -> None:
    """The default sink: one log line per event (warnings for fallbacks and failures)."""
    level = logging.WARNING if event.kind in WARNING_KINDS else logging.INFO
    logger.log(level, "checkpoint %s: %s", event.kind, event.message)


class EventRecorder:
    """A sink that keeps every event (tests, and ``RestoredCheckpoint.events``) and forwards them."""

    def __init__(self, forward: EventSink | None = log_event) -> None:
        self.events: list[CheckpointEvent] = []
        self._forward = forward

    def __call__(self, event: CheckpointEvent) -> None:
        self.events.append(event)
        if self._forward is not None:
            self._forward(event)

    def kinds(self) -> list[str]:
        return [event.kind for event in self.events]
