"""Restore: the newest checkpoint committed on any reachable tier, read from the fastest valid copy.

1. *Discover*: read the manifests of every tier; group them by checkpoint id, newest step first.
2. *Load*: for the newest candidate, read each shard this rank needs (its own, or the sources
   ``resharding`` names when the layout changed) from the tiers that committed it, fastest
   first: this node's memory, other nodes' memory, peer memory, files, object stores. A copy
   whose size or CRC-32 does not match the manifest, or that cannot be read, is skipped with a
   ``fallback_tier`` event. When no tier has a good copy of some shard, the candidate is
   abandoned with a ``fallback_checkpoint`` event and the previous one is tried.
3. *Agree*: ranks may see different things (a shard corrupt only on this rank's copy), so they
   agree on one step through an ``Agreement`` (min and max over ranks of the step each could
   load). Until min equals max, every rank retries at or below the min. All ranks run the same
   rounds, so collective agreements never deadlock.

Nothing torn is ever returned: a checkpoint is only considered when its manifest is committed,
and every shard is verified against it before decoding.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from controlplane.checkpoints import catalog
from controlplane.checkpoints.blobstore import BlobStoreError
from controlplane.checkpoints.events import CheckpointEvent, EventSink, RankIdentity, log_event
from controlplane.checkpoints.manifest import Manifest, checksum
from controlplane.checkpoints.resharding import reshard, same_layout
from controlplane.checkpoints.serialization import decode_shard
from controlplane.checkpoints.tiers import DEFAULT_SPEED_ORDER, Tier, TierKind

Agreement = Callable[[int], tuple[int, int]]
"""Given this rank's step (-1 for none), return (min, max) of every rank's step."""

NO_CHECKPOINT = -1


def single_rank_agreement(step: int) -> tuple[int, int]:
    return step, step


class RestoredCheckpoint(tuple[int, Any]):
    """What ``restore`` found: the tuple ``(step, state)``, with details as attributes.

    ``checkpoint`` (its id), ``tiers`` (where the shards were read from), ``resharded``,
    ``seconds`` (wall time of the restore) and ``events`` (fallbacks on the way).
    """

    checkpoint: str
    tiers: list[str]
    resharded: bool
    seconds: float
    events: list[CheckpointEvent]

    def __new__(cls, step: int, state: Any, *, checkpoint: str, tiers: list[str], resharded: bool,
                seconds: float = 0.0, events: list[CheckpointEvent] | None = None) -> RestoredCheckpoint:
        restored = super().__new__(cls, (step, state))
        restored.checkpoint, restored.tiers, restored.resharded = checkpoint, tiers, resharded
        restored.seconds, restored.events = seconds, list(events or [])
        return restored

    @property
    def step(self) -> int:
        return int(self[0])

    @property
    def state(self) -> Any:
        return self[1]

    def __repr__(self) -> str:
        return (f"RestoredCheckpoint(step={self.step}, checkpoint={self.checkpoint!r}, tiers={self.tiers}, "
                f"resharded={self.resharded})")


@dataclass
class Candidate:
    step: int
    checkpoint: str
    copies: list[catalog.CommittedCheckpoint]

    @property
    def manifest(self) -> Manifest:
        return self.copies[0].manifest


class ShardUnavailableError(Exception):
    pass


def discover(tiers: Sequence[Tier]) -> list[Candidate]:
    """Checkpoints committed on any tier, newest first; copies ordered fastest tier first."""
    by_id: dict[str, Candidate] = {}
    for tier in tiers:
        for item in catalog.committed(tier):
            candidate = by_id.setdefault(item.checkpoint, Candidate(item.step, item.checkpoint, []))
            candidate.copies.append(item)
    speed = {tier.uri: (DEFAULT_SPEED_ORDER[tier.kind], index) for index, tier in enumerate(tiers)}
    for candidate in by_id.values():
        candidate.copies.sort(key=lambda copy: speed[copy.tier.uri])
    return sorted(by_id.values(), key=lambda c: (c.step, max(x.manifest.created_at for x in c.copies)), reverse=True)


class Restorer:
    """Restores one rank; see the module docstring."""

    def __init__(self, identity: RankIdentity, tiers: Sequence[Tier], *, agreement: Agreement = single_rank_agreement,
                 events: EventSink = log_event) -> None:
        self.identity = identity
        self.tiers = list(tiers)
        self._agreement = agreement
        self._sink = events
        self._events: list[CheckpointEvent] = []

    def restore(self, template: Any | None = None) -> RestoredCheckpoint | None:
        started = time.perf_counter()
        candidates = discover(self.tiers)
        loaded = self._best(candidates, None, template)
        while True:
            step = loaded.step if loaded is not None else NO_CHECKPOINT
            low, high = self._agreement(step)
            if low == high:
                break
            if low == NO_CHECKPOINT:
                loaded = None
                break
            if loaded is None or loaded.step != low:
                loaded = self._best(candidates, low, template)
        if loaded is None:
            return None
        loaded.seconds = time.perf_counter() - started
        self._emit("restored", f"restored step {loaded.step} ({loaded.checkpoint}) from {', '.join(loaded.tiers)}"
                   + (" with resharding" if loaded.resharded else ""), loaded.step, None,
                   {"checkpoint": loaded.checkpoint, "tiers": loaded.tiers, "resharded": loaded.resharded})
        loaded.events = list(self._events)
        return loaded

    def _best(self, candidates: Sequence[Candidate], bound: int | None, template: Any) -> RestoredCheckpoint | None:
        for candidate in candidates:
            if bound is not None and candidate.step > bound:
                continue
            try:
                return self._load(candidate, template)
            except ShardUnavailableError as error:
                self._emit("fallback_checkpoint", f"step {candidate.step} ({candidate.checkpoint}) cannot be restored: "
                           f"{error}; trying the previous checkpoint", candidate.step, None,
                           {"checkpoint": candidate.checkpoint})
        return None

    def _load(self, candidate: Candidate, template: Any) -> RestoredCheckpoint:
        identity = self.identity
        manifest = candidate.manifest
        used: list[str] = []
        cache: dict[int, bytes | bytearray] = {}

        def shard(rank: int) -> bytes | bytearray:
            if rank not in cache:
                data, tier = self._read_shard(candidate, rank)
                cache[rank] = data
                if tier not in used:
                    used.append(tier)
            return cache[rank]

        if same_layout(manifest, identity.rank, identity.world_size, identity.coordinates):
            try:
                state = decode_shard(shard(identity.rank))
            except ValueError as error:
                raise ShardUnavailableError(f"shard of rank {identity.rank} does not decode: {error}") from None
            resharded = False
        else:
            try:
                state = reshard(manifest, shard, coordinates=identity.coordinates,
                                group_sizes=identity.group_sizes, template=template)
            except ValueError as error:
                raise ShardUnavailableError(str(error)) from None
            resharded = True
        return RestoredCheckpoint(candidate.step, state, checkpoint=candidate.checkpoint, tiers=used,
                                  resharded=resharded)

    def _ordered_copies(self, candidate: Candidate, rank: int) -> list[tuple[Tier, str]]:
        """(tier, location) pairs to try for ``rank``'s shard: this node's memory first."""
        ordered: list[tuple[int, int, Tier, str]] = []
        for index, copy in enumerate(candidate.copies):
            record = copy.manifest.shard(rank)
            if record is None:
                continue
            local = copy.tier.kind is TierKind.MEMORY and record.location == (self.identity.node or "local")
            ordered.append((0 if local else 1, index, copy.tier, record.location))
        ordered.sort(key=lambda item: (item[0], item[1]))
        return [(tier, location) for _, _, tier, location in ordered]

    def _read_shard(self, candidate: Candidate, rank: int) -> tuple[bytes | bytearray, str]:
        tried = []
        for tier, location in self._ordered_copies(candidate, rank):
            copy = next(copy for copy in candidate.copies if copy.tier is tier)
            record = copy.manifest.shard(rank)
            assert record is not None
            problem = None
            store = tier.reader(location)
            if store is None:
                problem = f"its store {location or tier.uri} is not reachable"
            else:
                try:
                    data = store.get(tier.key(record.key))
                except (BlobStoreError, OSError) as error:
                    problem = f"cannot be read ({error})"
                else:
                    if len(data) != record.bytes:
                        problem = f"has {len(data)} bytes, the manifest says {record.bytes}"
                    elif checksum(data) != record.checksum:
                        problem = f"is corrupt (checksum {checksum(data)}, the manifest says {record.checksum})"
                    else:
                        return data, tier.uri
            tried.append(tier.uri)
            self._emit("fallback_tier", f"step {candidate.step}: shard of rank {rank} on {tier.uri} {problem}; "
                       "trying the next tier", candidate.step, tier.uri,
                       {"checkpoint": candidate.checkpoint, "rank": rank, "problem": problem})
        raise ShardUnavailableError(f"no valid copy of rank {rank}'s shard"
                                    + (f" (tried {', '.join(tried)})" if tried else ""))

    def _emit(self, kind: str, message: str, step: int | None, tier: str | None, data: dict[str, Any]) -> None:
        event = CheckpointEvent(kind, message, step, tier, data)
        self._events.append(event)
        try:
            self._sink(event)
        except Exception:
            return
