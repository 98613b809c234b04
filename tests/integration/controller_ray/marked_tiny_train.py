"""The tiny job's training, plus a start marker: each time a rank process starts, it appends a
line ``pid=<pid> node=<SUANLI_NODE>`` to ``$MARKER_DIR/<attempt>/rank-<r>``, so a test can
tell from the outside how many times each rank of each attempt really ran."""

from __future__ import annotations

import os
from pathlib import Path

from controlplane.examples import tiny_train


def main() -> None:
    marker = Path(os.environ["MARKER_DIR"]) / os.environ["SUANLI_ATTEMPT_ID"] / f"rank-{os.environ['RANK']}"
    marker.parent.mkdir(parents=True, exist_ok=True)
    with marker.open("a", encoding="utf-8") as handle:
        handle.write(f"pid={os.getpid()} node={os.environ['SUANLI_NODE']}\n")
    tiny_train.main()
