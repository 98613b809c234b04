"""``suanli up`` / ``suanli down`` end to end: the embedded control plane (API server, controller
process, local Ray cluster) comes up on a private state dir and store, runs the tiny job to
success through the real CLI, and goes away without leaving a Ray process or its state file."""

from __future__ import annotations

import importlib.util
import json
import os
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.stack.stack_processes import free_port, processes_mentioning, suanli

pytestmark = pytest.mark.slow




@pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                    reason="torch is not installed: pip install torch==2.13.0 (the 'torch' extra)")
def test_up_runs_the_tiny_job_to_success_and_down_leaves_nothing_behind(tmp_path: Path) -> None:
    port = free_port()
    state_dir = tmp_path / "state"
    env = {**os.environ, "SUANLI_STATE_DIR": str(state_dir), "SUANLI_DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}",
           "SUANLI_LOG_DIR": str(tmp_path / "rank-logs"), "SUANLI_SERVER": f"http://127.0.0.1:{port}",
           "COLUMNS": "200"}
    up = suanli("up", "--port", str(port), env=env)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        state = json.loads((state_dir / "up.json").read_text())
        assert f"Suanli is up at http://127.0.0.1:{port}" in up.stdout
        assert "export SUANLI_SERVER=" in up.stdout and "local-h100-spot" in up.stdout
        assert httpx.get(f"{state['url']}/healthz").json()["status"] == "ok"
        assert state["ownsCluster"] and [node["name"] for node in state["nodes"]] == [
            "aws-h100-0", "aws-h100-1", "gcp-a100-0", "gcp-a100-1", "ascend-0"]
        assert processes_mentioning(state["rayTempDir"])  # the local cluster runs...
        again = suanli("up", "--port", str(port), env=env)
        assert again.returncode == 0 and "already up" in again.stdout

        assert suanli("apply", "-f", "deploy/local/pools.yaml", env=env).returncode == 0
        submitted = suanli("-o", "json", "submit", "jobspecs/examples/tiny-cpu.yaml", env=env)
        assert submitted.returncode == 0, submitted.stderr
        uid = json.loads(submitted.stdout)[0]["metadata"]["uid"]
        deadline = time.monotonic() + 120
        while (phase := httpx.get(f"{state['url']}/v1/jobs/{uid}").json()["status"]["phase"]) not in (
                "SUCCEEDED", "FAILED") and time.monotonic() < deadline:
            time.sleep(1)
        assert phase == "SUCCEEDED", httpx.get(f"{state['url']}/v1/jobs/{uid}").json()["status"]["message"]
    finally:
        down = suanli("down", env=env)

    assert down.returncode == 0 and "Suanli is down" in down.stdout, down.stdout + down.stderr
    assert not (state_dir / "up.json").exists()
    assert not processes_mentioning(state["rayTempDir"])  # ...and is gone with every Ray process
    assert not processes_mentioning(str(state_dir))
    assert "not up" in suanli("down", env=env).stdout
