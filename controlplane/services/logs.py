"""Reading a rank's output for ``suanli jobs logs``.

Ranks write their whole output to ``<log dir>/<attempt>/rank-<r>.log``
(``controlplane.domain.logfiles``); this service serves it in chunks from a byte offset, so a
client can follow a running attempt by asking again from ``next_offset``.
"""

from __future__ import annotations

from pathlib import Path

from controlplane.domain.errors import InvalidInputError, NotFoundError
from controlplane.domain.logfiles import rank_log_path
from controlplane.domain.statuses import TERMINAL_ATTEMPT_STATUSES
from controlplane.services.context import ServiceContext
from controlplane.services.workloads import WorkloadService
from controlplane.store.engine import session_scope
from controlplane.store.repositories import AttemptRepository
from controlplane.wire import LogChunk

MAX_CHUNK_BYTES = 1 << 20


class LogService:
    def __init__(self, context: ServiceContext, workloads: WorkloadService) -> None:
        self._ctx = context
        self._workloads = workloads

    def read(self, *, kind: str, ref: str, team: str | None, rank: int = 0, attempt: int | None = None,
             offset: int = 0, tail: int | None = None) -> LogChunk:
        """Lines of ``rank``'s output in attempt ``attempt`` (default: the latest) from ``offset``;
        with ``tail``, only the last ``tail`` lines."""
        if rank < 0 or offset < 0 or (tail is not None and tail < 1):
            raise InvalidInputError("rank and offset must be ≥ 0 and tail ≥ 1", field="rank",
                                    hint="e.g. ?rank=0&tail=100")
        job = self._workloads.get(kind=kind, ref=ref, team=team)
        assert job.metadata.uid is not None
        with session_scope(self._ctx.session_factory) as session:
            attempts = AttemptRepository(session).list_for_job(job.metadata.uid)
        if not attempts:
            raise NotFoundError(f"{kind} {job.metadata.team}/{job.metadata.name} has not started an attempt yet",
                                field="attempt", hint="`suanli jobs describe` says why it waits")
        chosen = attempts[-1] if attempt is None else next((a for a in attempts if a.number == attempt), None)
        if chosen is None:
            raise NotFoundError(f"no attempt {attempt}; the job has attempts 1..{len(attempts)}", field="attempt")
        world = len(chosen.placement.get("ranks", []))
        if rank >= world:
            raise NotFoundError(f"attempt {chosen.number} has ranks 0..{world - 1}", field="rank")
        finished = chosen.status in TERMINAL_ATTEMPT_STATUSES
        path = rank_log_path(self._ctx.settings.log_dir, chosen.id, rank)
        lines, next_offset = _read(path, offset, tail)
        return LogChunk(attempt=chosen.number, rank=rank, lines=lines, offset=offset, next_offset=next_offset,
                        finished=finished)


def _read(path: Path, offset: int, tail: int | None) -> tuple[list[str], int]:
    if not path.exists():
        return [], offset
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        start = min(offset, size)
        if tail is not None:
            start = max(start, size - MAX_CHUNK_BYTES)
        handle.seek(start)
        data = handle.read(MAX_CHUNK_BYTES)
    complete = data[: data.rfind(b"\n") + 1] if b"\n" in data else b""
    lines = complete.decode("utf-8", errors="replace").splitlines()
    if tail is not None:
        lines = lines[-tail:]
    return lines, start + len(complete)
