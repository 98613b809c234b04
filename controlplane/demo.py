"""``make demo``: the main job, end to end, on the embedded control plane.

Runs the real ``suanli`` CLI, printing each command as a user would type it:

1. ``suanli up``: a local Ray cluster of five virtual nodes in three pools and three accelerator
   types (``deploy/local/cluster.yaml``), an S3 object store (SeaweedFS), a fake cloud metadata
   endpoint per cloud node, the API server over a fresh SQLite file, and the controller;
2. register the pools of that cluster and the team queues;
3. submit a tiny GPT-style model that trains data-parallel over 4 ranks (torch.distributed, gloo),
   checkpointing every 20 steps through host memory → local disk → S3
   (``jobspecs/examples/tiny-resilient.yaml``); show where it was placed and its commits;
4. rank 1 crashes at step 70 (forced): the job is retried and resumes from the newest committed
   checkpoint, the loss curve continuing where it was;
5. spot preemption: the AWS metadata endpoint of the node hosting rank 0 announces a termination
   (2 minutes on AWS, compressed here); the controller cordons the node, stops the attempt at a
   step boundary with a final checkpoint, re-plans by goodput per dollar, and the job resumes on
   another pool while the cloud takes the node back;
6. the job finishes: its timeline (notice, checkpoint, new placement, resume, steps lost) and
   its cost split by pool;
7. show that bad input is refused with file, line and field; ``suanli down``.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parent.parent
EXAMPLES = REPOSITORY / "jobspecs" / "examples"
LOCAL = REPOSITORY / "deploy" / "local"
JOB = "tiny-resilient"
NOTICE_WINDOW = "30s"
"""The demo's compressed spot notice (AWS gives 2 minutes)."""
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


def job_view(cli: Cli) -> dict[str, Any]:
    job = cli.json("jobs", "describe", JOB, "--team", TEAM)
    assert isinstance(job, dict)
    return job


def wait_until(cli: Cli, what: str, condition: Callable[[dict[str, Any]], bool], *, timeout: float = 150.0
               ) -> dict[str, Any]:
    """Poll the job until ``condition`` holds; give up (with the job's message) if it ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = job_view(cli)
        if condition(job):
            return job
        if job["status"]["phase"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            raise SystemExit(f"the job ended {job['status']['phase']} before {what}: {job['status'].get('message')}")
        time.sleep(0.5)
    raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")


def attempts(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job["status"].get("attempts") or [])


def step_of(job: dict[str, Any]) -> int:
    latest = attempts(job)[-1:] or [{}]
    return int((latest[0].get("progress") or {}).get("step") or 0)


def main() -> int:
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="suanli-demo-"))
    port = free_port()
    env = {**os.environ, "SUANLI_SERVER": f"http://127.0.0.1:{port}", "SUANLI_STATE_DIR": str(workdir),
           "SUANLI_DATABASE_URL": f"sqlite:///{workdir / 'state.db'}", "SUANLI_LOG_DIR": str(workdir / "logs"),
           "COLUMNS": os.environ.get("COLUMNS", "150")}
    cli = Cli(env)
    banner("bring up the embedded control plane: local Ray cluster (5 virtual nodes, 3 pools), S3, API, controller")
    cli("up", "--port", str(port))
    try:
        banner("register the cluster's pools and the team queues (idempotent)")
        cli("apply", "-f", str(LOCAL / "pools.yaml"), "-f", str(EXAMPLES / "queues.yaml"))
        cli("pools", "list")
        banner("submit a tiny GPT: DDP over 4 ranks, checkpoints every 20 steps to memory → disk → S3")
        cli("submit", str(EXAMPLES / f"{JOB}.yaml"), "--idempotency-key", "demo-run-1")
        wait_until(cli, "the first steps", lambda job: step_of(job) > 0)
        banner("where the scheduler put it, and why")
        cli("jobs", "describe", JOB, "--team", TEAM)

        banner("rank 1 crashes at step 70 (forced): the retry resumes from the newest committed checkpoint")
        job = wait_until(cli, "the retry to train past its restore", lambda job: len(attempts(job)) >= 2
                         and step_of(job) >= 110)
        node = str(attempts(job)[-1]["placement"]["ranks"][0]["node"])
        banner(f"spot preemption: {node} (rank 0) gets a termination notice, {NOTICE_WINDOW} ahead")
        cli("local", "preempt", node, "--in", NOTICE_WINDOW)
        banner("meanwhile: the checkpoints so far, and rank 0's loss before the crash and after the restore")
        cli("checkpoints", "list", JOB, "--team", TEAM)
        cli("jobs", "logs", JOB, "--team", TEAM, "--rank", "0", "--attempt", "1", "--tail", "3")
        cli("jobs", "logs", JOB, "--team", TEAM, "--rank", "0", "--attempt", "2", "--tail", "4")
        wait_until(cli, "the job to resume on another placement", lambda job: len(attempts(job)) >= 3
                   and step_of(job) > 0, timeout=120)
        banner("live progress")
        cli("jobs", "watch", JOB, "--team", TEAM, "--timeout", "150")
        job = wait_until(cli, "the job to finish", lambda job: job["status"]["phase"] == "SUCCEEDED", timeout=150)

        banner("the job has finished: how it came back from each disruption, and what it cost by pool")
        cli("jobs", "timeline", JOB, "--team", TEAM)
        cli("jobs", "describe", JOB, "--team", TEAM)
        cli("local", "status")
        banner("bad input is refused with file, line and field (exit code 2), and nothing is stored")
        bad = workdir / "bad-job.yaml"
        bad.write_text((EXAMPLES / f"{JOB}.yaml").read_text().replace("data: 4", "data: 3"))
        code = cli("submit", str(bad), check=False).returncode
        print(f"(exit code {code})")
        disruptions = job["status"].get("disruptions") or []
        noticed = [d for d in disruptions if d["cause"] == "preemption-notice"]
        if not noticed or noticed[-1].get("stepsLost") != 0:
            raise SystemExit(f"the preemption lost steps: {noticed}")
    finally:
        banner("shut everything down")
        cli("down", check=False)
    print(f"\ndemo finished in {time.monotonic() - started:.0f}s; state kept in {workdir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
