"""The worker SDK: what training code imports to learn its place and talk to Suanli.

    from controlplane.runtime import worker as suanli

    ctx = suanli.context()                 # ranks, group coordinates, attempt info
    restored = suanli.restore_checkpoint() # (step, state) or None
    for step in range(start, total):
        if suanli.should_stop():           # a graceful stop or a preemption is coming
            break
        loss = train_step()
        suanli.report(step=step, loss=loss, tokens=tokens_per_step)
        if suanli.checkpoint_requested():
            suanli.save_checkpoint(step, state)

It works the same in three settings, chosen by what the process finds:

* **Under a Suanli runtime, in-process** (``RayRuntime`` function entrypoints): the rank actor
  installs a ``WorkerBridge`` with ``install_bridge``; reports go straight to it.
* **Under a Suanli runtime, as a subprocess** (command entrypoints): ``SUANLI_REPORT_FILE``,
  ``SUANLI_STOP_FILE`` and ``SUANLI_CHECKPOINT_FILE`` name files the runtime watches / writes.
* **Plain ``torchrun`` or ``python``**: coordinates come from ``RANK``/``WORLD_SIZE``/... (pure
  data parallelism is assumed), ``report`` prints a line to stderr, ``should_stop`` is false.

``report`` is cheap to call on every rank: only global rank 0 forwards (set
``SUANLI_REPORTING_RANKS=all`` to forward from every rank). ``tokens`` counts the tokens the
whole job processed in that step.

Checkpoint hooks: ``save_checkpoint``/``restore_checkpoint`` call the ``CheckpointHooks`` set
with ``set_checkpoint_hooks``. This module only defines the seam; the tiered checkpoint SDK
(``controlplane.checkpoints``) installs real hooks. Without hooks, saving only clears the
request and restoring returns ``None``.

The worker process *is* one rank, so the bridge and the hooks are process-wide state held in
one ``_WorkerState`` object (like ``torch.distributed``'s default group); nothing else in the
code base keeps module-level state. This module imports neither Ray nor torch.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from controlplane.runtime import rank_env
from controlplane.runtime.types import COORDINATE_KEYS

logger = logging.getLogger("suanli.worker")


@dataclass(frozen=True, slots=True)
class WorkerContext:
    """Where this rank sits: global/local rank, group coordinates and the attempt it serves."""

    rank: int
    world_size: int
    local_rank: int
    local_world_size: int
    coordinates: Mapping[str, int] = field(default_factory=dict)
    group_sizes: Mapping[str, int] = field(default_factory=dict)
    experts: tuple[int, ...] = ()
    attempt_id: str | None = None
    job_id: str | None = None
    node: str | None = None
    checkpoint_uri: str | None = None
    master_addr: str | None = None
    master_port: int | None = None

    @property
    def managed(self) -> bool:
        """True when a Suanli runtime launched this rank."""
        return self.attempt_id is not None

    @property
    def is_chief(self) -> bool:
        return self.rank == 0

    @property
    def init_method(self) -> str | None:
        """``tcp://MASTER_ADDR:MASTER_PORT`` for ``torch.distributed.init_process_group``."""
        if self.master_addr is None or self.master_port is None:
            return None
        return f"tcp://{self.master_addr}:{self.master_port}"

    def coordinate(self, key: str, default: int = 0) -> int:
        return self.coordinates.get(key, default)

    @property
    def tp_rank(self) -> int:
        return self.coordinate("tp")

    @property
    def pp_rank(self) -> int:
        return self.coordinate("pp")

    @property
    def dp_rank(self) -> int:
        return self.coordinate("dp")

    @property
    def ep_rank(self) -> int:
        return self.coordinate("ep")

    @property
    def cp_rank(self) -> int:
        return self.coordinate("cp")

    @property
    def stage(self) -> int:
        return self.coordinate("stage")


