"""Real training and real failures on the local Ray cluster: DDP agreement, a raising rank, a
crashing command, a hard-killed node, command entrypoints talking to the worker SDK."""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import replace

import pytest

from tests.contract.harness import RayHarness

pytestmark = pytest.mark.slow

TERMINAL = ("succeeded", "failed", "stopped", "lost")


@pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                    reason="torch is not installed: pip install torch==2.13.0 (the 'torch' extra)")
def test_a_ddp_job_trains_across_pools_and_its_replicas_end_with_equal_parameters(ray_harness: RayHarness) -> None:
    spec = replace(ray_harness.spec(ray_harness.two_pools), entrypoint="controlplane.examples.tiny_train:main",
                   env={"SUANLI_TOTAL_STEPS": "8"})

    ray_harness.launch(spec)
    attempt = ray_harness.wait_for_state(spec.attempt_id, *TERMINAL)
    ray_harness.observe()

    assert attempt.state == "succeeded", attempt.reason
    checksums = []
    for rank in range(2):
        line = next(line for line in ray_harness.runtime.logs(spec.attempt_id, rank) if "param checksum" in line)
        checksums.append(float(re.findall(r"param checksum: (\S+)", line)[0]))
    assert checksums[0] == checksums[1]
    reports = ray_harness.reports_of(spec.attempt_id)
    assert [report.step for report in reports] == list(range(1, 9))
    assert all(report.tokens == 8 * 32 and report.loss is not None and report.loss > 0 for report in reports)


def test_a_raising_rank_fails_the_attempt_with_its_traceback_and_the_other_ranks_are_ended(
        ray_harness: RayHarness) -> None:
    # rank 0 fails ~2 s in, long after both ranks started, so rank 1 has log lines to keep
    spec = ray_harness.spec(ray_harness.two_pools, steps=0, delay_s=0.1, fail_rank=0, fail_at_step=20)

    ray_harness.launch(spec)
    attempt = ray_harness.wait_for_state(spec.attempt_id, *TERMINAL)

    assert attempt.state == "failed"
    assert attempt.reason == "rank 0 failed: RuntimeError: probe failure on rank 0 at step 20"
    tail = attempt.ranks[0].log_tail
    assert "Traceback (most recent call last):" in tail
    assert any("probes.py" in line for line in tail)
    survivor = attempt.ranks[1]
    assert not survivor.alive and survivor.exit_code is None
    assert any("probe rank 1 step" in line for line in ray_harness.runtime.logs(spec.attempt_id, 1))


def test_a_command_exiting_non_zero_fails_the_attempt_with_its_exit_code_and_last_words(
        ray_harness: RayHarness) -> None:
    script = "import sys; print('about to fail', flush=True); sys.exit(3)"
    spec = replace(ray_harness.spec(ray_harness.two_pools[:1]), entrypoint=(sys.executable, "-c", script))

    ray_harness.launch(spec)
    attempt = ray_harness.wait_for_state(spec.attempt_id, *TERMINAL)

    assert attempt.state == "failed"
    assert attempt.ranks[0].exit_code == 3
    assert attempt.reason == "rank 0 failed: exit code 3: about to fail"


def test_a_command_reports_steps_and_honours_a_graceful_stop_through_the_worker_sdk(
        ray_harness: RayHarness) -> None:
    script = ("import time\n"
              "from controlplane.runtime import worker as suanli\n"
              "step = 0\n"
              "while not suanli.should_stop():\n"
              "    step += 1\n"
              "    suanli.report(step=step, loss=1.0 / step, tokens=7)\n"
              "    time.sleep(0.05)\n"
              "print('left at step', step)\n")
    spec = replace(ray_harness.spec(ray_harness.two_pools[:1]), entrypoint=(sys.executable, "-c", script))

    ray_harness.launch(spec)
    ray_harness.wait_for_reports(spec.attempt_id, 3)
    ray_harness.runtime.stop(spec.attempt_id, grace_s=30)
    attempt = ray_harness.wait_for_state(spec.attempt_id, *TERMINAL)
    ray_harness.observe()

    assert attempt.state == "stopped"
    assert attempt.ranks[0].exit_code == 0
    assert attempt.ranks[0].log_tail[-1].startswith("left at step")
    steps = [report.step for report in ray_harness.reports_of(spec.attempt_id)]
    assert steps == list(range(1, len(steps) + 1))
    assert all(report.tokens == 7 for report in ray_harness.reports_of(spec.attempt_id))


def test_a_hard_killed_node_is_detected_and_its_attempt_is_lost(ray_harness: RayHarness) -> None:
    survivor, doomed = ray_harness.two_pools
    spec = ray_harness.spec([survivor, doomed], steps=0, delay_s=0.1)
    ray_harness.launch(spec)
    ray_harness.wait_for_reports(spec.attempt_id, 1)

    ray_harness.cluster.remove_node(doomed, graceful=False)
    attempt = ray_harness.wait_for_state(spec.attempt_id, *TERMINAL)

    assert attempt.state == "lost"
    assert attempt.reason == f"node lost: {doomed}"
    assert not attempt.ranks[0].alive
