"""Where a rank's output lives: ``<log dir>/<attempt id>/rank-<r>.log``.

The runtime writes these files (on the rank's node); the API reads them to serve
``suanli jobs logs`` when it shares the filesystem (the embedded control plane, or a shared
volume). One function, so writer and reader cannot disagree.
"""

from __future__ import annotations

from pathlib import Path


def rank_log_path(log_dir: Path, attempt_id: str, rank: int) -> Path:
    return Path(log_dir) / attempt_id / f"rank-{rank}.log"
