"""``python -m controlplane.runtime.exec_child CMD ...``: exec CMD so it dies with its parent.

A command entrypoint runs under this tiny launcher, which asks Linux to SIGKILL it when the
rank's actor process dies (``PR_SET_PDEATHSIG`` survives ``exec``), then replaces itself with
the command. Killing the actor (an immediate stop, a grace period running out) therefore never
leaves an orphaned training process behind. Elsewhere it simply execs.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main(arguments: list[str]) -> None:
    if not arguments:
        sys.stderr.write("usage: python -m controlplane.runtime.exec_child COMMAND [ARGS...]\n")
        raise SystemExit(2)
    expected_parent = int(os.environ.pop("SUANLI_PARENT_PID", "0"))
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if expected_parent and os.getppid() != expected_parent:
            raise SystemExit(137)  # the parent died before the request took effect
    try:
        os.execvp(arguments[0], arguments)
    except OSError as error:
        sys.stderr.write(f"cannot run {arguments[0]!r}: {error.strerror}\n")
        raise SystemExit(127) from error


if __name__ == "__main__":
    main(sys.argv[1:])
