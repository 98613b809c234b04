"""Host-memory checkpoint stores under Ray: one detached actor per node holding shard bytes.

``NodeMemoryStoreActor`` wraps an ``InProcessMemoryStore`` in a Ray actor pinned to its node by
the ``suanli.dev/node`` label, named ``ckpt-store-<node>`` in the ``suanli-checkpoints``
namespace and detached, so it outlives the training processes (a crashed rank's replacement reads
its state back from RAM) but not the node (its bytes go with it: that is what ``peer://`` is for).

``RayNodeStores`` implements ``tiers.NodeStores``: ``store(node)`` gets or creates a node's
actor, ``existing()`` finds the live ones by name. ``RayNodeStore`` is the ``BlobStore`` face of
one actor. Large values move in parts of ``PART_BYTES`` so no single Ray object exceeds a small
object store; a value becomes visible only when its last part is committed (atomic put). Every
call has a deadline; an actor on a dead node surfaces as ``BlobStoreError``.
"""

from __future__ import annotations

import uuid
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayError

from controlplane.checkpoints.blobstore import (
    BlobNotFoundError,
    BlobStore,
    BlobStoreError,
    InProcessMemoryStore,
    check_key,
    check_prefix,
)
from controlplane.runtime.cluster_definition import NODE_LABEL

NAMESPACE = "suanli-checkpoints"
NAME_PREFIX = "ckpt-store-"
PART_BYTES = 16 << 20
CALL_TIMEOUT_S = 60.0
CREATE_TIMEOUT_S = 30.0


class NodeMemoryStoreActor:
    """The node's store; see the module docstring."""

    def __init__(self, node: str, capacity_bytes: int | None = None) -> None:
        self._store = InProcessMemoryStore(node, capacity_bytes=capacity_bytes)
        self._parts: dict[str, dict[int, bytes]] = {}
        self._node = node

    def node(self) -> str:
        return self._node

    def put(self, key: str, data: bytes) -> None:
        self._store.put(key, data)

    def put_part(self, upload: str, index: int, data: bytes) -> None:
        self._parts.setdefault(upload, {})[index] = data

    def commit_parts(self, upload: str, key: str, count: int) -> None:
        parts = self._parts.pop(upload, {})
        if sorted(parts) != list(range(count)):
            raise BlobStoreError(f"upload of {key!r} is missing parts")
        self._store.put(key, b"".join(parts[index] for index in range(count)))

    def abort_parts(self, upload: str) -> None:
        self._parts.pop(upload, None)

    def get(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        return self._store.get(key, start, end)

    def size(self, key: str) -> int | None:
        return self._store.size(key)

    def list(self, prefix: str = "") -> list[str]:
        return self._store.list(prefix)

    def delete(self, key: str) -> None:
        self._store.delete(key)

    def delete_prefix(self, prefix: str) -> None:
        self._store.delete_prefix(prefix)

    def used_bytes(self) -> int:
        return self._store.used_bytes


def _call(reference: Any, what: str, timeout: float = CALL_TIMEOUT_S) -> Any:
    try:
        return ray.get(reference, timeout=timeout)
    except BlobNotFoundError:
        raise
    except RayActorError as error:
        raise BlobStoreError(f"{what}: the node's checkpoint store is gone ({type(error).__name__})") from error
    except GetTimeoutError as error:
        raise BlobStoreError(f"{what}: no answer from the node's checkpoint store in {timeout:.0f}s") from error
    except RayError as error:
        cause = getattr(error, "cause", None)
        if isinstance(cause, BlobNotFoundError):
            raise BlobNotFoundError(cause.key) from None
        if isinstance(cause, ValueError):
            raise ValueError(str(cause)) from None
        if isinstance(cause, BlobStoreError):
            raise BlobStoreError(str(cause)) from None
        raise BlobStoreError(f"{what}: {error}") from error


class RayNodeStore:
    """``BlobStore`` over one node's actor."""

    def __init__(self, node: str, handle: Any) -> None:
        self.node = node
        self._handle = handle

    @property
    def location(self) -> str:
        return f"memory://{self.node}"

    def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data).cast("B")
        what = f"put {check_key(key)!r} on {self.node}"
        if view.nbytes <= PART_BYTES:
            _call(self._handle.put.remote(key, view.tobytes()), what)
            return
        upload = uuid.uuid4().hex
        try:
            count = 0
            for start in range(0, view.nbytes, PART_BYTES):
                _call(self._handle.put_part.remote(upload, count, view[start:start + PART_BYTES].tobytes()), what)
                count += 1
            _call(self._handle.commit_parts.remote(upload, key, count), what)
        except BaseException:
            self._handle.abort_parts.remote(upload)
            raise

    def get(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        what = f"get {check_key(key)!r} from {self.node}"
        size = self.size(key)
        if size is None:
            raise BlobNotFoundError(key)
        stop = size if end is None else min(end, size)
        pieces = [_call(self._handle.get.remote(key, offset, min(offset + PART_BYTES, stop)), what)
                  for offset in range(start, stop, PART_BYTES)]
        return b"".join(pieces)

    def size(self, key: str) -> int | None:
        result: int | None = _call(self._handle.size.remote(check_key(key)), f"size of {key!r} on {self.node}")
        return result

    def list(self, prefix: str = "") -> list[str]:
        result: list[str] = _call(self._handle.list.remote(check_prefix(prefix)), f"list {prefix!r} on {self.node}")
        return result

    def delete(self, key: str) -> None:
        _call(self._handle.delete.remote(check_key(key)), f"delete {key!r} on {self.node}")

    def delete_prefix(self, prefix: str) -> None:
        _call(self._handle.delete_prefix.remote(check_prefix(prefix)), f"delete {prefix!r} on {self.node}")


class RayNodeStores:
    """Per-node store actors of the connected Ray cluster (``ray.init`` must have run)."""

    def __init__(self, *, capacity_bytes: int | None = None, namespace: str = NAMESPACE) -> None:
        self._capacity = capacity_bytes
        self._namespace = namespace
        self._handles: dict[str, Any] = {}

    def store(self, node: str) -> RayNodeStore:
        handle = self._handles.get(node)
        if handle is None:
            actor: Any = ray.remote(NodeMemoryStoreActor)
            actor = actor.options(
                name=f"{NAME_PREFIX}{node}", namespace=self._namespace, lifetime="detached",
                get_if_exists=True, num_cpus=0, label_selector={NODE_LABEL: node}, max_concurrency=8,
            )
            handle = actor.remote(node, self._capacity)
            _call(handle.node.remote(), f"start the checkpoint store of {node}", CREATE_TIMEOUT_S)
            self._handles[node] = handle
        return RayNodeStore(node, handle)

    def existing(self) -> dict[str, BlobStore]:
        found: dict[str, BlobStore] = {}
        for entry in ray.util.list_named_actors(all_namespaces=True):
            if entry.get("namespace") != self._namespace or not str(entry.get("name", "")).startswith(NAME_PREFIX):
                continue
            node = str(entry["name"])[len(NAME_PREFIX):]
            try:
                handle = self._handles.get(node) or ray.get_actor(str(entry["name"]), namespace=self._namespace)
            except ValueError:
                continue
            self._handles[node] = handle
            found[node] = RayNodeStore(node, handle)
        return found

    def remove(self, node: str) -> None:
        """Kill ``node``'s store actor (its bytes are lost), e.g. to free memory or in tests."""
        try:
            handle = self._handles.pop(node, None) or ray.get_actor(f"{NAME_PREFIX}{node}", namespace=self._namespace)
        except ValueError:
            return
        ray.kill(handle)
