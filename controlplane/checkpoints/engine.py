"""``CheckpointEngine``: one rank's checkpoints, snapshot then persist, with atomic commits per tier.

``checkpoint(state, step)`` is the only call that blocks training: it lays the state out
(``serialization.plan_shard``) and copies it into a reusable host-memory buffer (at most
``buffers`` of them; a third checkpoint waits for the oldest persist to finish). It returns a
``CheckpointHandle`` at once. A persist thread then writes the snapshot through the tiers: for
each tier, the shard (``<id>/shard-<rank>.bin``) and then the rank record (size, CRC-32, location,
coordinates). The CRC is computed on a helper thread while the first tier is being written.

Tiers are written fastest first by *measured* bandwidth (bytes per second of past writes,
smoothed; the policy's order until measured), so a checkpoint is safe in RAM within
milliseconds and on slower, more durable tiers as soon as they can take it. A failing tier is
reported (``tier_failed``) and skipped; the others go on.

The coordinator (global rank 0) also runs a commit thread: for each tier, once every rank's
record is visible there, it writes the manifest (the commit point), reports the commit
(``CommitReport``), applies retention (``keep_last``) and collects orphans. A tier where some rank's
record does not appear within ``commit_timeout_s`` is not committed.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from controlplane.checkpoints import catalog
from controlplane.checkpoints.blobstore import BlobNotFoundError
from controlplane.checkpoints.events import CheckpointEvent, CommitReport, EventSink, RankIdentity, log_event
from controlplane.checkpoints.manifest import (
    ShardRecord,
    build_manifest,
    checkpoint_id,
    checksum,
    manifest_key,
    rank_record_key,
    shard_key,
)
from controlplane.checkpoints.serialization import plan_shard, snapshot_into
from controlplane.checkpoints.tiers import DEFAULT_BANDWIDTH, Tier

BUFFER_ROUNDING = 1 << 20
BANDWIDTH_SMOOTHING = 0.5
MEASURABLE_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class EngineOptions:
    keep_last: int = 3
    keep_last_by_tier: Mapping[str, int] = field(default_factory=dict)
    buffers: int = 2
    commit_timeout_s: float = 600.0
    poll_interval_s: float = 0.005
    collect_garbage: bool = True


@dataclass(frozen=True, slots=True)
class TierOutcome:
    tier: str
    state: str  # "written", "committed", "failed", "skipped"
    seconds: float = 0.0
    bytes: int = 0
    error: str | None = None
    finished_at: float = field(default_factory=time.perf_counter)
    """``time.perf_counter()`` when this outcome was reached (e.g. the commit)."""


class CheckpointHandle:
    """A checkpoint in flight: ``wait()`` for it, then look at ``outcomes``."""

    def __init__(self, step: int, checkpoint: str, size: int, snapshot_s: float) -> None:
        self.step = step
        self.checkpoint = checkpoint
        self.bytes = size
        self.snapshot_s = snapshot_s
        self.outcomes: dict[str, TierOutcome] = {}
        self.snapshot_done_at = time.perf_counter()
        """``time.perf_counter()`` when the snapshot ended and the persist began."""
        self.done_at: float | None = None
        """``time.perf_counter()`` when the last tier was written (and committed, on the coordinator)."""
        self._done = threading.Event()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"CheckpointHandle(step={self.step}, done={self.done()}, committed={self.committed_tiers})"

    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """True once every tier was written (and, on the coordinator, committed or given up)."""
        return self._done.wait(timeout)

    @property
    def committed_tiers(self) -> list[str]:
        with self._lock:
            return [uri for uri, outcome in self.outcomes.items() if outcome.state == "committed"]

    def _finish(self) -> None:
        with self._lock:
            if self.done_at is None:
                self.done_at = time.perf_counter()
        self._done.set()

    def _record(self, outcome: TierOutcome) -> None:
        with self._lock:
            self.outcomes[outcome.tier] = outcome


@dataclass
class _Snapshot:
    handle: CheckpointHandle
    data: memoryview
    buffer_index: int
    finished_at: float
    checksum: Future[str] | None = None
    pending_commits: int = 0


class _BufferPool:
    """Up to ``limit`` reusable uint8 buffers; ``acquire`` blocks while all are in use."""

    def __init__(self, limit: int) -> None:
        self._buffers: list[np.ndarray] = []
        self._busy: list[bool] = []
        self._limit = max(1, limit)
        self._available = threading.Condition()

    def acquire(self, size: int) -> tuple[int, np.ndarray]:
        with self._available:
            while True:
                free = [index for index, busy in enumerate(self._busy) if not busy]
                fitting = [index for index in free if self._buffers[index].size >= size]
                if fitting:
                    index = fitting[0]
                elif len(self._buffers) < self._limit:
                    self._buffers.append(np.empty(0, dtype=np.uint8))
                    self._busy.append(False)
                    index = len(self._buffers) - 1
                elif free:
                    index = free[0]
                else:
                    self._available.wait()
                    continue
                if self._buffers[index].size < size:
                    rounded = (size + BUFFER_ROUNDING - 1) // BUFFER_ROUNDING * BUFFER_ROUNDING
                    self._buffers[index] = np.empty(rounded, dtype=np.uint8)
                self._busy[index] = True
                return index, self._buffers[index]

    def release(self, index: int) -> None:
        with self._available:
            self._busy[index] = False
            self._available.notify_all()


class CheckpointEngine:
    """Checkpoints of one rank; see the module docstring."""

    def __init__(self, identity: RankIdentity, tiers: Sequence[Tier], *, options: EngineOptions | None = None,
                 events: EventSink = log_event, reporter: Callable[[CommitReport], None] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        if not tiers:
            raise ValueError("a checkpoint engine needs at least one tier")
        self.identity = identity
        self.tiers = list(tiers)
        self.options = options or EngineOptions()
        self._events = events
        self._reporter = reporter
        self._clock = clock
        self._pool = _BufferPool(self.options.buffers)
        self._bandwidth = {tier.uri: DEFAULT_BANDWIDTH[tier.kind] for tier in self.tiers}
        self._measured: set[str] = set()
        self._persist_queue: queue.Queue[_Snapshot | None] = queue.Queue()
        self._commit_queue: queue.Queue[tuple[_Snapshot, Tier] | None] = queue.Queue()
        self._checksums = ThreadPoolExecutor(1, thread_name_prefix="suanli-ckpt-crc")
        self._pending: list[CheckpointHandle] = []
        self._lock = threading.Lock()
        self._closed = False
        for tier in self.tiers:
            if tier.write_store is None:
                self._emit("tier_unavailable", f"{tier.uri}: {tier.unavailable_reason}", tier=tier.uri)
        self._persister = threading.Thread(target=self._persist_loop, name="suanli-ckpt-persist", daemon=True)
        self._persister.start()
        self._committer: threading.Thread | None = None
        if identity.coordinator:
            self._committer = threading.Thread(target=self._commit_loop, name="suanli-ckpt-commit", daemon=True)
            self._committer.start()

    # -- the blocking part ------------------------------------------------------------------------
    def checkpoint(self, state: Any, step: int) -> CheckpointHandle:
        """Snapshot ``state`` as of ``step`` into host memory and persist it in the background."""
        if self._closed:
            raise RuntimeError("the checkpoint engine is closed")
        started = time.perf_counter()
        plan = plan_shard(state)
        index, buffer = self._pool.acquire(plan.total_bytes)
        try:
            data = snapshot_into(plan, buffer)
        except BaseException:
            self._pool.release(index)
            raise
        snapshot_s = time.perf_counter() - started
        handle = CheckpointHandle(step, checkpoint_id(step, self.identity.attempt_id), data.nbytes, snapshot_s)
        self._emit("snapshot", f"step {step}: {data.nbytes} bytes in {snapshot_s * 1e3:.1f} ms", step=step,
                   data={"bytes": data.nbytes, "seconds": snapshot_s})
        with self._lock:
            self._pending = [item for item in self._pending if not item.done()] + [handle]
        self._persist_queue.put(_Snapshot(handle, data, index, time.perf_counter()))
        return handle

    def reserve(self, state: Any) -> None:
        """Allocate and touch a snapshot buffer for ``state``'s size now, off the training path."""
        plan = plan_shard(state)
        index, buffer = self._pool.acquire(plan.total_bytes)
        buffer[: plan.total_bytes].fill(0)
        self._pool.release(index)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every checkpoint taken so far is persisted (and committed, on the coordinator)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            pending = list(self._pending)
        for handle in pending:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not handle.wait(left):
                return False
        return True

    def close(self, timeout: float | None = None) -> bool:
        """Finish pending work (up to ``timeout``) and stop the threads."""
        finished = self.wait(timeout)
        self._closed = True
        self._persist_queue.put(None)
        self._persister.join(timeout)
        if self._committer is not None:
            self._commit_queue.put(None)
            self._committer.join(timeout)
        self._checksums.shutdown(wait=False)
        return finished

    def bandwidth(self) -> dict[str, float]:
        """Smoothed write bandwidth per tier (bytes/s): measured, or the starting estimate."""
        return dict(self._bandwidth)

    def write_order(self) -> list[Tier]:
        """Tiers in the order a persist writes them: highest bandwidth first, policy order on ties."""
        ranked = sorted(enumerate(self.tiers), key=lambda item: (-self._bandwidth[item[1].uri], item[0]))
        return [tier for _, tier in ranked]

    # -- persist thread ---------------------------------------------------------------------------
    def _persist_loop(self) -> None:
        while True:
            snapshot = self._persist_queue.get()
            if snapshot is None:
                return
            try:
                self._persist(snapshot)
            finally:
                self._finish_persist(snapshot)

    def _persist(self, snapshot: _Snapshot) -> None:
        handle = snapshot.handle
        snapshot.checksum = self._checksums.submit(checksum, snapshot.data)
        for tier in self.write_order():
            if tier.write_store is None:
                handle._record(TierOutcome(tier.uri, "skipped", error=tier.unavailable_reason))
                continue
            started = time.perf_counter()
            try:
                store = tier.write_store
                store.put(tier.key(shard_key(handle.checkpoint, self.identity.rank)), snapshot.data)
                record = ShardRecord(rank=self.identity.rank, key=shard_key(handle.checkpoint, self.identity.rank),
                                     bytes=snapshot.data.nbytes, checksum=snapshot.checksum.result(),
                                     location=tier.write_location, coordinates=dict(self.identity.coordinates),
                                     node=self.identity.node)
                store.put(tier.key(rank_record_key(handle.checkpoint, self.identity.rank)),
                          _record_bytes(record))
            except Exception as error:
                handle._record(TierOutcome(tier.uri, "failed", time.perf_counter() - started, error=str(error)))
                self._emit("tier_failed", f"step {handle.step}: writing to {tier.uri} failed: {error}",
                           step=handle.step, tier=tier.uri, data={"error": str(error)})
                continue
            seconds = time.perf_counter() - started
            self.record_bandwidth(tier.uri, snapshot.data.nbytes, seconds)
            handle._record(TierOutcome(tier.uri, "written", seconds, snapshot.data.nbytes))
            self._emit("written", f"step {handle.step}: {snapshot.data.nbytes} bytes on {tier.uri} in "
                       f"{seconds * 1e3:.1f} ms", step=handle.step, tier=tier.uri,
                       data={"bytes": snapshot.data.nbytes, "seconds": seconds})
            if self.identity.coordinator:
                with self._lock:
                    snapshot.pending_commits += 1
                self._commit_queue.put((snapshot, tier))

    def _finish_persist(self, snapshot: _Snapshot) -> None:
        if snapshot.checksum is not None:
            snapshot.checksum.exception()  # never reuse the buffer while the CRC still reads it
        self._pool.release(snapshot.buffer_index)
        with self._lock:
            done = snapshot.pending_commits == 0
        if done:
            snapshot.handle._finish()

    def record_bandwidth(self, tier_uri: str, size: int, seconds: float) -> None:
        """Fold a write of ``size`` bytes in ``seconds`` into the tier's bandwidth estimate."""
        if seconds <= 0 or size < MEASURABLE_BYTES:
            return  # too small to say anything about bandwidth
        observed = size / seconds
        previous = self._bandwidth[tier_uri]
        self._bandwidth[tier_uri] = observed if tier_uri not in self._measured else (
            BANDWIDTH_SMOOTHING * observed + (1 - BANDWIDTH_SMOOTHING) * previous)
        self._measured.add(tier_uri)

    # -- commit thread (coordinator) --------------------------------------------------------------
    def _commit_loop(self) -> None:
        while True:
            item = self._commit_queue.get()
            if item is None:
                return
            snapshot, tier = item
            try:
                self._commit(snapshot, tier)
            finally:
                with self._lock:
                    snapshot.pending_commits -= 1
                    done = snapshot.pending_commits == 0
                if done and self._persist_finished(snapshot):
                    snapshot.handle._finish()

    def _persist_finished(self, snapshot: _Snapshot) -> bool:
        handle = snapshot.handle
        with handle._lock:
            return len(handle.outcomes) == len(self.tiers)

    def _commit(self, snapshot: _Snapshot, tier: Tier) -> None:
        handle = snapshot.handle
        started = time.perf_counter()
        try:
            records = self._await_records(tier, handle)
            if records is None:
                raise TimeoutError(f"not every rank wrote step {handle.step} to {tier.uri} within "
                                   f"{self.options.commit_timeout_s:.0f}s")
            persist_s = time.perf_counter() - snapshot.finished_at
            manifest = build_manifest(
                job_id=self.identity.job_id, attempt_id=self.identity.attempt_id, step=handle.step,
                world_size=self.identity.world_size, group_sizes=self.identity.group_sizes, records=records,
                tier=tier.uri, created_at=self._clock(), snapshot_s=handle.snapshot_s, persist_s=persist_s,
                tiers=[item.uri for item in self.tiers])
            self._put_manifest(tier, manifest.encode(), handle.checkpoint, records)
        except Exception as error:
            handle._record(TierOutcome(tier.uri, "failed", time.perf_counter() - started, error=str(error)))
            self._emit("tier_failed", f"step {handle.step}: committing on {tier.uri} failed: {error}",
                       step=handle.step, tier=tier.uri, data={"error": str(error)})
            return
        handle._record(TierOutcome(tier.uri, "committed", persist_s, manifest.total_bytes))
        self._emit("committed", f"step {handle.step} committed on {tier.uri} ({manifest.total_bytes} bytes, "
                   f"{persist_s * 1e3:.1f} ms after the snapshot)", step=handle.step, tier=tier.uri,
                   data={"bytes": manifest.total_bytes, "persistS": persist_s, "checkpoint": handle.checkpoint})
        if self._reporter is not None:
            uri = tier.checkpoint_uri(handle.checkpoint)
            try:
                self._reporter(CommitReport(handle.step, handle.checkpoint, tier.uri, uri, manifest.total_bytes,
                                            handle.snapshot_s, persist_s, self._clock(), manifest.world_size,
                                            self.identity.attempt_id))
            except Exception as error:  # reporting must never break checkpointing
                self._emit("tier_failed", f"reporting the commit on {tier.uri} failed: {error}", tier=tier.uri)
        self._housekeeping(tier, handle.step)

    def _put_manifest(self, tier: Tier, encoded: bytes, checkpoint: str, records: Sequence[ShardRecord]) -> None:
        """Commit: the manifest on the coordinator's store, then (memory and peer tiers) on every node
        store holding a shard, so losing one node does not lose the manifest of the others' shards."""
        assert tier.write_store is not None
        key = tier.key(manifest_key(checkpoint))
        tier.write_store.put(key, encoded)
        if tier.shared:
            return
        readers = tier.readers()
        for location in sorted({record.location for record in records} - {tier.write_location}):
            store = readers.get(location)
            if store is None:
                continue
            try:
                store.put(key, encoded)
            except OSError as error:
                self._emit("tier_failed", f"copying the manifest of {checkpoint} to {location} failed: {error}",
                           tier=tier.uri)

    def _await_records(self, tier: Tier, handle: CheckpointHandle) -> list[ShardRecord] | None:
        deadline = time.monotonic() + self.options.commit_timeout_s
        found: dict[int, ShardRecord] = {}
        while True:
            for store in tier.readers().values():
                for rank in range(self.identity.world_size):
                    if rank in found:
                        continue
                    try:
                        raw = store.get(tier.key(rank_record_key(handle.checkpoint, rank)))
                        found[rank] = ShardRecord.from_json(_json(raw))
                    except (BlobNotFoundError, ValueError):
                        continue
                    except OSError:
                        continue
            if len(found) == self.identity.world_size:
                return [found[rank] for rank in range(self.identity.world_size)]
            if time.monotonic() >= deadline:
                return None
            time.sleep(self.options.poll_interval_s)

    def _housekeeping(self, tier: Tier, step: int) -> None:
        keep = self.options.keep_last_by_tier.get(tier.uri, self.options.keep_last)
        try:
            removed = catalog.apply_retention(tier, keep)
            if removed:
                self._emit("retention", f"{tier.uri}: deleted {', '.join(removed)} (keeping the newest {keep})",
                           step=step, tier=tier.uri, data={"deleted": removed})
            if self.options.collect_garbage:
                orphans = catalog.collect_garbage(tier, self.identity.attempt_id)
                if orphans:
                    self._emit("gc", f"{tier.uri}: deleted orphaned {', '.join(orphans)}", step=step,
                               tier=tier.uri, data={"deleted": orphans})
        except Exception as error:
            self._emit("tier_failed", f"housekeeping on {tier.uri} failed: {error}", tier=tier.uri)

    def _emit(self, kind: str, message: str, *, step: int | None = None, tier: str | None = None,
              data: Mapping[str, Any] | None = None) -> None:
        try:
            self._events(CheckpointEvent(kind, message, step, tier, dict(data or {})))
        except Exception:  # an event sink must never break checkpointing
            return


def _record_bytes(record: ShardRecord) -> bytes:
    import json

    return json.dumps(record.to_json(), sort_keys=True).encode()


def _json(raw: bytes | bytearray) -> dict[str, Any]:
    import json

    loaded = json.loads(bytes(raw))
    if not isinstance(loaded, dict):
        raise ValueError("rank record is not an object")
    return loaded
