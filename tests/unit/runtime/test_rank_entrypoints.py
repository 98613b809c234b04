"""How a rank's entrypoint runs in its host: output captured, errors turned into exit codes, SDK
reports of a subprocess picked up from its report file."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from controlplane.runtime.ray.entrypoints import Exit, RankLog, run_command, run_function
from tests.unit.runtime.conftest import RecordingBridge


@pytest.fixture
def restored_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Variables the entrypoint will set, registered so they are restored after the test."""
    env = {"PROBE_STEPS": "2", "PROBE_STEP_DELAY_S": "0", "RANK": "0"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def test_a_function_runs_with_its_output_in_the_rank_log_and_log_file(tmp_path: Path, restored_env: dict[str, str],
                                                                       bridge: RecordingBridge) -> None:
    log = RankLog(tmp_path / "logs" / "rank-0.log")

    result = run_function("controlplane.examples.probes:probe", restored_env, None, log)
    log.close()

    assert result == Exit(0)
    assert log.lines()[-3:] == ["probe rank 0 step 1", "probe rank 0 step 2", "probe rank 0 done"]
    assert (tmp_path / "logs" / "rank-0.log").read_text().splitlines()[-1] == "probe rank 0 done"
    assert [step for step, _, _ in bridge.steps] == [1, 2]


def test_a_raising_function_exits_one_with_its_traceback_logged(restored_env: dict[str, str]) -> None:
    log = RankLog(None)

    result = run_function("controlplane.examples.probes:probe", {**restored_env, "PROBE_FAIL_RANK": "0"}, None, log)

    assert result == Exit(1, "RuntimeError: probe failure on rank 0 at step 1")
    assert "Traceback (most recent call last):" in log.lines()
    assert log.tail(1) == ("RuntimeError: probe failure on rank 0 at step 1",)


def test_a_missing_function_is_an_error_not_a_crash(restored_env: dict[str, str]) -> None:
    result = run_function("controlplane.examples.probes:no_such_function", restored_env, None, RankLog(None))

    assert result.code == 1
    assert result.error is not None and result.error.startswith("AttributeError")


def test_a_command_streams_its_output_and_its_sdk_reports(tmp_path: Path) -> None:
    script = ("from controlplane.runtime import worker as suanli\n"
              "print('hello from the command')\n"
              "suanli.report(step=1, loss=0.25, tokens=9)\n"
              "suanli.report_checkpoint(step=1, uri='file:///c/1', bytes=4)\n")
    records: list[dict[str, Any]] = []
    log = RankLog(None)
    report_file = tmp_path / "reports.jsonl"

    result = run_command((sys.executable, "-c", script), {"SUANLI_REPORT_FILE": str(report_file), "RANK": "0"},
                         str(tmp_path), log, report_file, records.append)

    assert result == Exit(0)
    assert log.lines() == ["hello from the command"]
    assert [(record["kind"], record["step"]) for record in records] == [("step", 1), ("checkpoint", 1)]
    assert json.loads(report_file.read_text().splitlines()[0])["tokens"] == 9


def test_a_failing_command_reports_its_exit_code_and_last_line(tmp_path: Path) -> None:
    log = RankLog(None)

    result = run_command((sys.executable, "-c", "import sys; print('bad input'); sys.exit(4)"), {}, None, log,
                         tmp_path / "r.jsonl", lambda record: None)

    assert result == Exit(4, "exit code 4: bad input")


def test_a_command_that_does_not_exist_exits_127(tmp_path: Path) -> None:
    log = RankLog(None)

    result = run_command(("suanli-no-such-program",), {}, None, log, tmp_path / "r.jsonl", lambda record: None)

    assert result.code == 127
    assert "suanli-no-such-program" in log.lines()[-1]


def test_the_rank_log_keeps_partial_lines_and_only_its_capacity() -> None:
    log = RankLog(None, capacity=2)
    log.write("one\ntwo\nthr")
    log.write("ee\nfour")

    assert log.lines() == ["two", "three", "four"]
    assert log.tail(1) == ("four",)
