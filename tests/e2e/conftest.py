"""A real control-plane server process on a free port, and a runner for the real `suanli` CLI."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    url: str
    database_url: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(database_url: str, port: int | None = None) -> ServerProcess:
    port = port or free_port()
    env = {**os.environ, "SUANLI_DATABASE_URL": database_url}
    process = subprocess.Popen(
        [sys.executable, "-m", "controlplane.cli.main", "server", "start", "--port", str(port),
         "--log-level", "warning"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stderr.read().decode() if process.stderr else ''}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return ServerProcess(url=url, database_url=database_url, process=process)
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("server did not become healthy")


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


class Cli:
    def __init__(self, server_url: str, cwd: Path) -> None:
        self.server_url = server_url
        self.cwd = cwd

    def __call__(self, *args: str) -> CliResult:
        env = {**os.environ, "SUANLI_SERVER": self.server_url, "COLUMNS": "200", "NO_COLOR": "1"}
        done = subprocess.run([sys.executable, "-m", "controlplane.cli.main", *args], env=env, cwd=self.cwd,
                              capture_output=True, text=True, timeout=120, check=False)
        return CliResult(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    proc = start_server(f"sqlite:///{tmp_path / 'state.db'}")
    yield proc
    proc.stop()


@pytest.fixture
def cli(server: ServerProcess) -> Cli:
    return Cli(server.url, Path(__file__).resolve().parents[2])
