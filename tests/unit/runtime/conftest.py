"""Runtime unit tests: the worker SDK keeps process-wide state (its bridge and checkpoint hooks),
so every test starts and ends with none installed and without Suanli/torchrun variables."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from controlplane.runtime import worker

_RANK_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@pytest.fixture(autouse=True)
def clean_worker_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("SUANLI_") or name in _RANK_VARIABLES:
            monkeypatch.delenv(name)
    worker.install_bridge(None)
    worker.set_checkpoint_hooks(None)
    yield
    worker.install_bridge(None)
    worker.set_checkpoint_hooks(None)


@dataclass
class RecordingBridge:
    """A worker bridge that remembers what it was told; requests are set by the test."""

    steps: list[tuple[int, float | None, int | None]] = field(default_factory=list)
    checkpoints: list[tuple[int, str, int]] = field(default_factory=list)
    stop: bool = False
    checkpoint: bool = False

    def report_step(self, step: int, loss: float | None, tokens: int | None, time: float) -> None:
        self.steps.append((step, loss, tokens))

    def report_checkpoint(self, step: int, uri: str, bytes: int, time: float) -> None:
        self.checkpoints.append((step, uri, bytes))

    def stop_requested(self) -> bool:
        return self.stop

    def checkpoint_requested(self) -> bool:
        return self.checkpoint

    def clear_checkpoint_request(self) -> None:
        self.checkpoint = False


@pytest.fixture
def bridge() -> RecordingBridge:
    recording = RecordingBridge()
    worker.install_bridge(recording)
    return recording
