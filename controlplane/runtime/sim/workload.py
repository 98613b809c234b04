"""How a simulated attempt behaves: ``SimWorkload`` and an optional ``SimFailure``.

``SimRuntime`` asks a ``WorkloadModel`` (any callable ``LaunchSpec -> SimWorkload``) how each
launched attempt runs: how long it takes to start, how long a step takes, how many steps it
runs, what a checkpoint costs, and whether a rank fails. The simulator plugs the performance
model in here; tests use fixed workloads.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from controlplane.runtime.types import LaunchSpec


@dataclass(frozen=True, slots=True)
class SimFailure:
    """Rank ``rank`` raises when it reaches step ``at_step`` (after finishing ``at_step - 1``)."""

    rank: int
    at_step: int
    message: str = "RuntimeError: simulated failure"
    exit_code: int = 1


@dataclass(frozen=True, slots=True)
class SimWorkload:
    """The behaviour of one simulated attempt; times are virtual seconds."""

    step_seconds: float = 1.0
    total_steps: int | None = None
    """The step count at which the job is complete; ``None`` runs until stopped."""
    start_step: int = 0
    """Steps already done (restored from a checkpoint) when the attempt starts."""
    startup_seconds: float = 0.0
    tokens_per_step: int | None = None
    checkpoint_seconds: float = 0.0
    """Time from ``request_checkpoint`` to the commit, which holds the state as of the request."""
    checkpoint_bytes: int = 0
    checkpoint_every_steps: int | None = None
    """Commit a checkpoint after every this many steps, as the job's policy would."""
    initial_loss: float = 10.0
    final_loss: float = 2.0
    failure: SimFailure | None = None
    honours_stop: bool = True
    """Whether the workload checks ``should_stop()`` at step boundaries; if not, a graceful stop
    ends it only when the grace period is over."""
    checkpoint_on_stop: bool = False
    """Whether a graceful stop saves a final checkpoint of the last step (the worker SDK's contract
    for jobs with a checkpoint policy); it commits at the stop boundary."""

    def __post_init__(self) -> None:
        if self.step_seconds <= 0:
            raise ValueError("step_seconds must be positive")
        if self.startup_seconds < 0 or self.checkpoint_seconds < 0:
            raise ValueError("startup_seconds and checkpoint_seconds must not be negative")

    def loss_at(self, step: int) -> float:
        """A deterministic, decreasing loss curve."""
        return self.final_loss + (self.initial_loss - self.final_loss) / math.sqrt(1.0 + step)


WorkloadModel = Callable[[LaunchSpec], SimWorkload]


def constant_workload(workload: SimWorkload) -> WorkloadModel:
    """Every attempt behaves like ``workload``."""

    def model(spec: LaunchSpec) -> SimWorkload:
        return workload

    return model
