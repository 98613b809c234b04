"""What an ended attempt means for its job: retry, fail, finish or cancel. Pure.

Rules (``maxRestarts`` counts every restart after a failure or a lost node):
- ``succeeded``: the job succeeded (or, if a cancel was in flight, it is cancelled: the user
  asked to stop, and the work finished anyway).
- ``failed`` (the workload raised or exited non-zero): retried while restarts remain, else the
  job fails; the message carries the runtime's reason and the last lines of the rank's log.
- ``lost`` (a node went away): the attempt counts as preempted; retried like a failure.
- ``orphaned`` (not a runtime state: the controller's verdict on a launched attempt the runtime
  no longer knows, because the cluster or the runtime restarted under it): preempted, and
  retried *without* using a restart (the job did nothing wrong).
- ``stopped`` (the control plane stopped it): a cancelled job becomes CANCELLED; one stopped to
  make room (preemption, migration) goes back to the queue without using a restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from controlplane.domain.statuses import AttemptStatus, JobStatus

LOG_LINES_IN_MESSAGE = 5
ORPHANED = "orphaned"


@dataclass(frozen=True)
class AttemptOutcome:
    attempt_status: AttemptStatus
    job_status: JobStatus
    message: str
    exit_reason: str
    counts_restart: bool = False


def attempt_outcome(*, state: str, reason: str | None, log_tail: Sequence[str], number: int,
                    job_status: JobStatus, restarts: int, max_restarts: int) -> AttemptOutcome:
    """The attempt's final status and the job's next one, for a terminal runtime ``state``."""
    cancelling = job_status is JobStatus.CANCELLING
    if state == "succeeded":
        if cancelling:
            return AttemptOutcome(AttemptStatus.SUCCEEDED, JobStatus.CANCELLED,
                                  f"attempt {number} finished before the cancel took effect", "succeeded")
        return AttemptOutcome(AttemptStatus.SUCCEEDED, JobStatus.SUCCEEDED,
                              f"attempt {number} finished on every rank", "succeeded")
    if state == "stopped":
        if cancelling:
            return AttemptOutcome(AttemptStatus.STOPPED, JobStatus.CANCELLED, f"attempt {number} stopped; cancelled",
                                  reason or "stopped")
        return AttemptOutcome(AttemptStatus.STOPPED, JobStatus.PENDING,
                              f"attempt {number} stopped ({reason or 'to make room'}); back in the queue",
                              reason or "stopped by the scheduler")
    if state == ORPHANED:
        what = reason or "the runtime lost track of the attempt"
        if cancelling:
            return AttemptOutcome(AttemptStatus.PREEMPTED, JobStatus.CANCELLED,
                                  f"attempt {number} ended ({what}); cancelled", what)
        return AttemptOutcome(AttemptStatus.PREEMPTED, JobStatus.PENDING,
                              f"attempt {number} orphaned: {what}\nretrying (does not count against maxRestarts)",
                              what)
    attempt_status = AttemptStatus.PREEMPTED if state == "lost" else AttemptStatus.FAILED
    what = reason or ("a node hosting a rank was lost" if state == "lost" else "a rank failed")
    tail = [line for line in log_tail if line.strip()][-LOG_LINES_IN_MESSAGE:]
    detail = what + ("; last log lines:\n" + "\n".join(tail) if tail and state == "failed" else "")
    if cancelling:
        return AttemptOutcome(attempt_status, JobStatus.CANCELLED, f"attempt {number} ended ({what}); cancelled",
                              detail)
    if restarts < max_restarts:
        retry = f"retrying (restart {restarts + 1} of {max_restarts})"
        return AttemptOutcome(attempt_status, JobStatus.PENDING, f"attempt {number} {state}: {detail}\n{retry}",
                              detail, counts_restart=True)
    return AttemptOutcome(attempt_status, JobStatus.FAILED,
                          f"attempt {number} {state}: {detail}\nno restarts left (maxRestarts {max_restarts})",
                          detail)


ATTEMPT_PATHS: dict[tuple[AttemptStatus, AttemptStatus], tuple[AttemptStatus, ...]] = {
    (AttemptStatus.PENDING, AttemptStatus.RUNNING): (AttemptStatus.LAUNCHING, AttemptStatus.RUNNING),
    (AttemptStatus.PENDING, AttemptStatus.SUCCEEDED): (AttemptStatus.LAUNCHING, AttemptStatus.RUNNING,
                                                       AttemptStatus.SUCCEEDED),
    (AttemptStatus.PENDING, AttemptStatus.FAILED): (AttemptStatus.LAUNCHING, AttemptStatus.FAILED),
    (AttemptStatus.PENDING, AttemptStatus.PREEMPTED): (AttemptStatus.LAUNCHING, AttemptStatus.PREEMPTED),
    (AttemptStatus.LAUNCHING, AttemptStatus.SUCCEEDED): (AttemptStatus.RUNNING, AttemptStatus.SUCCEEDED),
    (AttemptStatus.LAUNCHING, AttemptStatus.STOPPED): (AttemptStatus.STOPPING, AttemptStatus.STOPPED),
    (AttemptStatus.RUNNING, AttemptStatus.STOPPED): (AttemptStatus.STOPPING, AttemptStatus.STOPPED),
}
"""Observed jumps (the runtime moved faster than we looked) as legal steps of the table."""

JOB_PATHS: dict[tuple[JobStatus, JobStatus], tuple[JobStatus, ...]] = {
    (JobStatus.SCHEDULED, JobStatus.SUCCEEDED): (JobStatus.RUNNING, JobStatus.SUCCEEDED),
    (JobStatus.SCHEDULED, JobStatus.FAILED): (JobStatus.FAILED,),
    (JobStatus.CANCELLING, JobStatus.CANCELLED): (JobStatus.CANCELLED,),
}


def attempt_path(current: AttemptStatus, target: AttemptStatus) -> tuple[AttemptStatus, ...]:
    if current == target:
        return ()
    return ATTEMPT_PATHS.get((current, target), (target,))


def job_path(current: JobStatus, target: JobStatus) -> tuple[JobStatus, ...]:
    if current == target:
        return ()
    return JOB_PATHS.get((current, target), (target,))
