"""``make demo``: the main job, end to end, on the embedded control plane.

Runs the real ``suanli`` CLI, printing each command as a user would type it:

1. ``suanli up``: a local Ray cluster of four virtual nodes in three pools and three accelerator
   types (``deploy/local/cluster.yaml``), the API server over a fresh SQLite file, the controller;
2. register the pools of that cluster and the team queues;
3. submit a tiny GPT-style model that trains data-parallel over 4 ranks (torch.distributed, gloo);
4. show where the scheduler placed it and why (node → ranks), then live progress bars;
5. the job finishes: its status, cost by pool and the last lines of rank 0's log;
6. show that bad input is refused with file, line and field;
7. ``suanli down``.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
EXAMPLES = REPOSITORY / "jobspecs" / "examples"
LOCAL = REPOSITORY / "deploy" / "local"
JOB = "tiny-cpu"
TEAM = "default"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def banner(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m", flush=True)


class Cli:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(self, *args: str, check: bool = True, show: bool = True) -> subprocess.CompletedProcess[str]:
        if show:
            print(f"\033[36m$ suanli {shlex.join(args)}\033[0m", flush=True)
        done = subprocess.run([sys.executable, "-m", "controlplane.cli.main", *args], env=self.env,
                              text=True, capture_output=not show, check=False)
        if check and done.returncode != 0:
            raise SystemExit(f"demo step failed: suanli {shlex.join(args)} (exit {done.returncode})\n"
                             f"{done.stderr or ''}")
        return done

    def json(self, *args: str) -> object:
        return json.loads(self(*args, "-o", "json", show=False).stdout)


def wait_for(cli: Cli, predicate: str, *, timeout: float = 120.0) -> dict[str, object]:
    """Poll the job until ``predicate`` (a phase name, or 'progress') holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = cli.json("jobs", "describe", JOB, "--team", TEAM)
        assert isinstance(job, dict)
        status = job["status"]
        attempts = status.get("attempts") or []
        if predicate == "progress" and attempts and attempts[-1].get("progress", {}).get("step"):
            return job
        if status["phase"] == predicate or status["phase"] in ("FAILED", "CANCELLED"):
            return job
        time.sleep(1.0)
    raise SystemExit(f"the job did not reach {predicate} within {timeout:.0f}s")


def main() -> int:
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="suanli-demo-"))
    port = free_port()
    env = {**os.environ, "SUANLI_SERVER": f"http://127.0.0.1:{port}", "SUANLI_STATE_DIR": str(workdir),
           "SUANLI_DATABASE_URL": f"sqlite:///{workdir / 'state.db'}", "SUANLI_LOG_DIR": str(workdir / "logs"),
           "COLUMNS": os.environ.get("COLUMNS", "150")}
    cli = Cli(env)
    banner("bring up the embedded control plane: local Ray cluster (4 virtual nodes, 3 pools), API, controller")
    cli("up", "--port", str(port))
    try:
        banner("register the cluster's pools and the team queues (idempotent)")
        cli("apply", "-f", str(LOCAL / "pools.yaml"), "-f", str(EXAMPLES / "queues.yaml"))
        cli("pools", "list")
        banner("submit a tiny GPT-style model: data-parallel over 4 ranks with torch.distributed (gloo)")
        cli("submit", str(EXAMPLES / f"{JOB}.yaml"), "--idempotency-key", "demo-run-1")
        wait_for(cli, "progress")
        banner("where the scheduler put it, and why")
        cli("jobs", "describe", JOB, "--team", TEAM)
        banner("live progress")
        cli("jobs", "watch", JOB, "--team", TEAM, "--timeout", "150")
        job = wait_for(cli, "SUCCEEDED", timeout=150)
        banner("the job has finished: status, cost by pool, placement and events")
        cli("jobs", "describe", JOB, "--team", TEAM)
        cli("jobs", "logs", JOB, "--team", TEAM, "--rank", "0", "--tail", "5")
        banner("bad input is refused with file, line and field (exit code 2), and nothing is stored")
        bad = workdir / "bad-job.yaml"
        bad.write_text((EXAMPLES / f"{JOB}.yaml").read_text().replace("data: 4", "data: 3"))
        code = cli("submit", str(bad), check=False).returncode
        print(f"(exit code {code})")
        status = job["status"]
        assert isinstance(status, dict)
        if status["phase"] != "SUCCEEDED":
            raise SystemExit(f"the demo job ended {status['phase']}: {status.get('message')}")
    finally:
        banner("shut everything down")
        cli("down", check=False)
    print(f"\ndemo finished in {time.monotonic() - started:.0f}s; state kept in {workdir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
