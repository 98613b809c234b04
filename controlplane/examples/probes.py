"""``probe``: a configurable fake training loop for runtime tests and smoke checks.

Configured through environment variables so the same entrypoint serves every scenario:

=========================  =========================================================  =======
``PROBE_STEPS``            steps to run; ``0`` runs until asked to stop                ``3``
``PROBE_STEP_DELAY_S``     seconds each step takes                                     ``0.05``
``PROBE_TOKENS``           tokens reported per step                                    ``1024``
``PROBE_FAIL_RANK``        this rank raises ``RuntimeError`` ...                       unset
``PROBE_FAIL_AT_STEP``     ... when it reaches this step                               ``1``
``PROBE_IGNORE_STOP``      ``1``: ignore ``should_stop()`` (to test forced stops)      unset
=========================  =========================================================  =======

Every step prints ``probe rank R step S``; a checkpoint request is answered with a commit
through ``save_checkpoint`` (in-memory hooks); the end prints ``probe rank R done``.
"""

from __future__ import annotations

import os
import pickle
import time
from typing import Any

from controlplane.runtime import worker as suanli


class InMemoryCheckpoints:
    """Checkpoint hooks that keep the state in this process (enough for a probe)."""

    def __init__(self) -> None:
        self.saved: dict[int, Any] = {}

    def save(self, ctx: suanli.WorkerContext, step: int, state: Any) -> suanli.SavedCheckpoint:
        self.saved[step] = state
        base = ctx.checkpoint_uri or f"memory://{ctx.attempt_id or 'local'}"
        return suanli.SavedCheckpoint(uri=f"{base.rstrip('/')}/step-{step:08d}", bytes=len(pickle.dumps(state)))

    def restore(self, ctx: suanli.WorkerContext) -> tuple[int, Any] | None:
        if not self.saved:
            return None
        step = max(self.saved)
        return step, self.saved[step]


def probe() -> None:
    ctx = suanli.context()
    steps = int(os.environ.get("PROBE_STEPS", "3"))
    delay = float(os.environ.get("PROBE_STEP_DELAY_S", "0.05"))
    tokens = int(os.environ.get("PROBE_TOKENS", "1024"))
    fail_rank = os.environ.get("PROBE_FAIL_RANK")
    fail_at = int(os.environ.get("PROBE_FAIL_AT_STEP", "1"))
    ignore_stop = os.environ.get("PROBE_IGNORE_STOP") == "1"
    suanli.set_checkpoint_hooks(InMemoryCheckpoints())
    print(f"probe rank {ctx.rank} of {ctx.world_size} on {ctx.node} coordinates {dict(ctx.coordinates)}", flush=True)
    step = 0
    while steps == 0 or step < steps:
        if suanli.should_stop() and not ignore_stop:
            print(f"probe rank {ctx.rank} stopping at step {step}", flush=True)
            break
        if fail_rank is not None and int(fail_rank) == ctx.rank and step + 1 >= fail_at:
            raise RuntimeError(f"probe failure on rank {ctx.rank} at step {step + 1}")
        time.sleep(delay)
        step += 1
        print(f"probe rank {ctx.rank} step {step}", flush=True)
        suanli.report(step=step, loss=1.0 / step, tokens=tokens)
        if suanli.checkpoint_requested():
            suanli.save_checkpoint(step, {"step": step})
    print(f"probe rank {ctx.rank} done", flush=True)
