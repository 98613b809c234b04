"""Time slices of the least-attained-service baseline (Gavel's LAS, heterogeneity-agnostic).

Owns ``preempt_for_time_slices``: order every job, running or pending, by attained service per
unit of weight (device-seconds received so far); walk that order keeping each job whose gang
still fits in the cluster's devices (counted together, whatever their type: the policy is
heterogeneity-agnostic); preempt running attempts that did not make the cut and have had at
least one slice (``Policy.min_run_s``). The freed devices then go to the pending jobs in the
same order during admission.
"""

from __future__ import annotations

from controlplane.scheduling.ordering import attained_service_order
from controlplane.scheduling.policies import Policy
from controlplane.scheduling.round_state import RoundState


def preempt_for_time_slices(state: RoundState, policy: Policy) -> None:
    left = sum(state.free(pool.name) for pool in state.pools)
    left += sum(len(running.devices) for running in state.running.values())
    keep: set[str] = set()
    waiting_with_less = 0
    for job in attained_service_order(state.snapshot.jobs):
        if job.devices <= left:
            keep.add(job.job_id)
            left -= job.devices
            if job.job_id not in state.running:
                waiting_with_less += 1
    if not waiting_with_less:
        return
    for job_id in sorted(state.running):
        running = state.running[job_id]
        if job_id in keep or not running.job.preemptible or state.ran_s(job_id) < policy.min_run_s:
            continue
        state.stop(job_id)
        state.decisions.append(state.preempt_decision(
            running, "time-slice",
            f"time slice over: {waiting_with_less} waiting job(s) have received less service"))
