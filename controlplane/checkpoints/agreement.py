"""How ranks agree on the step to restore (``restore.Agreement``: a step in, (min, max) out).

* ``torch_agreement``: an all-reduce over the default ``torch.distributed`` process group (used
  when one is initialized).
* ``StoreAgreement``: through a blob store every rank reaches (a shared tier): each rank puts its
  proposal for round *k* under ``<prefix>/round-<k>/rank-<r>`` and waits for all of them. Keys are
  scoped by attempt, so a later attempt never reads an earlier one's votes.
* ``InProcessAgreement``: ranks as threads of one process (tests, benchmarks).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from controlplane.checkpoints.blobstore import BlobNotFoundError, BlobStore, BlobStoreError
from controlplane.checkpoints.manifest import attempt_tag


def torch_agreement() -> Callable[[int], tuple[int, int]] | None:
    """An agreement over torch.distributed's default group, or ``None`` when there is none."""
    import sys

    torch: Any = sys.modules.get("torch")
    if torch is None:
        return None
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() <= 1:
        return None

    def agree(step: int) -> tuple[int, int]:
        values = torch.tensor([step, -step], dtype=torch.int64)
        if dist.get_backend() == "nccl":
            values = values.cuda()
        dist.all_reduce(values, op=dist.ReduceOp.MIN)
        return int(values[0].item()), int(-values[1].item())

    return agree


class StoreAgreement:
    """Agreement through a shared store; see the module docstring."""

    def __init__(self, store: BlobStore, *, rank: int, world_size: int, attempt_id: str | None,
                 prefix: str = "_restore", timeout_s: float = 300.0, poll_s: float = 0.02) -> None:
        self._store = store
        self._rank = rank
        self._world = world_size
        self._prefix = f"{prefix}/{attempt_tag(attempt_id)}"
        self._timeout = timeout_s
        self._poll = poll_s
        self._round = 0

    def __call__(self, step: int) -> tuple[int, int]:
        round_prefix = f"{self._prefix}/round-{self._round:03d}"
        self._round += 1
        self._store.put(f"{round_prefix}/rank-{self._rank:05d}", str(step).encode())
        deadline = time.monotonic() + self._timeout
        votes: dict[int, int] = {}
        while True:
            for rank in range(self._world):
                if rank in votes:
                    continue
                try:
                    votes[rank] = int(self._store.get(f"{round_prefix}/rank-{rank:05d}").decode())
                except (BlobNotFoundError, ValueError):
                    continue
            if len(votes) == self._world:
                return min(votes.values()), max(votes.values())
            if time.monotonic() > deadline:
                raise BlobStoreError(f"ranks {sorted(set(range(self._world)) - set(votes))} did not propose a "
                                     f"restore step within {self._timeout:.0f}s")
            time.sleep(self._poll)


class InProcessAgreement:
    """Ranks as threads: ``for_rank(r)`` is rank ``r``'s agreement."""

    def __init__(self, world_size: int) -> None:
        self._world = world_size
        self._barrier = threading.Barrier(world_size)
        self._lock = threading.Lock()
        self._votes: dict[int, dict[int, int]] = {}

    def for_rank(self, rank: int) -> Callable[[int], tuple[int, int]]:
        rounds = iter(range(1 << 30))

        def agree(step: int) -> tuple[int, int]:
            number = next(rounds)
            with self._lock:
                self._votes.setdefault(number, {})[rank] = step
            self._barrier.wait()
            votes = self._votes[number]
            return min(votes.values()), max(votes.values())

        return agree