def context(environ: Mapping[str, str] | None = None) -> WorkerContext:
    """This rank's context, read from the environment (``os.environ`` unless given)."""
    env = os.environ if environ is None else environ
    rank = _int(env, rank_env.RANK, 0)
    world_size = _int(env, rank_env.WORLD_SIZE, 1)
    coordinates = _json_ints(env.get(rank_env.COORDINATES))
    sizes = _json_ints(env.get(rank_env.GROUP_SIZES))
    for key in COORDINATE_KEYS:
        if key not in coordinates and env.get(rank_env.coordinate_variable(key), "").isdigit():
            coordinates[key] = int(env[rank_env.coordinate_variable(key)])
        if key not in sizes and env.get(rank_env.size_variable(key), "").isdigit():
            sizes[key] = int(env[rank_env.size_variable(key)])
    if not coordinates:
        coordinates = {"dp": rank}
        sizes = sizes or {"dp": world_size}
    experts_text = env.get(rank_env.EXPERTS, "")
    port_text = env.get(rank_env.MASTER_PORT)
    return WorkerContext(
        rank=rank,
        world_size=world_size,
        local_rank=_int(env, rank_env.LOCAL_RANK, 0),
        local_world_size=_int(env, rank_env.LOCAL_WORLD_SIZE, 1),
        coordinates=coordinates,
        group_sizes=sizes,
        experts=tuple(int(item) for item in experts_text.split(",") if item.strip()),
        attempt_id=env.get(rank_env.ATTEMPT_ID),
        job_id=env.get(rank_env.JOB_ID),
        node=env.get(rank_env.NODE),
        checkpoint_uri=env.get(rank_env.CHECKPOINT_URI),
        master_addr=env.get(rank_env.MASTER_ADDR),
        master_port=int(port_text) if port_text and port_text.isdigit() else None,
    )


def _json_ints(text: str | None) -> dict[str, int]:
    if not text:
        return {}
    try:
        loaded = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(loaded, dict):
        return {}
    return {str(key): int(value) for key, value in loaded.items() if isinstance(value, int)}


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name)
    return int(value) if value is not None and value.strip().isdigit() else default


class WorkerBridge(Protocol):
    """The runtime's side of the SDK, installed in-process by the rank's host."""

    def report_step(self, step: int, loss: float | None, tokens: int | None, time: float) -> None: ...

    def report_checkpoint(self, step: int, uri: str, bytes: int, time: float) -> None: ...

    def stop_requested(self) -> bool: ...

    def checkpoint_requested(self) -> bool: ...

    def clear_checkpoint_request(self) -> None: ...


class FileBridge:
    """The bridge of a subprocess rank: reports appended as JSON lines, requests as files."""

    def __init__(self, report_file: str | None, stop_file: str | None, checkpoint_file: str | None) -> None:
        self.report_file = report_file
        self.stop_file = stop_file
        self.checkpoint_file = checkpoint_file

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> FileBridge | None:
        names = (rank_env.REPORT_FILE, rank_env.STOP_FILE, rank_env.CHECKPOINT_FILE)
        if not any(env.get(name) for name in names):
            return None
        return cls(*(env.get(name) or None for name in names))

    def _append(self, record: dict[str, Any]) -> None:
        if self.report_file is None:
            return
        with open(self.report_file, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def report_step(self, step: int, loss: float | None, tokens: int | None, time: float) -> None:
        self._append({"kind": "step", "step": step, "loss": loss, "tokens": tokens, "time": time})

    def report_checkpoint(self, step: int, uri: str, bytes: int, time: float) -> None:
        self._append({"kind": "checkpoint", "step": step, "uri": uri, "bytes": bytes, "time": time})

    def stop_requested(self) -> bool:
        return self.stop_file is not None and os.path.exists(self.stop_file)

    def checkpoint_requested(self) -> bool:
        return self.checkpoint_file is not None and os.path.exists(self.checkpoint_file)

    def clear_checkpoint_request(self) -> None:
        if self.checkpoint_file is not None:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.checkpoint_file)


