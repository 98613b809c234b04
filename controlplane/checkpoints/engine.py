"""``CheckpointEngine``: one rank's checkpoints, snapshot then persist, with atomic commits per tier.

``checkpoint(state, step)`` is the only call that blocks training: it lays the state out
(``serialization.plan_shard``) and copies it into a reusable host-memory buffer (at most
``buffers`` of them; when all are in use, it waits until some snapshot is off every tier). It
returns a ``CheckpointHandle`` at once and hands the snapshot to every tier.

Each tier is its own pipeline, independent of the others:

* a **writer** thread per tier (every rank) takes snapshots in step order and writes the shard
  (``<id>/shard-<rank>.bin``) and then the rank record (size, CRC-32, location, coordinates);
* a **committer** thread per tier (coordinator, global rank 0 only) takes what its writer wrote,
  in the same order, waits until every rank's record is visible on that tier, writes the
  manifest (the commit point), reports the commit (``CommitReport``), applies retention
  (``keep_last``) and collects orphans on that tier. A tier where some rank's record does not
  appear within ``commit_timeout_s`` is not committed.

So a fast tier never waits behind a slow tier: a checkpoint commits in RAM within milliseconds
even while an older one is still uploading to object storage, and every tier still commits its
checkpoints in step order (which retention and garbage collection rely on). The CRC is computed
once per snapshot, on a helper thread, and shared by the tiers. A snapshot's buffer is reused
only once every tier's writer is done with it. A failing tier is reported (``tier_failed``) and
the others go on; an unavailable tier is ``skipped``.

Every snapshot is written to every tier, even when a newer one is already queued there: which
snapshots are queued depends on each rank's timing, so ranks could not be sure to skip the same
ones, and a rank that skipped would leave the coordinator waiting for its record until
``commit_timeout_s``.

Write bandwidth is measured per tier (``bandwidth()``, smoothed); ``write_order()`` ranks the tiers
by it, which now only decides the order in which a new snapshot is queued to the tier writers.
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
        """``time.perf_counter()`` when every tier had its outcome (and, on the coordinator, its commit)."""
        self._done = threading.Event()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"CheckpointHandle(step={self.step}, done={self.done()}, committed={self.committed_tiers})"

    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """True once every tier was written or failed (and, on the coordinator, committed or given up)."""
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
    checksum: Future[str]
    readers: int
    """Tier writers that have not finished with ``data`` yet; the buffer is released at zero."""
    stages: int
    """Tier pipelines (write, then commit on the coordinator) not finished yet; done at zero."""


@dataclass
class _TierPipeline:
    """One tier's queues and threads: a writer (every rank), a committer (coordinator)."""

    tier: Tier
    writes: queue.Queue[_Snapshot | None] = field(default_factory=queue.Queue)
    commits: queue.Queue[_Snapshot | None] = field(default_factory=queue.Queue)
    writer: threading.Thread | None = None
    committer: threading.Thread | None = None


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
        self._checksums = ThreadPoolExecutor(1, thread_name_prefix="suanli-ckpt-crc")
        self._pending: list[CheckpointHandle] = []
        self._lock = threading.Lock()
        self._closed = False
        self._pipelines: dict[str, _TierPipeline] = {}
        for index, tier in enumerate(self.tiers):
            if tier.write_store is None:
                self._emit("tier_unavailable", f"{tier.uri}: {tier.unavailable_reason}", tier=tier.uri)
                continue
            pipeline = _TierPipeline(tier)
            pipeline.writer = threading.Thread(target=self._write_loop, args=(pipeline,), daemon=True,
                                               name=f"suanli-ckpt-write-{index}")
            if identity.coordinator:
                pipeline.committer = threading.Thread(target=self._commit_loop, args=(pipeline,), daemon=True,
                                                      name=f"suanli-ckpt-commit-{index}")
            self._pipelines[tier.uri] = pipeline
        for pipeline in self._pipelines.values():
            for thread in (pipeline.writer, pipeline.committer):
                if thread is not None:
                    thread.start()

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
        for tier in self.tiers:
            if tier.uri not in self._pipelines:
                handle._record(TierOutcome(tier.uri, "skipped", error=tier.unavailable_reason))
        pipelines = [self._pipelines[tier.uri] for tier in self.write_order() if tier.uri in self._pipelines]
        snapshot = _Snapshot(handle, data, index, time.perf_counter(), self._checksums.submit(checksum, data),
                             readers=len(pipelines), stages=len(pipelines))
        if not pipelines:
            self._release(snapshot)
            handle._finish()
        for pipeline in pipelines:
            pipeline.writes.put(snapshot)
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
        return all(handle.wait(_left(deadline)) for handle in pending)

    def close(self, timeout: float | None = None) -> bool:
        """Finish pending work (up to ``timeout``) and stop the threads."""
        deadline = None if timeout is None else time.monotonic() + timeout
        finished = self.wait(timeout)
        self._closed = True
        for pipeline in self._pipelines.values():
            pipeline.writes.put(None)
        for pipeline in self._pipelines.values():
            if pipeline.writer is not None:
                pipeline.writer.join(_left(deadline))
        for pipeline in self._pipelines.values():  # after the writers: nothing is queued behind the end
            if pipeline.committer is not None:
                pipeline.commits.put(None)
                pipeline.committer.join(_left(deadline))
        self._checksums.shutdown(wait=False)
        return finished

    def bandwidth(self) -> dict[str, float]:
        """Smoothed write bandwidth per tier (bytes/s): measured, or the starting estimate."""
        with self._lock:
            return dict(self._bandwidth)

    def write_order(self) -> list[Tier]:
        """Tiers by write bandwidth, highest first, policy order on ties. Tiers are written in parallel,
        so this only decides the order in which a new snapshot is queued to the tier writers."""
        bandwidth = self.bandwidth()
        ranked = sorted(enumerate(self.tiers), key=lambda item: (-bandwidth[item[1].uri], item[0]))
        return [tier for _, tier in ranked]

    def record_bandwidth(self, tier_uri: str, size: int, seconds: float) -> None:
        """Fold a write of ``size`` bytes in ``seconds`` into the tier's bandwidth estimate."""
        if seconds <= 0 or size < MEASURABLE_BYTES:
            return  # too small to say anything about bandwidth
        observed = size / seconds
        with self._lock:
            previous = self._bandwidth[tier_uri]
            self._bandwidth[tier_uri] = observed if tier_uri not in self._measured else (
                BANDWIDTH_SMOOTHING * observed + (1 - BANDWIDTH_SMOOTHING) * previous)
            self._measured.add(tier_uri)

    # -- writer threads (one per tier) ------------------------------------------------------------
    def _write_loop(self, pipeline: _TierPipeline) -> None:
        while True:
            snapshot = pipeline.writes.get()
            if snapshot is None:
                return
            written = False
            try:
                written = self._write(snapshot, pipeline.tier)
            finally:
                self._done_reading(snapshot)
                if written and pipeline.committer is not None:
                    pipeline.commits.put(snapshot)
                else:
                    self._stage_finished(snapshot)

    def _write(self, snapshot: _Snapshot, tier: Tier) -> bool:
        """Write this rank's shard and record of ``snapshot`` to ``tier``; False if that failed."""
        handle = snapshot.handle
        started = time.perf_counter()
        try:
            store = tier.write_store
            if store is None:
                raise RuntimeError(f"{tier.uri} has no store to write to")
            store.put(tier.key(shard_key(handle.checkpoint, self.identity.rank)), snapshot.data)
            record = ShardRecord(rank=self.identity.rank, key=shard_key(handle.checkpoint, self.identity.rank),
                                 bytes=snapshot.data.nbytes, checksum=snapshot.checksum.result(),
                                 location=tier.write_location, coordinates=dict(self.identity.coordinates),
                                 node=self.identity.node)
            store.put(tier.key(rank_record_key(handle.checkpoint, self.identity.rank)), _record_bytes(record))
        except Exception as error:
            handle._record(TierOutcome(tier.uri, "failed", time.perf_counter() - started, error=str(error)))
            self._emit("tier_failed", f"step {handle.step}: writing to {tier.uri} failed: {error}",
                       step=handle.step, tier=tier.uri, data={"error": str(error)})
            return False
        seconds = time.perf_counter() - started
        self.record_bandwidth(tier.uri, snapshot.data.nbytes, seconds)
        handle._record(TierOutcome(tier.uri, "written", seconds, snapshot.data.nbytes))
        self._emit("written", f"step {handle.step}: {snapshot.data.nbytes} bytes on {tier.uri} in "
                   f"{seconds * 1e3:.1f} ms", step=handle.step, tier=tier.uri,
                   data={"bytes": snapshot.data.nbytes, "seconds": seconds})
        return True

    def _done_reading(self, snapshot: _Snapshot) -> None:
        """One tier is done with the snapshot's bytes; the last one releases the buffer."""
        with self._lock:
            snapshot.readers -= 1
            last = snapshot.readers == 0
        if last:
            self._release(snapshot)

    def _release(self, snapshot: _Snapshot) -> None:
        snapshot.checksum.exception()  # never reuse the buffer while the CRC still reads it
        self._pool.release(snapshot.buffer_index)

    def _stage_finished(self, snapshot: _Snapshot) -> None:
        """One tier's pipeline is through with the snapshot; after the last one the handle is done."""
        with self._lock:
            snapshot.stages -= 1
            last = snapshot.stages == 0
        if last:
            snapshot.handle._finish()

    # -- committer threads (coordinator, one per tier) --------------------------------------------
    def _commit_loop(self, pipeline: _TierPipeline) -> None:
        while True:
            snapshot = pipeline.commits.get()
            if snapshot is None:
                return
            try:
                self._commit(snapshot, pipeline.tier)
            finally:
                self._stage_finished(snapshot)

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


def _left(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def _record_bytes(record: ShardRecord) -> bytes:
    import json

    return json.dumps(record.to_json(), sort_keys=True).encode()


def _json(raw: bytes | bytearray) -> dict[str, Any]:
    import json

    loaded = json.loads(bytes(raw))
    if not isinstance(loaded, dict):
        raise ValueError("rank record is not an object")
    return loaded
