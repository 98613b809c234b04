"""Tiers: a checkpoint policy's URIs turned into the blob stores one rank writes to and reads from.

=========  ==================================================================================
kind       stores
=========  ==================================================================================
memory     host RAM of the rank's node: the node's store (``NodeStores``), keys under
           ``memory/<job>/``. Survives the training process, not the node.
peer       host RAM of the peer node the control plane chose for this rank's node
           (``SUANLI_CHECKPOINT_PEER``), keys under ``peer/<job>/``. Survives the rank's node.
file       ``file:///path``: a local or shared filesystem directory (``LocalDirStore``).
object     every other fsspec URL (``s3://bucket/prefix``, ``gs://``, ``az://``, ``abfs://``).
=========  ==================================================================================

Memory and peer tiers span several stores (one per node), so a shard record names the store
(*location*) that holds the shard, and readers look for manifests in every node store they can
reach. Shared tiers have one store and the location ``""``.

``NodeStores`` is how a process reaches per-node host-memory stores: ``ray_store.RayNodeStores``
(one actor per node) under Ray, ``InProcessNodeStores`` otherwise (and in tests, where one
process plays several nodes).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from controlplane.checkpoints.blobstore import BlobStore, InProcessMemoryStore
from controlplane.checkpoints.file_stores import FsspecStore, LocalDirStore


class TierKind(StrEnum):
    MEMORY = "memory"
    PEER = "peer"
    FILE = "file"
    OBJECT = "object"


#: Default read/write order when nothing has been measured yet: fastest first.
DEFAULT_SPEED_ORDER = {TierKind.MEMORY: 0, TierKind.PEER: 1, TierKind.FILE: 2, TierKind.OBJECT: 3}
#: Starting bandwidth estimates (bytes/s) for bandwidth-aware ordering, replaced by measurements.
DEFAULT_BANDWIDTH = {TierKind.MEMORY: 4e9, TierKind.PEER: 1e9, TierKind.FILE: 5e8, TierKind.OBJECT: 1e8}


class NodeStores(Protocol):
    """Per-node host-memory stores."""

    def store(self, node: str) -> BlobStore:
        """The store of ``node``, created if needed (writers)."""
        ...

    def existing(self) -> dict[str, BlobStore]:
        """Every node store that exists and is reachable now, by node name (readers)."""
        ...


class InProcessNodeStores:
    """Node stores as dicts in this process; one process can play several nodes."""

    def __init__(self, capacity_bytes: int | None = None) -> None:
        self._stores: dict[str, InProcessMemoryStore] = {}
        self._lock = threading.Lock()
        self._capacity = capacity_bytes

    def store(self, node: str) -> BlobStore:
        with self._lock:
            if node not in self._stores:
                self._stores[node] = InProcessMemoryStore(node, capacity_bytes=self._capacity)
            return self._stores[node]

    def existing(self) -> dict[str, BlobStore]:
        with self._lock:
            return dict(self._stores)

    def lose(self, node: str) -> None:
        """Forget ``node``'s store, as if the node went away."""
        with self._lock:
            self._stores.pop(node, None)


def tier_kind(uri: str) -> TierKind:
    scheme = uri.partition("://")[0].lower()
    if scheme in ("memory", "peer", "file"):
        return TierKind(scheme)
    return TierKind.OBJECT


def _job_key(job_id: str | None) -> str:
    text = (job_id or "local").replace("/", "_")
    return text or "local"


@dataclass
class Tier:
    """One tier as seen by one rank."""

    uri: str
    kind: TierKind
    prefix: str
    write_store: BlobStore | None
    """Where this rank writes; ``None`` when the tier is unavailable here (e.g. no peer node)."""
    write_location: str
    _readers: Callable[[], dict[str, BlobStore]] = field(repr=False)
    unavailable_reason: str | None = None

    @property
    def durable(self) -> bool:
        """Survives the loss of the node that wrote it."""
        return self.kind is not TierKind.MEMORY

    @property
    def shared(self) -> bool:
        return self.kind in (TierKind.FILE, TierKind.OBJECT)

    def key(self, relative: str) -> str:
        return f"{self.prefix}{relative}"

    def relative(self, key: str) -> str:
        return key[len(self.prefix):] if key.startswith(self.prefix) else key

    def checkpoint_uri(self, checkpoint: str) -> str:
        """Where a checkpoint lives, for reports: ``memory://<job>/<id>`` or ``<tier URI>/<id>``."""
        if self.shared:
            return f"{self.uri.rstrip('/')}/{checkpoint}"
        return f"{self.kind.value}://{self.prefix.split('/', 1)[1]}{checkpoint}"

    def readers(self) -> dict[str, BlobStore]:
        """Every store of this tier reachable now, by location."""
        return self._readers()

    def reader(self, location: str) -> BlobStore | None:
        return self.readers().get(location)


def build_tier(uri: str, *, job_id: str | None, node: str | None, peer_node: str | None,
               node_stores: NodeStores | None, storage_options: Mapping[str, Mapping[str, Any]] | None = None,
               local_capacity_bytes: int | None = None) -> Tier:
    """The tier ``uri`` for a rank on ``node`` (peer ``peer_node``)."""
    kind = tier_kind(uri)
    if kind in (TierKind.MEMORY, TierKind.PEER):
        prefix = f"{kind.value}/{_job_key(job_id)}/"
        if node_stores is None:
            return Tier(uri, kind, prefix, None, "", dict, "no host-memory store is reachable from this process")
        target = (node or "local") if kind is TierKind.MEMORY else peer_node
        reason = None
        if target is None:
            reason = "no peer node was assigned (SUANLI_CHECKPOINT_PEER is not set)"
        elif kind is TierKind.PEER and target == node:
            target, reason = None, f"the peer node {peer_node} is this rank's own node"
        write = node_stores.store(target) if target is not None else None
        return Tier(uri, kind, prefix, write, target or "", node_stores.existing, reason)
    # Durable tiers keep each job under its own folder, so jobs sharing a bucket or a directory
    # never see (or restore) each other's checkpoints.
    job_uri = f"{uri.rstrip('/')}/{_job_key(job_id)}"
    if kind is TierKind.FILE:
        path = job_uri.partition("://")[2]
        store: BlobStore = LocalDirStore(path, capacity_bytes=local_capacity_bytes)
    else:
        scheme = uri.partition("://")[0].lower()
        store = FsspecStore(job_uri, (storage_options or {}).get(scheme))
    return Tier(uri, kind, "", store, "", lambda: {"": store})


def build_tiers(uris: Sequence[str], **options: Any) -> list[Tier]:
    """Every tier of a policy, in the policy's order."""
    return [build_tier(uri, **options) for uri in uris]
