"""What an ended attempt means for its job (``controlplane.controller.outcomes``), as a table."""

from __future__ import annotations

import pytest

from controlplane.controller.outcomes import ORPHANED, AttemptOutcome, attempt_outcome, attempt_path, job_path
from controlplane.domain.statuses import AttemptStatus, JobStatus


def outcome(state: str, *, job: JobStatus = JobStatus.RUNNING, restarts: int = 0, max_restarts: int = 3,
            reason: str | None = None, log: tuple[str, ...] = ()) -> AttemptOutcome:
    return attempt_outcome(state=state, reason=reason, log_tail=log, number=2, job_status=job,
                           restarts=restarts, max_restarts=max_restarts)


def test_success_ends_the_job_succeeded() -> None:
    result = outcome("succeeded")
    assert (result.attempt_status, result.job_status, result.counts_restart) == (
        AttemptStatus.SUCCEEDED, JobStatus.SUCCEEDED, False)


def test_a_failure_with_restarts_left_requeues_the_job_and_counts_a_restart_with_the_log_tail() -> None:
    log = (*(f"line {i}" for i in range(10)), "ValueError: bad batch")
    result = outcome("failed", reason="rank 1 raised", log=log)
    assert (result.attempt_status, result.job_status, result.counts_restart) == (
        AttemptStatus.FAILED, JobStatus.PENDING, True)
    assert "ValueError: bad batch" in result.message and "line 0" not in result.message
    assert "restart 1 of 3" in result.message


def test_a_failure_with_no_restarts_left_fails_the_job_and_says_so() -> None:
    result = outcome("failed", restarts=3, max_restarts=3, reason="rank 0 exited 1")
    assert result.job_status is JobStatus.FAILED
    assert "no restarts left" in result.message


def test_a_lost_node_counts_as_preempted_and_is_retried() -> None:
    result = outcome("lost", reason="node lost: aws-h100-0")
    assert (result.attempt_status, result.job_status, result.counts_restart) == (
        AttemptStatus.PREEMPTED, JobStatus.PENDING, True)


def test_an_attempt_orphaned_by_a_runtime_restart_is_retried_without_using_a_restart() -> None:
    result = outcome(ORPHANED, restarts=3, max_restarts=3)
    assert result.job_status is JobStatus.PENDING
    assert result.counts_restart is False


def test_a_scheduler_stop_requeues_without_a_restart_and_a_cancel_stop_cancels() -> None:
    assert outcome("stopped").job_status is JobStatus.PENDING
    assert outcome("stopped").counts_restart is False
    assert outcome("stopped", job=JobStatus.CANCELLING).job_status is JobStatus.CANCELLED


@pytest.mark.parametrize("state", ["succeeded", "failed", "lost"])
def test_any_end_of_a_cancelling_job_cancels_it(state: str) -> None:
    assert outcome(state, job=JobStatus.CANCELLING).job_status is JobStatus.CANCELLED


def test_observed_jumps_become_legal_steps_of_the_transition_tables() -> None:
    assert attempt_path(AttemptStatus.LAUNCHING, AttemptStatus.SUCCEEDED) == (
        AttemptStatus.RUNNING, AttemptStatus.SUCCEEDED)
    assert attempt_path(AttemptStatus.RUNNING, AttemptStatus.STOPPED) == (
        AttemptStatus.STOPPING, AttemptStatus.STOPPED)
    assert attempt_path(AttemptStatus.RUNNING, AttemptStatus.RUNNING) == ()
    assert job_path(JobStatus.SCHEDULED, JobStatus.SUCCEEDED) == (JobStatus.RUNNING, JobStatus.SUCCEEDED)
