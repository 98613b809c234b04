"""The demo's training job on one rank: it reports every step, stops when asked, checkpoints
through the SDK hooks and resumes from them; with torch and without."""

from __future__ import annotations

import importlib.util

import pytest

from controlplane.examples.probes import InMemoryCheckpoints
from controlplane.examples.tiny_train import TinyConfig, main, train_numpy
from controlplane.runtime import worker
from tests.unit.runtime.conftest import RecordingBridge


class StopAfter(RecordingBridge):
    """Asks the worker to stop once ``limit`` steps were reported."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def stop_requested(self) -> bool:
        return len(self.steps) >= self.limit


def test_the_numpy_path_reports_every_step_with_the_jobs_tokens(bridge: RecordingBridge,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    train_numpy(TinyConfig(total_steps=5))

    assert [step for step, _, _ in bridge.steps] == [1, 2, 3, 4, 5]
    assert all(tokens == 8 * 32 for _, _, tokens in bridge.steps)
    losses = [loss for _, loss, _ in bridge.steps]
    assert losses[-1] < losses[0]  # type: ignore[operator]
    assert "rank 0: param checksum:" in capsys.readouterr().out


def test_training_stops_at_a_step_boundary_when_asked() -> None:
    bridge = StopAfter(limit=3)
    worker.install_bridge(bridge)

    train_numpy(TinyConfig(total_steps=50))

    assert [step for step, _, _ in bridge.steps] == [1, 2, 3]


def test_a_requested_checkpoint_is_saved_and_a_new_run_resumes_from_it(bridge: RecordingBridge) -> None:
    hooks = InMemoryCheckpoints()
    worker.set_checkpoint_hooks(hooks)
    bridge.checkpoint = True
    train_numpy(TinyConfig(total_steps=2))
    resumed = RecordingBridge()
    worker.install_bridge(resumed)

    train_numpy(TinyConfig(total_steps=4))

    assert [step for step, _, _ in bridge.checkpoints] == [1]
    assert list(hooks.saved) == [1]
    assert [step for step, _, _ in resumed.steps] == [2, 3, 4]


def test_checkpoints_follow_the_every_steps_policy(bridge: RecordingBridge) -> None:
    worker.set_checkpoint_hooks(InMemoryCheckpoints())

    train_numpy(TinyConfig(total_steps=6, checkpoint_every_steps=3))

    assert [step for step, _, _ in bridge.checkpoints] == [3, 6]


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_the_torch_path_trains_a_tiny_gpt_on_one_rank(bridge: RecordingBridge, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SUANLI_TOTAL_STEPS", "3")
    monkeypatch.setenv("TINY_VOCAB", "512")

    main()

    assert [step for step, _, _ in bridge.steps] == [1, 2, 3]
    assert "rank 0: param checksum:" in capsys.readouterr().out


def test_without_torch_main_falls_back_to_numpy(bridge: RecordingBridge, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINY_BACKEND", "numpy")
    monkeypatch.setenv("SUANLI_TOTAL_STEPS", "2")

    main()

    assert [step for step, _, _ in bridge.steps] == [1, 2]


