"""Training code checkpoints through the worker SDK: ``ctx.checkpoint``/``ctx.restore`` on tiered storage."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from controlplane.checkpoints.engine import CheckpointHandle
from controlplane.examples.tiny_train import TinyConfig, train_numpy
from controlplane.runtime import worker
from tests.unit.runtime.conftest import RecordingBridge


@pytest.fixture(autouse=True)
def clean_worker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    for name in list(os.environ):
        if name.startswith("SUANLI_") or name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SUANLI_CHECKPOINT_TIERS", json.dumps(["memory://", f"file://{tmp_path / 'ckpt'}"]))
    worker.install_bridge(None)
    worker.set_checkpoint_hooks(None)
    worker.on_checkpoint_request(None)
    yield tmp_path
    worker.wait_for_checkpoints(30)
    worker.install_bridge(None)
    worker.set_checkpoint_hooks(None)
    worker.on_checkpoint_request(None)


def test_ctx_checkpoint_returns_at_once_and_every_tier_commit_is_reported_with_details(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    report_file = tmp_path / "reports.jsonl"
    monkeypatch.setenv("SUANLI_REPORT_FILE", str(report_file))
    ctx = worker.context()
    state = {"w": np.arange(10.0)}

    handle = ctx.checkpoint(state, 5)
    assert isinstance(handle, CheckpointHandle)
    assert worker.wait_for_checkpoints(30)

    records = [json.loads(line) for line in report_file.read_text().splitlines()]
    assert sorted(record["tier"] for record in records) == sorted(["memory://", f"file://{tmp_path / 'ckpt'}"])
    assert all(record["kind"] == "checkpoint" and record["step"] == 5 and record["bytes"] > 0 for record in records)
    assert all("persistS" in record and "snapshotS" in record for record in records)
    restored = ctx.restore()
    assert restored is not None
    step, saved = restored
    assert step == 5 and np.array_equal(saved["w"], state["w"])


def test_bridges_without_details_get_the_plain_report() -> None:
    bridge = RecordingBridge()
    worker.install_bridge(bridge)

    worker.context().checkpoint({"w": np.ones(3)}, 2)
    worker.wait_for_checkpoints(30)

    assert sorted(step for step, _, _ in bridge.checkpoints) == [2, 2]
    assert all(uri.endswith("/step-0000000002-" + uri.rsplit("-", 1)[1]) for _, uri, _ in bridge.checkpoints)


def test_a_requested_checkpoint_is_taken_at_the_next_step_report_through_the_callback() -> None:
    bridge = RecordingBridge()
    worker.install_bridge(bridge)
    state: dict[str, Any] = {"w": np.zeros(4)}
    worker.on_checkpoint_request(lambda step: state)

    worker.report(step=1, loss=1.0)
    bridge.checkpoint = True  # a spot notice: the control plane asks for a checkpoint
    worker.report(step=2, loss=0.5)
    worker.wait_for_checkpoints(30)

    assert {step for step, _, _ in bridge.checkpoints} == {2}
    assert not bridge.checkpoint  # the request was honoured and cleared


def test_the_tiny_job_killed_midway_resumes_from_its_newest_checkpoint_on_disk() -> None:
    worker.install_bridge(RecordingBridge())
    train_numpy(TinyConfig(total_steps=7, checkpoint_every_steps=3))
    worker.wait_for_checkpoints(30)
    worker.set_checkpoint_hooks(None)  # a new process: host memory is gone, the disk tier remains
    resumed = RecordingBridge()
    worker.install_bridge(resumed)

    train_numpy(TinyConfig(total_steps=9, checkpoint_every_steps=3))

    assert [step for step, _, _ in resumed.steps] == [7, 8, 9]  # lost steps 7 only: under one interval
