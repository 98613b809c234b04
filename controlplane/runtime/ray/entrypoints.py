"""Running one rank's entrypoint inside its host process, with its output captured.

``run_function`` imports ``package.module:function`` and calls it in the current thread, with
the rank's environment applied and ``sys.stdout``/``sys.stderr`` teed into the rank's
``RankLog``; an exception becomes exit code 1, its traceback the end of the log.
``run_command`` runs a command in a subprocess (under ``exec_child`` so it dies with the
host), its merged stdout/stderr line by line into the log, and tails the JSON-lines report
file the worker SDK writes (``SUANLI_REPORT_FILE``) into ``on_record``.

Pure Python, no Ray: the host actor (``actors.RankHost``) wires these to Ray.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import subprocess
import sys
import threading
import traceback
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

RECORD_POLL_SECONDS = 0.1


class RankLog:
    """The rank's output: the last ``capacity`` lines in memory, every line in ``path``."""

    def __init__(self, path: Path | None, capacity: int = 10_000) -> None:
        self._lines: deque[str] = deque(maxlen=capacity)
        self._partial = ""
        self._lock = threading.Lock()
        self._file: TextIO | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def write(self, text: str) -> None:
        with self._lock:
            if self._file is not None:
                self._file.write(text)
                self._file.flush()
            pieces = (self._partial + text).split("\n")
            self._partial = pieces.pop()
            self._lines.extend(piece.rstrip("\r") for piece in pieces)

    def line(self, text: str) -> None:
        self.write(text if text.endswith("\n") else text + "\n")

    def lines(self) -> list[str]:
        with self._lock:
            return list(self._lines) + ([self._partial] if self._partial else [])

    def tail(self, count: int) -> tuple[str, ...]:
        lines = self.lines()
        return tuple(lines[-count:]) if count > 0 else ()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


class _Tee(io.TextIOBase):
    """A text stream writing to the rank log and to the original stream."""

    def __init__(self, log: RankLog, original: TextIO) -> None:
        self._log = log
        self._original = original

    def write(self, text: str) -> int:
        self._log.write(text)
        with contextlib.suppress(OSError, ValueError):
            self._original.write(text)
        return len(text)

    def flush(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._original.flush()


@dataclass(frozen=True, slots=True)
class Exit:
    """How an entrypoint ended: exit code 0 is success; ``error`` says why it was not."""

    code: int
    error: str | None = None


def run_function(reference: str, env: Mapping[str, str], working_dir: str | None, log: RankLog) -> Exit:
    """Call ``package.module:function`` with ``env`` applied; never raises."""
    os.environ.update(env)
    original_out, original_err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Tee(log, original_out), _Tee(log, original_err)
    try:
        if working_dir:
            os.chdir(working_dir)
            if working_dir not in sys.path:
                sys.path.insert(0, working_dir)
        module_name, _, attribute_path = reference.partition(":")
        target: Any = importlib.import_module(module_name)
        for attribute in attribute_path.split("."):
            target = getattr(target, attribute)
        target()
        return Exit(0)
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        if code:
            log.line(f"SystemExit: {stop.code}")
        return Exit(code, None if code == 0 else f"SystemExit: {stop.code}")
    except BaseException as error:  # the user's code may raise anything; report it, never crash the host
        log.write(traceback.format_exc())
        return Exit(1, _describe(error))
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = original_out, original_err


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def run_command(arguments: tuple[str, ...], env: Mapping[str, str], working_dir: str | None, log: RankLog,
                report_file: Path, on_record: Callable[[dict[str, Any]], None],
                on_start: Callable[[subprocess.Popen[str]], None] | None = None) -> Exit:
    """Run the command to completion, capturing its output and its SDK reports; never raises."""
    environment = {**os.environ, **env, "PYTHONUNBUFFERED": "1", "SUANLI_PARENT_PID": str(os.getpid())}
    launcher = [sys.executable, "-m", "controlplane.runtime.exec_child", *arguments]
    try:
        process = subprocess.Popen(launcher, env=environment, cwd=working_dir or None, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                                   bufsize=1)
    except OSError as error:
        log.line(f"cannot start {arguments[0]!r}: {error}")
        return Exit(127, f"cannot start {arguments[0]!r}: {error.strerror}")
    if on_start is not None:
        on_start(process)
    finished = threading.Event()
    tail = threading.Thread(target=_tail_records, args=(report_file, on_record, finished), daemon=True)
    tail.start()
    assert process.stdout is not None
    for line in process.stdout:
        log.write(line)
    code = process.wait()
    finished.set()
    tail.join()
    if code == 0:
        return Exit(0)
    last = next((line for line in reversed(log.lines()) if line.strip()), "")
    detail = f": {last.strip()}" if last else ""
    return Exit(code, f"exit code {code}{detail}")


def _tail_records(path: Path, on_record: Callable[[dict[str, Any]], None], finished: threading.Event) -> None:
    offset = 0
    pending = ""
    while True:
        done = finished.is_set()
        if path.exists():
            with open(path, encoding="utf-8") as handle:
                handle.seek(offset)
                chunk = handle.read()
                offset = handle.tell()
            pieces = (pending + chunk).split("\n")
            pending = pieces.pop()
            for piece in pieces:
                if piece.strip():
                    try:
                        on_record(json.loads(piece))
                    except ValueError:
                        continue
        if done:
            return
        finished.wait(RECORD_POLL_SECONDS)
