"""``make demo``: the main job, end to end, on an embedded control plane.

Starts a real server process on a free local port over a fresh SQLite file, then drives it with
the real ``suanli`` CLI, printing each command as a user would type it: apply the example
queues and pools, submit the example jobs (once more with the same idempotency key, to show a
retry does not duplicate), list and describe them, cancel one, show the audit log, and stop the
server cleanly.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

EXAMPLES = Path(__file__).resolve().parent.parent / "jobspecs" / "examples"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited early with code {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server at {url} did not become healthy within {timeout:.0f}s")


def banner(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m", flush=True)


def suanli(*args: str, env: dict[str, str], check: bool = True) -> int:
    print(f"\033[36m$ suanli {shlex.join(args)}\033[0m", flush=True)
    result = subprocess.run([sys.executable, "-m", "controlplane.cli.main", *args], env=env, check=False)
    if check and result.returncode != 0:
        raise SystemExit(f"demo step failed: suanli {shlex.join(args)} (exit {result.returncode})")
    return result.returncode


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="suanli-demo-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "SUANLI_SERVER": url, "SUANLI_DATABASE_URL": f"sqlite:///{workdir / 'state.db'}",
           "COLUMNS": os.environ.get("COLUMNS", "140")}
    banner(f"starting an embedded control plane: SQLite at {workdir / 'state.db'}, API at {url}")
    server = subprocess.Popen(
        [sys.executable, "-m", "controlplane.cli.main", "server", "start", "--port", str(port),
         "--log-level", "warning"], env=env)
    try:
        wait_healthy(url, server)
        banner("validate the example specs offline")
        suanli("validate", *sorted(str(p) for p in EXAMPLES.glob("*.yaml")), env=env)
        banner("register team queues and accelerator pools (idempotent: the second apply changes nothing)")
        suanli("apply", "-f", str(EXAMPLES / "queues.yaml"), "-f", str(EXAMPLES / "pools.yaml"), env=env)
        suanli("apply", "-f", str(EXAMPLES / "pools.yaml"), env=env)
        suanli("pools", "list", env=env)
        banner("submit the example jobs")
        for spec in ("tiny-cpu.yaml", "llama-70b-pretrain.yaml", "deepseek-v3-moe-train.yaml"):
            suanli("submit", str(EXAMPLES / spec), "--idempotency-key", f"demo-{spec}", env=env)
        suanli("apply", "-f", str(EXAMPLES / "moe-inference.yaml"), env=env)
        banner("a retried submit with the same idempotency key returns the same job")
        suanli("submit", str(EXAMPLES / "tiny-cpu.yaml"), "--idempotency-key", "demo-tiny-cpu.yaml", env=env)
        banner("a malformed spec is refused with file, line and field (exit code 2)")
        bad = workdir / "bad-job.yaml"
        text = (EXAMPLES / "tiny-cpu.yaml").read_text().replace("data: 4", "data: 3")
        bad.write_text(text)
        code = suanli("submit", str(bad), env=env, check=False)
        print(f"(exit code {code})")
        banner("list and describe")
        suanli("jobs", "list", env=env)
        suanli("jobs", "list", "--kind", "inference", env=env)
        suanli("jobs", "describe", "tiny-cpu", "--team", "default", env=env)
        banner("cancel a waiting job")
        suanli("jobs", "cancel", "deepseek-v3-pretrain", "--team", "research", "--reason", "demo", env=env)
        banner("the audit log")
        suanli("events", "--limit", "20", env=env)
    finally:
        banner("shutting the control plane down")
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    print(f"done; the state database is kept at {workdir / 'state.db'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
