"""Wire schemas of checkpoints: what ``/v1/jobs/{job}/checkpoints`` returns."""

from __future__ import annotations

from datetime import datetime

from controlplane.wire.models import WireModel


class CheckpointTierView(WireModel):
    tier: str
    uri: str
    committed_at: datetime | None = None
    persist_s: float | None = None
    """Seconds from the end of the snapshot to the commit on this tier."""


class CheckpointView(WireModel):
    uid: str
    job: str
    attempt: str | None = None
    checkpoint: str
    step: int
    bytes: int
    snapshot_s: float | None = None
    """Blocking time of the snapshot (what training paid)."""
    tiers: list[CheckpointTierView] = []
    durable: bool = False
    """Committed on at least one tier that survives the loss of the writing node."""
    created_at: datetime | None = None
    updated_at: datetime | None = None
