"""``BlobStore``: the one small interface every checkpoint tier implements, and its in-process form.

A blob store maps keys (``/``-separated relative paths such as
``job-1/step-0000000040-a1b2/shard-00003.bin``) to immutable byte strings. Its contract, checked
for every implementation by ``tests/contract/checkpoints``:

* ``put`` is **atomic**: a reader sees either the whole new value or nothing (or the previous
  value); never a prefix. Putting an existing key replaces it.
* ``get`` returns the bytes or raises ``BlobNotFoundError``; ``get(key, start, end)`` reads a
  byte range (``end`` exclusive, clipped to the size).
* ``list(prefix)`` returns every key under ``prefix`` (a directory-like prefix, ending in ``/``
  or empty), sorted; ``size`` is the length of a value or ``None`` when absent.
* ``delete`` of a missing key is a no-op; ``delete_prefix`` removes everything under a prefix.
* Failures of the medium (a full disk, an unreachable server) raise ``BlobStoreError`` (or an
  ``OSError``), never a partial write that later reads back as valid.

``InProcessMemoryStore`` keeps values in a dict in this process: the ``memory://`` tier outside
Ray, and the store behind each per-node Ray actor (``ray_store``).
"""

from __future__ import annotations

import threading
from typing import Protocol, runtime_checkable


class BlobStoreError(OSError):
    """The medium failed (unreachable, full, refused); nothing was written."""


class BlobNotFoundError(BlobStoreError, KeyError):
    """No value under the key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no blob {key!r}")
        self.key = key

    def __str__(self) -> str:
        return f"no blob {self.key!r}"


@runtime_checkable
class BlobStore(Protocol):
    """Keys to immutable bytes, with atomic puts; see the module docstring for the contract."""

    @property
    def location(self) -> str:
        """Where the bytes live, for humans and manifests (``memory://node-a``, ``s3://b/p``)."""
        ...

    def put(self, key: str, data: bytes | bytearray | memoryview) -> None: ...

    def get(self, key: str, start: int = 0, end: int | None = None) -> bytes: ...

    def size(self, key: str) -> int | None: ...

    def list(self, prefix: str = "") -> list[str]: ...

    def delete(self, key: str) -> None: ...

    def delete_prefix(self, prefix: str) -> None: ...


def check_key(key: str) -> str:
    """Refuse keys that could escape the store's root or name a directory."""
    if not key or key.startswith("/") or key.endswith("/") or any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError(f"invalid blob key {key!r}: use a relative path like 'job/step-1/shard-0.bin'")
    return key


def check_prefix(prefix: str) -> str:
    if prefix and not prefix.endswith("/"):
        raise ValueError(f"invalid blob prefix {prefix!r}: a prefix is empty or ends with '/'")
    if prefix:
        check_key(prefix.rstrip("/"))
    return prefix


class InProcessMemoryStore:
    """A thread-safe dict of immutable ``bytes``; ``capacity_bytes`` bounds what it holds."""

    def __init__(self, name: str = "local", *, capacity_bytes: int | None = None) -> None:
        self._name = name
        self._blobs: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._capacity = capacity_bytes

    @property
    def location(self) -> str:
        return f"memory://{self._name}"

    @property
    def used_bytes(self) -> int:
        with self._lock:
            return sum(len(value) for value in self._blobs.values())

    def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        check_key(key)
        value = bytes(data)
        with self._lock:
            if self._capacity is not None:
                used = sum(len(item) for name, item in self._blobs.items() if name != key)
                if used + len(value) > self._capacity:
                    raise BlobStoreError(f"{self.location} is full: {used + len(value)} bytes needed, "
                                         f"{self._capacity} available")
            self._blobs[key] = value

    def get(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        with self._lock:
            value = self._blobs.get(check_key(key))
        if value is None:
            raise BlobNotFoundError(key)
        return value if start == 0 and end is None else value[start:end]

    def size(self, key: str) -> int | None:
        with self._lock:
            value = self._blobs.get(check_key(key))
        return None if value is None else len(value)

    def list(self, prefix: str = "") -> list[str]:
        check_prefix(prefix)
        with self._lock:
            return sorted(key for key in self._blobs if key.startswith(prefix))

    def delete(self, key: str) -> None:
        with self._lock:
            self._blobs.pop(check_key(key), None)

    def delete_prefix(self, prefix: str) -> None:
        check_prefix(prefix)
        with self._lock:
            for key in [key for key in self._blobs if key.startswith(prefix)]:
                del self._blobs[key]
