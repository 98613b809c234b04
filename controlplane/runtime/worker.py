"""The worker SDK: what training code imports to learn its place and talk to Suanli.

    from controlplane.runtime import worker as suanli

    ctx = suanli.context()                 # ranks, group coordinates, attempt info
    restored = ctx.restore()               # (step, state) or None
    for step in range(start, total):
        if suanli.should_stop():           # a graceful stop or a preemption is coming
            break
        loss = train_step()
        suanli.report(step=step, loss=loss, tokens=tokens_per_step)
        if ctx.checkpoint_requested():
            ctx.checkpoint(state, step)    # blocks for the snapshot only; returns a handle
    suanli.wait_for_checkpoints()          # let background persists finish before exiting

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

Checkpoint hooks: ``save_checkpoint``/``restore_checkpoint`` (and ``ctx.checkpoint``/
``ctx.restore``) call the ``CheckpointHooks`` set with ``set_checkpoint_hooks``. When none are
set and the rank's environment names checkpoint tiers (``SUANLI_CHECKPOINT_TIERS`` or
``SUANLI_CHECKPOINT_URI``), the tiered checkpoint SDK (``controlplane.checkpoints.sdk``) is
installed on first use: snapshot to host memory, persist through the tiers in the background,
commits reported per tier. Without hooks, saving only clears the request and restoring returns
``None``. ``on_checkpoint_request(provider)`` makes ``report`` (called between steps) take the
checkpoint a runtime asked for, with the state ``provider(step)`` returns.

``report_checkpoint`` may carry ``details`` (tier, checkpoint id, durations): bridges that have
``report_checkpoint_details`` receive them, the others get the plain ``report_checkpoint``;
the file bridge writes them into the same JSON line (extra keys old readers ignore).

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
from collections.abc import Callable, Mapping
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

    def checkpoint(self, state: Any, step: int) -> SavedCheckpoint | CheckpointHandle | None:
        """Checkpoint ``state`` as of ``step`` (``save_checkpoint``): non-blocking after the snapshot."""
        return save_checkpoint(step, state)

    def restore(self, template: Any | None = None) -> tuple[int, Any] | None:
        """The newest committed ``(step, state)``, or ``None`` (``restore_checkpoint``)."""
        return restore_checkpoint(template)

    def checkpoint_requested(self) -> bool:
        """True while the runtime asks for a checkpoint (e.g. a spot notice arrived)."""
        return checkpoint_requested()

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

    def report_checkpoint_details(self, step: int, uri: str, bytes: int, time: float,
                                  details: Mapping[str, Any]) -> None:
        self._append({**_details_record(details), "kind": "checkpoint", "step": step, "uri": uri, "bytes": bytes,
                      "time": time})

    def stop_requested(self) -> bool:
        return self.stop_file is not None and os.path.exists(self.stop_file)

    def checkpoint_requested(self) -> bool:
        return self.checkpoint_file is not None and os.path.exists(self.checkpoint_file)

    def clear_checkpoint_request(self) -> None:
        if self.checkpoint_file is not None:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.checkpoint_file)


def _details_record(details: Mapping[str, Any] | None) -> dict[str, Any]:
    return {str(key): value for key, value in (details or {}).items()
            if key not in ("kind", "step", "uri", "bytes", "time")}


class LogBridge:
    """The bridge outside Suanli (plain torchrun or python): reports become lines on stderr."""

    def report_step(self, step: int, loss: float | None, tokens: int | None, time: float) -> None:
        print(f"suanli: step={step} loss={loss} tokens={tokens}", file=sys.stderr, flush=True)

    def report_checkpoint(self, step: int, uri: str, bytes: int, time: float) -> None:
        print(f"suanli: checkpoint step={step} uri={uri} bytes={bytes}", file=sys.stderr, flush=True)

    def report_checkpoint_details(self, step: int, uri: str, bytes: int, time: float,
                                  details: Mapping[str, Any]) -> None:
        extra = " ".join(f"{key}={value}" for key, value in _details_record(details).items())
        print(f"suanli: checkpoint step={step} uri={uri} bytes={bytes} {extra}".rstrip(), file=sys.stderr, flush=True)

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


class CheckpointHandle(Protocol):
    """A checkpoint whose persist goes on in the background (the tiered SDK's handle)."""

    step: int

    def done(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class CheckpointHooks(Protocol):
    """Filled by the checkpoint SDK: how to save this rank's state and how to find it again.

    ``save`` returns a ``SavedCheckpoint`` when the save is complete on return (it is reported
    at once), or a ``CheckpointHandle`` when it persists in the background (the hooks report
    each commit themselves). Hooks may also take ``restore(ctx, template)`` (a state shaped like
    the one wanted, for resharding) and have ``wait(timeout)`` (finish background persists).
    """

    def save(self, ctx: WorkerContext, step: int, state: Any) -> SavedCheckpoint | CheckpointHandle: ...

    def restore(self, ctx: WorkerContext) -> tuple[int, Any] | None: ...


class _WorkerState:
    """The one process-wide holder of the bridge, the checkpoint hooks and the request callback."""

    def __init__(self) -> None:
        self.bridge: WorkerBridge | None = None
        self.hooks: CheckpointHooks | None = None
        self.discovered_hooks = False
        self.provider: Callable[[int], Any] | None = None

    def current_bridge(self) -> WorkerBridge:
        if self.bridge is None:
            self.bridge = FileBridge.from_environment(os.environ) or LogBridge()
        return self.bridge

    def current_hooks(self) -> CheckpointHooks | None:
        """The installed hooks, else the tiered SDK when the environment names tiers (once)."""
        if self.hooks is None and not self.discovered_hooks:
            self.discovered_hooks = True
            if os.environ.get(_TIERS_VARIABLE) or os.environ.get(rank_env.CHECKPOINT_URI):
                from controlplane.checkpoints.sdk import install_from_environment

                self.hooks = install_from_environment(context())
        return self.hooks


_TIERS_VARIABLE = "SUANLI_CHECKPOINT_TIERS"
_state = _WorkerState()


def install_bridge(bridge: WorkerBridge | None) -> None:
    """Route this process's reports and requests through ``bridge`` (``None``: rediscover)."""
    _state.bridge = bridge


def set_checkpoint_hooks(hooks: CheckpointHooks | None) -> None:
    """Install the hooks ``save_checkpoint``/``restore_checkpoint`` call (``None``: rediscover)."""
    _state.hooks = hooks
    _state.discovered_hooks = hooks is not None


def on_checkpoint_request(provider: Callable[[int], Any] | None) -> None:
    """Let ``report(step=...)`` take requested checkpoints: it saves ``provider(step)`` when asked.

    Report at a step boundary (after the optimizer step) so the state is consistent.
    """
    _state.provider = provider


def _forwards_reports(ctx: WorkerContext) -> bool:
    return ctx.rank == 0 or os.environ.get(rank_env.REPORTING_RANKS, "").lower() == "all"


def report(*, step: int, loss: float | None = None, tokens: int | None = None) -> None:
    """Record that ``step`` finished with ``loss``, the job having processed ``tokens`` tokens in it.

    ``step`` counts steps done, from 1 (after the first step, ``step=1``).

    Feeds the job's progress, the performance model's online correction and the cost ledger.
    """
    if _forwards_reports(context()):
        _state.current_bridge().report_step(int(step), None if loss is None else float(loss),
                                            None if tokens is None else int(tokens), time.time())
    if _state.provider is not None and checkpoint_requested():
        save_checkpoint(int(step), _state.provider(int(step)))


def should_stop() -> bool:
    """True once the runtime asked this rank to finish (graceful stop, coming preemption)."""
    return _state.current_bridge().stop_requested()


def checkpoint_requested() -> bool:
    """True while the runtime asks for a checkpoint (e.g. a spot notice arrived)."""
    return _state.current_bridge().checkpoint_requested()


def report_checkpoint(*, step: int, uri: str, bytes: int, details: Mapping[str, Any] | None = None) -> None:
    """Tell the runtime a checkpoint of ``step`` is committed at ``uri`` (chief rank only).

    ``details`` (e.g. ``tier``, ``checkpoint``, ``snapshotS``, ``persistS``) reach bridges that
    implement ``report_checkpoint_details``; others get the plain report.
    """
    if not context().is_chief:
        return
    bridge = _state.current_bridge()
    detailed = getattr(bridge, "report_checkpoint_details", None)
    if details and callable(detailed):
        detailed(int(step), uri, int(bytes), time.time(), dict(details))
    else:
        bridge.report_checkpoint(int(step), uri, int(bytes), time.time())


def save_checkpoint(step: int, state: Any) -> SavedCheckpoint | CheckpointHandle | None:
    """Save through the hooks and clear a pending request; returns what the hooks returned.

    A ``SavedCheckpoint`` (complete on return) is reported here; a ``CheckpointHandle`` is
    persisting in the background and its commits are reported as they happen. Returns ``None``
    (and only clears the request) when no hooks are installed.
    """
    bridge = _state.current_bridge()
    hooks = _state.current_hooks()
    saved: SavedCheckpoint | CheckpointHandle | None = None
    if hooks is not None:
        saved = hooks.save(context(), step, state)
        if isinstance(saved, SavedCheckpoint):
            report_checkpoint(step=step, uri=saved.uri, bytes=saved.bytes)
    else:
        logger.debug("no checkpoint hooks installed; step %d not saved", step)
    bridge.clear_checkpoint_request()
    return saved


def restore_checkpoint(template: Any | None = None) -> tuple[int, Any] | None:
    """The newest committed ``(step, state)`` through the hooks, or ``None``.

    ``template`` (hooks that support it) is a state shaped like the one wanted after a layout
    change: its ``Sharded`` leaves say which piece of each global tensor this rank needs.
    """
    hooks = _state.current_hooks()
    if hooks is None:
        return None
    if template is None:
        return hooks.restore(context())
    restore_with_template: Callable[..., tuple[int, Any] | None] = hooks.restore
    return restore_with_template(context(), template)


def wait_for_checkpoints(timeout: float | None = None) -> bool:
    """Wait until background persists finish (hooks with ``wait``); True when nothing is pending."""
    waiter = getattr(_state.hooks, "wait", None)
    return bool(waiter(timeout)) if callable(waiter) else True
