"""Blob stores on filesystems: ``LocalDirStore`` (``file://``) and ``FsspecStore`` (``s3://`` and co.).

``LocalDirStore`` writes straight through the OS: each ``put`` goes to a hidden temporary file
in the target directory, is ``fsync``-ed, renamed over the key (atomic on POSIX) and the
directory is ``fsync``-ed, so a crash leaves either the old value, the new one, or an orphaned
temporary file that ``list`` ignores and ``delete_prefix``/GC removes. Writing in large chunks
from a ``memoryview`` keeps it at the disk's sequential bandwidth. ``capacity_bytes`` optionally
caps what the store may hold (a local-disk budget); going over raises ``ENOSPC`` like a full disk.

``FsspecStore`` serves every other fsspec URL (``s3://bucket/prefix`` through s3fs; ``gs://``,
``az://``/``abfs://`` through their drivers when installed). Object stores make a single PUT (or a
completed multipart upload) visible atomically, so ``put`` is one ``pipe_file``. Listing caches
are bypassed so a reader sees commits made by other processes.
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from controlplane.checkpoints.blobstore import BlobNotFoundError, BlobStoreError, check_key, check_prefix

TEMP_MARKER = ".tmp-"
WRITE_CHUNK_BYTES = 64 << 20


class LocalDirStore:
    """Blobs as files under ``root`` (created on first write)."""

    def __init__(self, root: str | Path, *, capacity_bytes: int | None = None, fsync: bool = True) -> None:
        self.root = Path(root)
        self._capacity = capacity_bytes
        self._fsync = fsync

    @property
    def location(self) -> str:
        return f"file://{self.root}"

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        target = self._path(key)
        view = memoryview(data).cast("B")
        if self._capacity is not None:
            used = self.used_bytes() - (self.size(key) or 0)
            if used + view.nbytes > self._capacity:
                raise OSError(errno.ENOSPC, f"no space left in {self.location} "
                                            f"({used + view.nbytes} bytes needed, {self._capacity} allowed)")
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}{TEMP_MARKER}{uuid.uuid4().hex[:12]}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            try:
                offset = 0
                while offset < view.nbytes:
                    offset += os.write(descriptor, view[offset:offset + WRITE_CHUNK_BYTES])
                if self._fsync:
                    os.fsync(descriptor)
            finally:
                os.close(descriptor)
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        if self._fsync:
            _fsync_directory(target.parent)

    def get(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        try:
            with open(self._path(key), "rb") as handle:
                if start:
                    handle.seek(start)
                return handle.read() if end is None else handle.read(max(0, end - start))
        except FileNotFoundError:
            raise BlobNotFoundError(key) from None
        except IsADirectoryError:
            raise BlobNotFoundError(key) from None

    def size(self, key: str) -> int | None:
        try:
            path = self._path(key)
            return path.stat().st_size if path.is_file() else None
        except FileNotFoundError:
            return None

    def list(self, prefix: str = "") -> list[str]:
        base = self.root / check_prefix(prefix) if prefix else self.root
        if not base.is_dir():
            return []
        keys = []
        for directory, _, files in os.walk(base):
            for name in files:
                if TEMP_MARKER not in name:
                    keys.append(Path(directory, name).relative_to(self.root).as_posix())
        return sorted(keys)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        if not prefix:
            raise ValueError("refusing to delete the whole store; name a prefix")
        shutil.rmtree(self.root / check_prefix(prefix), ignore_errors=True)

    def used_bytes(self) -> int:
        total = 0
        for directory, _, files in os.walk(self.root):
            for name in files:
                try:
                    total += os.stat(os.path.join(directory, name)).st_size
                except FileNotFoundError:
                    continue
        return total


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class FsspecStore:
    """Blobs under ``url`` on any fsspec filesystem (object stores first of all)."""

    def __init__(self, url: str, storage_options: Mapping[str, Any] | None = None,
                 filesystem: Any | None = None) -> None:
        import fsspec  # imported here: the in-memory and local tiers work without it

        self.url = url.rstrip("/")
        protocol, _, rest = self.url.partition("://")
        self._root = rest
        options = dict(storage_options or {})
        options.setdefault("use_listings_cache", False)
        self._fs = filesystem if filesystem is not None else fsspec.filesystem(protocol, **options)

    @property
    def location(self) -> str:
        return self.url

    def _path(self, key: str) -> str:
        return f"{self._root}/{check_key(key)}"

    def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        path = self._path(key)
        try:
            self._fs.pipe_file(path, bytes(data) if not isinstance(data, bytes) else data)
        except OSError:
            raise
        except Exception as error:  # a driver error (botocore, aiohttp) becomes the medium's failure
            raise BlobStoreError(f"writing {key!r} to {self.url} failed: {error}") from error

    def get(self, key: str, start: int = 0, end: int | None = None) -> bytes:
        path = self._path(key)
        try:
            if start == 0 and end is None:
                data: bytes = self._fs.cat_file(path)
            else:
                size = self.size(key)
                if size is None:
                    raise BlobNotFoundError(key)
                stop = size if end is None else min(end, size)
                data = self._fs.cat_file(path, start=start, end=stop) if stop > start else b""
            return data
        except FileNotFoundError:
            raise BlobNotFoundError(key) from None
        except BlobStoreError:
            raise
        except Exception as error:
            raise BlobStoreError(f"reading {key!r} from {self.url} failed: {error}") from error

    def size(self, key: str) -> int | None:
        path = self._path(key)
        try:
            info = self._fs.info(path)
        except FileNotFoundError:
            return None
        except Exception as error:
            raise BlobStoreError(f"looking up {key!r} in {self.url} failed: {error}") from error
        return int(info["size"]) if info.get("type") == "file" else None

    def list(self, prefix: str = "") -> list[str]:
        base = f"{self._root}/{check_prefix(prefix)}".rstrip("/")
        try:
            self._fs.invalidate_cache()
            found = self._fs.find(base, detail=True)
        except FileNotFoundError:
            return []
        except Exception as error:
            raise BlobStoreError(f"listing {prefix!r} in {self.url} failed: {error}") from error
        strip = len(self._root) + 1
        return sorted(path[strip:] for path, info in found.items()  # directory markers are not blobs
                      if info.get("type") == "file" and path.startswith(self._root + "/") and path != base
                      and not path.endswith("/"))

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            self._fs.rm_file(path)
        except FileNotFoundError:
            return
        except Exception as error:
            raise BlobStoreError(f"deleting {key!r} from {self.url} failed: {error}") from error

    def delete_prefix(self, prefix: str) -> None:
        if not prefix:
            raise ValueError("refusing to delete the whole store; name a prefix")
        for key in self.list(prefix):
            self.delete(key)
