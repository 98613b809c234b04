"""Checkpoint interval ``auto``: the Young/Daly optimum, bounded by an overhead budget.

Pure: costs and rates come in, an ``IntervalChoice`` (with its reason in words) goes out.

Vocabulary:
- *blocking cost* ``δ``: seconds training stands still per checkpoint — the snapshot to host
  memory (persisting runs in the background and costs no training time).
- *persist time*: seconds from the snapshot until the checkpoint is committed on a tier that
  survives the failure we plan for. A failure in that window loses the previous interval too.
- *MTBF* ``M``: mean seconds between interruptions of the job: preemptions and failures per
  node-hour of the pool, times the job's nodes (any node's loss interrupts the gang).

Young (1974) gives ``τ = sqrt(2 δ M)``; Daly (2006, "A higher order estimate of the optimum
checkpoint interval for restart dumps", FGCS 22(3)) refines it to
``τ = sqrt(2 δ M) · (1 + sqrt(δ / 2M) / 3 + (δ / 2M) / 9) − δ`` for ``δ < 2M``, else ``τ = M``.
The choice is then bounded, in this order: at least ``δ / overhead_budget`` (training spends at
most the budget — CheckFreq's 3.5 % by default — checkpointing), at least the persist time (a
checkpoint every interval must be able to finish before the next), and within
``[min_interval_s, max_interval_s]``. The bound that decided is named in ``reason``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

HOUR_S = 3600.0
DEFAULT_OVERHEAD_BUDGET = 0.035


@dataclass(frozen=True, slots=True)
class CheckpointCosts:
    """Measured costs of one checkpoint of the job (e.g. from its last commits)."""

    snapshot_s: float
    """Blocking time per checkpoint."""
    persist_s: float = 0.0
    """Snapshot end to commit on the durable tier."""
    restart_s: float = 0.0
    """Time to get a new attempt to the restored step (affects expected loss, not the optimum)."""

    def __post_init__(self) -> None:
        if self.snapshot_s < 0 or self.persist_s < 0 or self.restart_s < 0:
            raise ValueError("checkpoint costs must not be negative")


@dataclass(frozen=True, slots=True)
class InterruptionRate:
    """How often the job is interrupted: per node-hour rates of its pool, and its node count."""

    preemptions_per_node_hour: float = 0.0
    failures_per_node_hour: float = 0.0
    nodes: int = 1

    def __post_init__(self) -> None:
        if self.preemptions_per_node_hour < 0 or self.failures_per_node_hour < 0 or self.nodes < 1:
            raise ValueError("rates must not be negative and nodes must be at least 1")

    @property
    def per_second(self) -> float:
        return (self.preemptions_per_node_hour + self.failures_per_node_hour) * self.nodes / HOUR_S

    @property
    def mtbf_s(self) -> float:
        rate = self.per_second
        return math.inf if rate <= 0 else 1.0 / rate


@dataclass(frozen=True, slots=True)
class IntervalChoice:
    interval_s: float
    decided_by: str
    """``young-daly``, ``overhead-budget``, ``persist-time``, ``minimum``, ``maximum`` or ``fixed``."""
    reason: str
    optimum_s: float
    """The unbounded Young/Daly optimum (``inf`` without interruptions)."""
    overhead_fraction: float
    """Blocking cost over interval: the share of time spent checkpointing."""
    expected_loss_s: float
    """Expected work lost per interruption: half an interval, the persist window and the restart."""

    def steps(self, step_time_s: float) -> int:
        """The interval in whole training steps (at least 1)."""
        if step_time_s <= 0:
            raise ValueError("step time must be positive")
        return max(1, int(self.interval_s // step_time_s))


def young_daly_interval(blocking_s: float, mtbf_s: float) -> float:
    """Daly's higher-order optimum of the compute time between checkpoints."""
    if math.isinf(mtbf_s):
        return math.inf
    if blocking_s <= 0:
        return 0.0
    if blocking_s >= 2 * mtbf_s:
        return mtbf_s
    ratio = blocking_s / (2 * mtbf_s)
    return math.sqrt(2 * blocking_s * mtbf_s) * (1 + math.sqrt(ratio) / 3 + ratio / 9) - blocking_s


def choose_interval(costs: CheckpointCosts, rate: InterruptionRate, *,
                    overhead_budget: float = DEFAULT_OVERHEAD_BUDGET, min_interval_s: float = 10.0,
                    max_interval_s: float = 4 * HOUR_S, fixed_s: float | None = None) -> IntervalChoice:
    """The checkpoint interval for ``auto`` (or report on a ``fixed_s`` one); see the module docstring."""
    if not 0 < overhead_budget < 1:
        raise ValueError("overhead_budget is a fraction between 0 and 1 (e.g. 0.035)")
    if min_interval_s <= 0 or max_interval_s < min_interval_s:
        raise ValueError("need 0 < min_interval_s <= max_interval_s")
    mtbf = rate.mtbf_s
    optimum = young_daly_interval(costs.snapshot_s, mtbf)
    mtbf_text = "no interruptions expected" if math.isinf(mtbf) else f"MTBF {mtbf / HOUR_S:.2f} h"
    if fixed_s is not None:
        interval, decided_by = float(fixed_s), "fixed"
        reason = f"fixed by the job's policy at {_duration(interval)} (Young/Daly would pick {_duration(optimum)})"
    else:
        interval, decided_by = optimum, "young-daly"
        reason = (f"Young/Daly optimum for a {costs.snapshot_s * 1e3:.0f} ms blocking snapshot and {mtbf_text}: "
                  f"{_duration(optimum)}")
        floor_budget = costs.snapshot_s / overhead_budget
        if interval < floor_budget:
            interval, decided_by = floor_budget, "overhead-budget"
            reason += f"; raised to {_duration(interval)} to keep checkpoint overhead within {overhead_budget:.1%}"
        if interval < costs.persist_s:
            interval, decided_by = costs.persist_s, "persist-time"
            reason += f"; raised to {_duration(interval)}, the time a persist takes"
        if interval < min_interval_s:
            interval, decided_by = min_interval_s, "minimum"
            reason += f"; raised to the minimum {_duration(min_interval_s)}"
        if interval > max_interval_s:
            interval, decided_by = max_interval_s, "maximum"
            reason += f"; capped at the maximum {_duration(max_interval_s)}"
    overhead = costs.snapshot_s / interval if interval > 0 else math.inf
    expected_loss = interval / 2 + costs.persist_s + costs.restart_s
    return IntervalChoice(interval, decided_by, reason, optimum, overhead, expected_loss)


def _duration(seconds: float) -> str:
    if math.isinf(seconds):
        return "unbounded"
    if seconds >= HOUR_S:
        return f"{seconds / HOUR_S:.2f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"
