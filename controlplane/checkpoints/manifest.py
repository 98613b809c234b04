"""Manifests: what a committed checkpoint is, and where its pieces live in a store.

Vocabulary:
- *checkpoint id*: ``step-<step, 10 digits>-<attempt tag>``. The tag (8 hex digits of a hash of
  the attempt id) keeps two attempts that save the same step from ever writing the same keys.
- *shard*: one rank's bytes (``serialization``), at ``<id>/shard-<rank>.bin``.
- *rank record*: ``<id>/rank-<rank>.json``, written by a rank after its shard on a tier: the
  shard's size, CRC-32 checksum, the store location that holds it and the rank's coordinates.
- *manifest*: ``<id>/manifest.json``, written by the coordinator (global rank 0) once every rank's
  record is visible on that tier. **A checkpoint exists on a tier exactly when its manifest
  does**: the manifest is written last, with an atomic put, and lists every shard with its size
  and checksum, so a reader never mistakes a torn checkpoint for a whole one.

Keys are relative to a tier's root (``<tier>/<job>/`` for memory and peer tiers, the tier URI
itself for shared tiers).
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

FORMAT = "suanli.checkpoint/v1"
MANIFEST_NAME = "manifest.json"


def attempt_tag(attempt_id: str | None) -> str:
    """8 hex digits naming the attempt in checkpoint ids (``local`` when unmanaged)."""
    return hashlib.sha256((attempt_id or "local").encode()).hexdigest()[:8]


def checkpoint_id(step: int, attempt_id: str | None) -> str:
    if step < 0:
        raise ValueError(f"checkpoint step must be >= 0 (got {step})")
    return f"step-{step:010d}-{attempt_tag(attempt_id)}"


def step_of(checkpoint: str) -> int | None:
    """The step of a checkpoint id, or ``None`` if the name is not one."""
    parts = checkpoint.split("-")
    if len(parts) != 3 or parts[0] != "step" or not parts[1].isdigit():
        return None
    return int(parts[1])


def shard_key(checkpoint: str, rank: int) -> str:
    return f"{checkpoint}/shard-{rank:05d}.bin"


def rank_record_key(checkpoint: str, rank: int) -> str:
    return f"{checkpoint}/rank-{rank:05d}.json"


def manifest_key(checkpoint: str) -> str:
    return f"{checkpoint}/{MANIFEST_NAME}"


def checksum(data: bytes | bytearray | memoryview) -> str:
    """``crc32:<8 hex digits>`` of ``data`` (zlib's CRC-32, several GB/s, releases the GIL)."""
    return f"crc32:{zlib.crc32(data) & 0xFFFFFFFF:08x}"


@dataclass(frozen=True, slots=True)
class ShardRecord:
    """One rank's shard on one tier; also the content of its rank record."""

    rank: int
    key: str
    bytes: int
    checksum: str
    location: str
    """The store holding the shard: a node name on memory/peer tiers, ``""`` on shared tiers."""
    coordinates: Mapping[str, int] = field(default_factory=dict)
    node: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"rank": self.rank, "key": self.key, "bytes": self.bytes, "checksum": self.checksum,
                "location": self.location, "coordinates": dict(self.coordinates), "node": self.node}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ShardRecord:
        return cls(rank=int(data["rank"]), key=str(data["key"]), bytes=int(data["bytes"]),
                   checksum=str(data["checksum"]), location=str(data.get("location") or ""),
                   coordinates={str(k): int(v) for k, v in (data.get("coordinates") or {}).items()},
                   node=data.get("node"))


@dataclass(frozen=True, slots=True)
class Manifest:
    """A committed checkpoint on one tier."""

    job_id: str | None
    attempt_id: str | None
    step: int
    checkpoint: str
    world_size: int
    group_sizes: Mapping[str, int]
    shards: tuple[ShardRecord, ...]
    tier: str
    created_at: float
    snapshot_s: float | None = None
    persist_s: float | None = None
    tiers: tuple[str, ...] = ()
    """Every tier of the policy that wrote this checkpoint (it may be committed on fewer)."""

    @property
    def total_bytes(self) -> int:
        return sum(shard.bytes for shard in self.shards)

    def shard(self, rank: int) -> ShardRecord | None:
        return next((shard for shard in self.shards if shard.rank == rank), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "jobId": self.job_id, "attemptId": self.attempt_id, "step": self.step,
            "checkpoint": self.checkpoint, "worldSize": self.world_size, "groupSizes": dict(self.group_sizes),
            "shards": [shard.to_json() for shard in self.shards], "tier": self.tier,
            "createdAt": self.created_at, "snapshotS": self.snapshot_s, "persistS": self.persist_s,
            "tiers": list(self.tiers), "bytes": self.total_bytes,
        }

    def encode(self) -> bytes:
        return json.dumps(self.to_json(), indent=1, sort_keys=True).encode()

    @classmethod
    def decode(cls, data: bytes | bytearray) -> Manifest:
        """Parse a manifest; ``ValueError`` if it is not a whole, known-format manifest."""
        try:
            raw = json.loads(bytes(data))
        except ValueError as error:
            raise ValueError(f"manifest is not valid JSON: {error}") from None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} manifest")
        shards = tuple(ShardRecord.from_json(item) for item in raw["shards"])
        manifest = cls(
            job_id=raw.get("jobId"), attempt_id=raw.get("attemptId"), step=int(raw["step"]),
            checkpoint=str(raw["checkpoint"]), world_size=int(raw["worldSize"]),
            group_sizes={str(k): int(v) for k, v in (raw.get("groupSizes") or {}).items()},
            shards=shards, tier=str(raw.get("tier") or ""), created_at=float(raw["createdAt"]),
            snapshot_s=raw.get("snapshotS"), persist_s=raw.get("persistS"),
            tiers=tuple(raw.get("tiers") or ()),
        )
        if sorted(shard.rank for shard in shards) != list(range(manifest.world_size)):
            raise ValueError(f"manifest of {manifest.checkpoint} does not list one shard per rank")
        return manifest


def build_manifest(*, job_id: str | None, attempt_id: str | None, step: int, world_size: int,
                   group_sizes: Mapping[str, int], records: Sequence[ShardRecord], tier: str,
                   created_at: float, snapshot_s: float | None, persist_s: float | None,
                   tiers: Sequence[str]) -> Manifest:
    """The manifest of ``records`` (one per rank, any order)."""
    ordered = tuple(sorted(records, key=lambda record: record.rank))
    if [record.rank for record in ordered] != list(range(world_size)):
        raise ValueError(f"need one record per rank 0..{world_size - 1}, got ranks "
                         f"{[record.rank for record in ordered]}")
    return Manifest(job_id=job_id, attempt_id=attempt_id, step=step, checkpoint=checkpoint_id(step, attempt_id),
                    world_size=world_size, group_sizes=dict(group_sizes), shards=ordered, tier=tier,
                    created_at=created_at, snapshot_s=snapshot_s, persist_s=persist_s, tiers=tuple(tiers))