class LogBridge:
    """The bridge outside Suanli (plain torchrun or python): reports become lines on stderr."""

    def report_step(self, step: int, loss: float | None, tokens: int | None, time: float) -> None:
        print(f"suanli: step={step} loss={loss} tokens={tokens}", file=sys.stderr, flush=True)

    def report_checkpoint(self, step: int, uri: str, bytes: int, time: float) -> None:
        print(f"suanli: checkpoint step={step} uri={uri} bytes={bytes}", file=sys.stderr, flush=True)

    def stop_requested(self) -> bool:
        return False

    def checkpoint_requested(self) -> bool:
        return False

    def clear_checkpoint_request(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class SavedCheckpoint:
    """What a ``CheckpointHooks.save`` wrote."""

    uri: str
    bytes: int


class CheckpointHooks(Protocol):
    """Filled by the checkpoint SDK: how to save this rank's state and how to find it again."""

    def save(self, ctx: WorkerContext, step: int, state: Any) -> SavedCheckpoint: ...

    def restore(self, ctx: WorkerContext) -> tuple[int, Any] | None: ...


class _WorkerState:
    """The one process-wide holder of the bridge and the checkpoint hooks."""

    def __init__(self) -> None:
        self.bridge: WorkerBridge | None = None
        self.hooks: CheckpointHooks | None = None

    def current_bridge(self) -> WorkerBridge:
        if self.bridge is None:
            self.bridge = FileBridge.from_environment(os.environ) or LogBridge()
        return self.bridge


_state = _WorkerState()


def install_bridge(bridge: WorkerBridge | None) -> None:
    """Route this process's reports and requests through ``bridge`` (``None``: rediscover)."""
    _state.bridge = bridge


def set_checkpoint_hooks(hooks: CheckpointHooks | None) -> None:
    """Install the hooks ``save_checkpoint``/``restore_checkpoint`` call (the checkpoint SDK's job)."""
    _state.hooks = hooks


def _forwards_reports(ctx: WorkerContext) -> bool:
    return ctx.rank == 0 or os.environ.get(rank_env.REPORTING_RANKS, "").lower() == "all"


def report(*, step: int, loss: float | None = None, tokens: int | None = None) -> None:
    """Record that ``step`` finished with ``loss``, the job having processed ``tokens`` tokens in it.

    ``step`` counts steps done, from 1 (after the first step, ``step=1``).

    Feeds the job's progress, the performance model's online correction and the cost ledger.
    """
    if not _forwards_reports(context()):
        return
    _state.current_bridge().report_step(int(step), None if loss is None else float(loss),
                                        None if tokens is None else int(tokens), time.time())


def should_stop() -> bool:
    """True once the runtime asked this rank to finish (graceful stop, coming preemption)."""
    return _state.current_bridge().stop_requested()


def checkpoint_requested() -> bool:
    """True while the runtime asks for a checkpoint (e.g. a spot notice arrived)."""
    return _state.current_bridge().checkpoint_requested()


def report_checkpoint(*, step: int, uri: str, bytes: int) -> None:
    """Tell the runtime a checkpoint of ``step`` is committed at ``uri`` (chief rank only)."""
    if context().is_chief:
        _state.current_bridge().report_checkpoint(int(step), uri, int(bytes), time.time())


def save_checkpoint(step: int, state: Any) -> SavedCheckpoint | None:
    """Save through the installed hooks, report the commit and clear a pending request.

    Returns ``None`` (and only clears the request) when no hooks are installed.
    """
    bridge = _state.current_bridge()
    hooks = _state.hooks
    saved: SavedCheckpoint | None = None
    if hooks is not None:
        saved = hooks.save(context(), step, state)
        report_checkpoint(step=step, uri=saved.uri, bytes=saved.bytes)
    else:
        logger.debug("no checkpoint hooks installed; step %d not saved", step)
    bridge.clear_checkpoint_request()
    return saved


def restore_checkpoint() -> tuple[int, Any] | None:
    """The newest committed ``(step, state)`` through the installed hooks, or ``None``."""
    hooks = _state.hooks
    return None if hooks is None else hooks.restore(context())
