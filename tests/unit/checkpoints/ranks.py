"""A job's ranks as objects of one test process: each with its own ``TieredCheckpoints``.

Host-memory tiers live in one ``InProcessNodeStores`` (one store per simulated node, so losing a
node is ``stores.lose(node)``); file and object tiers are real. Restores run the ranks on
threads with an ``InProcessAgreement``, as real ranks would run concurrently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from controlplane.checkpoints.agreement import InProcessAgreement
from controlplane.checkpoints.engine import CheckpointHandle, EngineOptions
from controlplane.checkpoints.events import CommitReport, EventRecorder, RankIdentity
from controlplane.checkpoints.restore import RestoredCheckpoint
from controlplane.checkpoints.sdk import TieredCheckpoints
from controlplane.checkpoints.tiers import InProcessNodeStores, NodeStores, build_tiers


def dp_coordinates(world_size: int) -> list[dict[str, int]]:
    return [{"dp": rank} for rank in range(world_size)]


class Job:
    """``world_size`` ranks of one attempt, placed on ``nodes[rank]``."""

    def __init__(self, tiers: Sequence[str], *, world_size: int, nodes: Sequence[str] | None = None,
                 peers: Mapping[str, str] | None = None, stores: NodeStores | None = None,
                 attempt_id: str = "attempt-1", job_id: str = "job-1", keep_last: int = 3,
                 coordinates: Sequence[Mapping[str, int]] | None = None, group_sizes: Mapping[str, int] | None = None,
                 commit_timeout_s: float = 10.0, storage_options: Mapping[str, Mapping[str, Any]] | None = None,
                 local_capacity_bytes: int | None = None) -> None:
        self.world_size = world_size
        self.nodes = list(nodes or ["node-a"] * world_size)
        self.stores = stores if stores is not None else InProcessNodeStores()
        self.events = EventRecorder(forward=None)
        self.reports: list[CommitReport] = []
        coordinates = list(coordinates or dp_coordinates(world_size))
        sizes = dict(group_sizes or {"dp": world_size})
        self.ranks: list[TieredCheckpoints] = []
        for rank in range(world_size):
            identity = RankIdentity(rank=rank, world_size=world_size, job_id=job_id, attempt_id=attempt_id,
                                    node=self.nodes[rank], coordinates=coordinates[rank], group_sizes=sizes)
            built = build_tiers(tiers, job_id=job_id, node=self.nodes[rank],
                                peer_node=(peers or {}).get(self.nodes[rank]), node_stores=self.stores,
                                storage_options=storage_options, local_capacity_bytes=local_capacity_bytes)
            options = EngineOptions(keep_last=keep_last, commit_timeout_s=commit_timeout_s, poll_interval_s=0.005)
            self.ranks.append(TieredCheckpoints(identity, built, options=options, events=self.events,
                                                reporter=self.reports.append))

    def checkpoint(self, states: Callable[[int], Any], step: int) -> list[CheckpointHandle]:
        return [hooks.save(None, step, states(rank)) for rank, hooks in enumerate(self.ranks)]

    def save_all(self, states: Callable[[int], Any], step: int, timeout: float = 30.0) -> list[CheckpointHandle]:
        handles = self.checkpoint(states, step)
        assert all(handle.wait(timeout) for handle in handles), "persist did not finish"
        return handles

    def restore_all(self, templates: Callable[[int], Any] | None = None) -> list[RestoredCheckpoint | None]:
        agreement = InProcessAgreement(self.world_size)
        for rank, hooks in enumerate(self.ranks):
            hooks._agreement = agreement.for_rank(rank)
        with ThreadPoolExecutor(self.world_size) as pool:
            futures = [pool.submit(hooks.restore, None, templates(rank) if templates else None)
                       for rank, hooks in enumerate(self.ranks)]
            return [future.result(timeout=60) for future in futures]

    def close(self) -> None:
        for hooks in self.ranks:
            hooks.close(10.0)


def rank_state(rank: int, step: int, size: int = 1000) -> dict[str, Any]:
    """A small, distinct state per rank and step."""
    generator = np.random.default_rng(rank * 1000 + step)
    return {"weights": generator.standard_normal(size).astype(np.float32), "step": step, "rank": rank,
            "optimizer": {"lr": 0.1, "moments": [generator.standard_normal(8), generator.standard_normal(8)]}}


def replica_state(step: int, size: int = 1000) -> dict[str, Any]:
    """The same state on every rank (data-parallel replicas)."""
    return rank_state(0, step, size) | {"rank": 0}


def assert_state_equal(actual: Any, expected: Any) -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and list(actual) == list(expected)
        for key in expected:
            assert_state_equal(actual[key], expected[key])
    elif isinstance(expected, list | tuple):
        assert type(actual) is type(expected) and len(actual) == len(expected)
        for left, right in zip(actual, expected, strict=True):
            assert_state_equal(left, right)
    elif isinstance(expected, np.ndarray):
        assert isinstance(actual, np.ndarray) and actual.dtype == expected.dtype
        np.testing.assert_array_equal(actual, expected)
    else:
        assert actual == expected and type(actual) is type(expected)
