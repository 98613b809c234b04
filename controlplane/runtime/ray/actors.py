"""The rank actor of ``RayRuntime``: ``RankHost``, one per rank (the ``Hub`` is in ``hub``).

``RankHost`` is a threaded, named, detached actor pinned to its rank's placement-group bundle.
Its whole life starts in the constructor, on a thread of its own, so it does not depend on
the driver that created it staying alive: claim the rank at the hub (a rank never runs twice),
rendezvous (rank 0 picks ``MASTER_PORT`` on its node and publishes ``MASTER_ADDR:PORT``
through the hub; the others wait for it), build the rank's environment, run the entrypoint
(``entrypoints``), flush the last reports and keep the ``RankOutcome``. Any driver (the one
that launched it, or a controller that adopted it after a restart) asks ``where`` and waits on
``result``; ``request_stop``, ``request_checkpoint`` and ``logs`` are served from other threads,
and ``wind_down`` (flush reports, return the log) just before the driver kills a rank that has
not finished. Worker-SDK reports are batched and pushed to the hub every ``FLUSH_SECONDS``; the
final push completes before the outcome is set, so a driver that sees the outcome and then
drains the hub has every report.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray

from controlplane.runtime import rank_env, worker
from controlplane.runtime.cluster_definition import NODE_LABEL
from controlplane.runtime.ray.entrypoints import Exit, RankLog, run_command, run_function
from controlplane.runtime.ray.hub import Hub
from controlplane.runtime.types import CheckpointCommit, LaunchSpec, StepReport

__all__ = ["Hub", "RankHost", "RankOutcome", "RankPayload", "RankWhereabouts", "rank_environment_for"]

FLUSH_SECONDS = 0.25
RENDEZVOUS_POLL_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class RankPayload:
    spec: LaunchSpec
    rank: int
    log_path: str | None
    rendezvous_timeout_s: float
    kept_log_lines: int


@dataclass(frozen=True, slots=True)
class RankOutcome:
    exit_code: int
    error: str | None
    log: tuple[str, ...]
    finished_at: float


@dataclass(frozen=True, slots=True)
class RankWhereabouts:
    ray_node_id: str
    node_name: str
    address: str
    pid: int


class _ActorBridge:
    """The worker SDK's bridge inside a rank host: reports into a buffer, requests from events."""

    def __init__(self, host: RankHost, attempt_id: str, rank: int) -> None:
        self._host = host
        self._attempt_id = attempt_id
        self._rank = rank

    def report_step(self, step: int, loss: float | None, tokens: int | None, time: float) -> None:
        self._host.record(StepReport(self._attempt_id, self._rank, step, loss, tokens, time))

    def report_checkpoint(self, step: int, uri: str, bytes: int, time: float) -> None:
        self._host.record(CheckpointCommit(self._attempt_id, step, uri, bytes, time))

    def report_checkpoint_details(self, step: int, uri: str, bytes: int, time: float,
                                  details: dict[str, Any]) -> None:
        self._host.record(CheckpointCommit(self._attempt_id, step, uri, bytes, time,
                                           _seconds(details.get("snapshotS")), _seconds(details.get("persistS"))))

    def stop_requested(self) -> bool:
        return self._host.stop_event.is_set()

    def checkpoint_requested(self) -> bool:
        return self._host.checkpoint_event.is_set()

    def clear_checkpoint_request(self) -> None:
        self._host.checkpoint_event.clear()


