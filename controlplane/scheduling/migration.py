"""Re-planning running jobs: move an attempt to free capacity where it finishes or pays clearly less.

Owns ``replan_running``. After admission, each running attempt that may be stopped (preemptible,
older than ``Policy.min_run_s``, not started this round) is compared with its usable options
on pools that still have room (respecting the head-of-line reservation and its quota). A move
is worth it when, counting the restart overhead of the new attempt:

- the job meets its deadline only on the new pool, or
- its remaining cost drops by at least ``Policy.migration_gain``, or
- its remaining cost does not rise (within the ranking's tie ratio) and it finishes at least
  ``Policy.migration_gain`` sooner.

Jobs with the most to gain move first. The new attempt may use another accelerator type and
the layout the estimator re-planned for it.
"""

from __future__ import annotations

from controlplane.scheduling.choice import COST_TIE_RATIO, RANKINGS, SECONDS_PER_HOUR, Option
from controlplane.scheduling.decisions import Migrate
from controlplane.scheduling.policies import Policy
from controlplane.scheduling.round_state import PlaceFn, RoundState, Running


def _gain(current: Option, option: Option, overhead_s: float, policy: Policy) -> float:
    """How much better ``option`` is (a ratio > 1), or 0 when it is not worth a move."""
    current_finish = max(current.finish_s - overhead_s, 1e-9)
    current_cost = current.dollars_per_hour * current_finish / SECONDS_PER_HOUR
    new_cost = option.dollars_per_hour * option.finish_s / SECONDS_PER_HOUR
    if option.meets_deadline and not current.meets_deadline:
        return current_finish / option.finish_s + 1.0
    if current.meets_deadline and not option.meets_deadline:
        return 0.0
    if current_cost > 0 and new_cost < current_cost * (1 - policy.migration_gain):
        return current_cost / max(new_cost, 1e-12)
    if new_cost <= current_cost * COST_TIE_RATIO and option.finish_s < current_finish * (1 - policy.migration_gain):
        return current_finish / option.finish_s
    return 0.0


def replan_running(state: RoundState, policy: Policy, place: PlaceFn) -> None:
    candidates: list[tuple[float, str, Running, list[Option]]] = []
    for job_id in sorted(state.running):
        running = state.running[job_id]
        job = running.job
        if running.new or not job.preemptible or state.ran_s(job_id) < policy.min_run_s:
            continue
        usable, _ = state.options(job)
        current = next((o for o in usable if o.pool.name == running.pool.name), None)
        if current is None:
            continue
        better = [(gain, o) for o in RANKINGS[policy.pool_choice](usable)
                  if o.pool.name != running.pool.name
                  and (gain := _gain(current, o, job.restart_overhead_s, policy)) > 0]
        if better:
            candidates.append((max(g for g, _ in better), job_id, running, [o for _, o in better]))
    candidates.sort(key=lambda item: (-item[0], item[1]))
    for _, job_id, running, options in candidates:
        job = running.job
        for option in options:
            pool = option.pool.name
            if state.free(pool) < job.devices:
                continue
            if state.reservation is not None and state.reservation.blocks(pool, job.devices, option.finish_s):
                continue
            stopped = state.stop(job_id)
            verdict = state.ledger.check(job, option.pool)
            placed = place(job, option, state) if verdict.allowed else "quota"
            if isinstance(placed, str):
                state.restore(stopped)
                continue
            reason = (f"re-planned from {running.pool.name} ({running.pool.accelerator}) to {pool}: "
                      f"{option.describe()}")
            admit = state.start(job, option, placed, borrowed=verdict.borrowed, reason=reason)
            state.decisions.append(Migrate(job_id=job_id, from_pool=running.pool.name, to=admit, reason=reason))
            break
