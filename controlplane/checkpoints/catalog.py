"""What is on a tier: committed checkpoints (by their manifests), retention and garbage collection.

``committed(tier)`` reads every manifest reachable on a tier. A manifest that cannot be read or
parsed does not count (the checkpoint is not committed there). Stores that cannot be reached are
skipped: a tier's view is what is reachable now.

Retention keeps the newest ``keep_last`` committed checkpoints of a tier (never fewer than one,
so the newest committed is never deleted). It deletes a checkpoint's manifest first, then its
pieces, so a reader never finds a manifest whose shards were removed on purpose.

Garbage: a checkpoint directory without a manifest is *orphaned* when it can no longer commit:
it belongs to another attempt (only one attempt of a job runs at a time), or to this attempt at
a step older than this attempt's newest commit on the tier (ranks write a tier in step order).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from controlplane.checkpoints.blobstore import BlobStore, BlobStoreError
from controlplane.checkpoints.manifest import MANIFEST_NAME, Manifest, attempt_tag, step_of
from controlplane.checkpoints.tiers import Tier

logger = logging.getLogger("suanli.checkpoints")


@dataclass(frozen=True, slots=True)
class CommittedCheckpoint:
    """A manifest found on a tier, and the store location it was found in."""

    manifest: Manifest
    tier: Tier
    location: str

    @property
    def step(self) -> int:
        return self.manifest.step

    @property
    def checkpoint(self) -> str:
        return self.manifest.checkpoint


def _safe_list(store: BlobStore, prefix: str) -> list[str]:
    try:
        return store.list(prefix)
    except (BlobStoreError, OSError) as error:
        logger.warning("cannot list %s in %s: %s", prefix or "/", store.location, error)
        return []


def checkpoint_dirs(tier: Tier) -> dict[str, set[str]]:
    """Checkpoint ids present on the tier (committed or not), with the locations holding pieces."""
    found: dict[str, set[str]] = {}
    for location, store in tier.readers().items():
        for key in _safe_list(store, tier.prefix):
            name = tier.relative(key).split("/", 1)[0]
            if step_of(name) is not None:
                found.setdefault(name, set()).add(location)
    return found


def committed(tier: Tier) -> list[CommittedCheckpoint]:
    """Every checkpoint committed on ``tier`` (readable manifest), newest step first."""
    result: dict[str, CommittedCheckpoint] = {}
    for location, store in tier.readers().items():
        for key in _safe_list(store, tier.prefix):
            relative = tier.relative(key)
            parts = relative.split("/")
            if len(parts) != 2 or parts[1] != MANIFEST_NAME or parts[0] in result:
                continue
            try:
                manifest = Manifest.decode(store.get(key))
            except (BlobStoreError, OSError, ValueError, KeyError, TypeError) as error:
                logger.warning("ignoring unreadable manifest %s in %s: %s", relative, store.location, error)
                continue
            if manifest.checkpoint == parts[0]:
                result[parts[0]] = CommittedCheckpoint(manifest, tier, location)
    return sorted(result.values(), key=lambda item: (item.step, item.manifest.created_at), reverse=True)


def delete_checkpoint(tier: Tier, checkpoint: str) -> None:
    """Remove a checkpoint from every store of the tier: manifest first, then the pieces."""
    stores = tier.readers()
    for store in stores.values():
        try:
            store.delete(tier.key(f"{checkpoint}/{MANIFEST_NAME}"))
        except (BlobStoreError, OSError) as error:
            logger.warning("cannot delete the manifest of %s in %s: %s", checkpoint, store.location, error)
    for store in stores.values():
        try:
            store.delete_prefix(tier.key(f"{checkpoint}/"))
        except (BlobStoreError, OSError) as error:
            logger.warning("cannot delete %s in %s: %s", checkpoint, store.location, error)


def apply_retention(tier: Tier, keep_last: int) -> list[str]:
    """Delete all but the newest ``max(1, keep_last)`` committed checkpoints; return what went."""
    doomed = [item.checkpoint for item in committed(tier)[max(1, keep_last):]]
    for checkpoint in doomed:
        delete_checkpoint(tier, checkpoint)
    return doomed


def collect_garbage(tier: Tier, attempt_id: str | None) -> list[str]:
    """Delete orphaned checkpoint directories (see the module docstring); return what went."""
    commits = {item.checkpoint for item in committed(tier)}
    mine = attempt_tag(attempt_id)
    newest_mine = max((step_of(name) or 0 for name in commits if name.endswith(f"-{mine}")), default=-1)
    doomed = []
    for name in checkpoint_dirs(tier):
        if name in commits:
            continue
        step = step_of(name)
        if not name.endswith(f"-{mine}") or (step is not None and step < newest_mine):
            doomed.append(name)
    for name in doomed:
        delete_checkpoint(tier, name)
    return sorted(doomed)