class RankHost:
    """One rank of one attempt; see the module docstring."""

    def __init__(self, hub: Any, payload: RankPayload) -> None:
        self._hub = hub
        self.stop_event = threading.Event()
        self.checkpoint_event = threading.Event()
        self._pending: list[StepReport | CheckpointCommit] = []
        self._pending_lock = threading.Lock()
        self._log: RankLog | None = None
        self._scratch: Path | None = None  # request files of a command entrypoint, made by run()
        self._scratch_lock = threading.Lock()
        self._outcome: RankOutcome | None = None
        self._finished = threading.Event()
        threading.Thread(target=self._live, args=(payload,), daemon=True, name="suanli-rank").start()

    def _live(self, payload: RankPayload) -> None:
        try:
            claimant = ray.get_runtime_context().get_actor_id() or f"pid-{os.getpid()}"
            if ray.get(self._hub.claim_rank.remote(payload.spec.attempt_id, payload.rank, claimant)):
                outcome = self._run(payload)
            else:
                outcome = RankOutcome(1, "not run: this rank already ran in another process, or its attempt ended",
                                      (), time.time())
        except BaseException as error:  # a bug in the host itself; fail the rank, keep the actor answering
            outcome = RankOutcome(1, f"rank host error: {type(error).__name__}: {error}", (), time.time())
        self._outcome = outcome
        self._finished.set()

    def result(self, timeout_s: float) -> RankOutcome | None:
        """The rank's outcome once it finished; ``None`` if it is still running after ``timeout_s``."""
        return self._outcome if self._finished.wait(timeout_s) else None

    def where(self) -> RankWhereabouts:
        context = ray.get_runtime_context()
        node_id = context.get_node_id()
        label: Any = context.get_node_labels().get(NODE_LABEL)
        name = label if isinstance(label, str) else (label[0] if label else node_id)
        return RankWhereabouts(node_id, str(name), ray.util.get_node_ip_address(), os.getpid())

    def record(self, event: StepReport | CheckpointCommit) -> None:
        with self._pending_lock:
            self._pending.append(event)

    def request_stop(self) -> None:
        self.stop_event.set()
        self._touch("stop")

    def request_checkpoint(self) -> None:
        self.checkpoint_event.set()
        self._touch("checkpoint")

    def _touch(self, name: str) -> None:
        with self._scratch_lock:
            if self._scratch is not None:
                (self._scratch / name).touch()

    def _make_scratch(self) -> Path:
        """The directory of a command's report and request files, with requests made so far."""
        with self._scratch_lock:
            self._scratch = Path(tempfile.mkdtemp(prefix="suanli-rank-"))
            if self.stop_event.is_set():
                (self._scratch / "stop").touch()
            if self.checkpoint_event.is_set():
                (self._scratch / "checkpoint").touch()
            return self._scratch

    def _remove_scratch(self) -> None:
        with self._scratch_lock:
            if self._scratch is not None:
                shutil.rmtree(self._scratch, ignore_errors=True)
                self._scratch = None

    def logs(self) -> list[str]:
        return self._log.lines() if self._log is not None else []

    def wind_down(self) -> list[str]:
        """Push the reports still buffered and return the log: the last words before a kill."""
        self._flush(wait=True)
        self._remove_scratch()
        return self.logs()

    def _run(self, payload: RankPayload) -> RankOutcome:
        spec, rank = payload.spec, payload.spec.ranks[payload.rank]
        self._log = log = RankLog(Path(payload.log_path) if payload.log_path else None)
        flusher_done = threading.Event()
        flusher = threading.Thread(target=self._flush_periodically, args=(flusher_done,), daemon=True)
        flusher.start()
        try:
            address, port = self._rendezvous(payload)
            if isinstance(spec.entrypoint, str):
                environment = rank_environment_for(spec, payload.rank, address, port, None)
                worker.install_bridge(_ActorBridge(self, spec.attempt_id, rank.rank))
                result = run_function(spec.entrypoint, environment, spec.working_dir, log)
            else:
                scratch = self._make_scratch()
                files = {rank_env.REPORT_FILE: str(scratch / "reports.jsonl"),
                         rank_env.STOP_FILE: str(scratch / "stop"),
                         rank_env.CHECKPOINT_FILE: str(scratch / "checkpoint")}
                environment = rank_environment_for(spec, payload.rank, address, port, files)
                result = run_command(spec.entrypoint, environment, spec.working_dir, log, scratch / "reports.jsonl",
                                     lambda record: self._record_from_file(spec.attempt_id, rank.rank, record))
        except TimeoutError as error:
            log.line(str(error))
            result = Exit(1, str(error))
        finally:
            flusher_done.set()
            flusher.join()
            self._remove_scratch()
        self._flush(wait=True)
        log.close()
        return RankOutcome(result.code, result.error, log.tail(payload.kept_log_lines), time.time())

    def _rendezvous(self, payload: RankPayload) -> tuple[str, int]:
        spec = payload.spec
        if payload.rank == 0:
            address = ray.util.get_node_ip_address()
            port = spec.master_port or _free_port()
            ray.get(self._hub.publish_master.remote(spec.attempt_id, address, port))
            return address, port
        deadline = time.monotonic() + payload.rendezvous_timeout_s
        while time.monotonic() < deadline:
            master = ray.get(self._hub.master.remote(spec.attempt_id))
            if master is not None:
                return master[0], int(master[1])
            if self.stop_event.wait(RENDEZVOUS_POLL_SECONDS):
                break
        raise TimeoutError(f"rank 0 of {spec.attempt_id} did not publish its address "
                           f"within {payload.rendezvous_timeout_s:.0f}s")

    def _record_from_file(self, attempt_id: str, rank: int, record: dict[str, Any]) -> None:
        if record.get("kind") == "step":
            self.record(StepReport(attempt_id, rank, int(record["step"]), record.get("loss"), record.get("tokens"),
                                   float(record["time"])))
        elif record.get("kind") == "checkpoint":
            self.record(CheckpointCommit(attempt_id, int(record["step"]), str(record["uri"]),
                                         int(record.get("bytes") or 0), float(record["time"]),
                                         _seconds(record.get("snapshotS")), _seconds(record.get("persistS"))))

    def _flush_periodically(self, done: threading.Event) -> None:
        while not done.wait(FLUSH_SECONDS):
            self._flush(wait=False)

    def _flush(self, *, wait: bool) -> None:
        with self._pending_lock:
            batch, self._pending = self._pending, []
        if batch or wait:
            reference = self._hub.push.remote(batch)
            if wait:
                ray.get(reference)


def rank_environment_for(spec: LaunchSpec, rank: int, address: str, port: int,
                         files: dict[str, str] | None) -> dict[str, str]:
    return rank_env.rank_environment(spec, spec.ranks[rank], master_addr=address, master_port=port, files=files)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("", 0))
        port: int = probe.getsockname()[1]
        return port


def _seconds(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
