"""The training code that runs under Suanli's Ray runtime runs unchanged under plain torchrun:
the worker SDK reads torchrun's variables, reports become lines on stderr, the replicas agree."""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                       reason="torch is not installed: pip install torch==2.13.0 (the 'torch' extra)"),
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_tiny_train_trains_under_plain_torchrun_with_two_processes(tmp_path: Path) -> None:
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {key: value for key, value in os.environ.items() if not key.startswith("SUANLI_")}
    env.update(SUANLI_TOTAL_STEPS="3", TINY_VOCAB="512")

    finished = subprocess.run(
        [str(torchrun), "--nproc-per-node", "2", "--master-addr", "127.0.0.1", "--master-port", str(free_port()),
         "-m", "controlplane.examples.tiny_train"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240, check=False)

    assert finished.returncode == 0, finished.stderr[-2000:]
    checksums = re.findall(r"rank (\d): param checksum: (\S+)", finished.stdout)
    assert sorted(rank for rank, _ in checksums) == ["0", "1"]
    assert len({value for _, value in checksums}) == 1
    assert re.findall(r"suanli: step=(\d+)", finished.stderr) == ["1", "2", "3"]
