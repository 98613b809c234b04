"""Each tier is its own pipeline: a slow tier never holds back a fast one.

The slow tier is an object store whose writes wait at a gate the test opens, so what is (and is
not) committed while an upload hangs is deterministic.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controlplane.checkpoints import catalog
from controlplane.checkpoints.blobstore import BlobStoreError, InProcessMemoryStore
from controlplane.checkpoints.engine import CheckpointEngine, CheckpointHandle, EngineOptions
from controlplane.checkpoints.events import CheckpointEvent, EventRecorder, RankIdentity
from controlplane.checkpoints.manifest import checkpoint_id, shard_key
from controlplane.checkpoints.tiers import InProcessNodeStores, Tier, TierKind, build_tiers
from tests.unit.checkpoints.ranks import rank_state

SLOW = "s3://slow-bucket"
HANG_GUARD_S = 30.0


class GatedStore(InProcessMemoryStore):
    """An object store whose every write waits until ``gate`` is set (an upload that hangs)."""

    def __init__(self) -> None:
        super().__init__("slow")
        self.gate = threading.Event()

    def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        if not self.gate.wait(HANG_GUARD_S):
            raise BlobStoreError("the test never opened the gate")
        super().put(key, data)


class Ranks:
    """Two ranks checkpointing to memory://, a directory and the gated object store."""

    def __init__(self, tmp_path: Path, *, buffers: int = 2) -> None:
        self.slow = GatedStore()
        self.stores = InProcessNodeStores()
        self.events = EventRecorder(forward=None)
        self.commits: dict[tuple[str, int], threading.Event] = {}
        self.engines: list[CheckpointEngine] = []
        for rank in range(2):
            identity = RankIdentity(rank=rank, world_size=2, job_id="job-1", attempt_id="attempt-1",
                                    node=f"node-{rank}", coordinates={"dp": rank}, group_sizes={"dp": 2})
            tiers = build_tiers(["memory://", f"file://{tmp_path / 'disk'}"], job_id="job-1", node=identity.node,
                                peer_node=None, node_stores=self.stores)
            tiers.append(Tier(SLOW, TierKind.OBJECT, "", self.slow, "", lambda: {"": self.slow}))
            options = EngineOptions(buffers=buffers, commit_timeout_s=HANG_GUARD_S, poll_interval_s=0.002)
            self.engines.append(CheckpointEngine(identity, tiers, options=options, events=self._event))
        self.tiers = {tier.uri: tier for tier in self.engines[0].tiers}
        self.disk = f"file://{tmp_path / 'disk'}"

    def _event(self, event: CheckpointEvent) -> None:
        self.events(event)
        if event.kind == "committed" and event.tier is not None and event.step is not None:
            self.committed_signal(event.tier, event.step).set()

    def committed_signal(self, tier: str, step: int) -> threading.Event:
        return self.commits.setdefault((tier, step), threading.Event())

    def wait_committed(self, tier: str, step: int) -> None:
        assert self.committed_signal(tier, step).wait(HANG_GUARD_S), f"step {step} never committed on {tier}"

    def checkpoint(self, step: int) -> list[CheckpointHandle]:
        return [engine.checkpoint(rank_state(rank, step, size=50_000), step)
                for rank, engine in enumerate(self.engines)]

    def committed_steps(self, tier: str) -> list[int]:
        return [item.step for item in catalog.committed(self.tiers[tier])]

    def commit_order(self, tier: str) -> list[int]:
        return [event.step for event in self.events.events if event.kind == "committed" and event.tier == tier
                and event.step is not None]

    def close(self) -> None:
        self.slow.gate.set()
        for engine in self.engines:
            engine.close(HANG_GUARD_S)


@pytest.fixture
def ranks(tmp_path: Path) -> Iterator[Ranks]:  # two buffers each
    job = Ranks(tmp_path)
    yield job
    job.close()


def test_a_newer_checkpoint_commits_in_memory_while_an_older_one_is_still_uploading(ranks: Ranks) -> None:
    older = ranks.checkpoint(10)
    newer = ranks.checkpoint(20)

    ranks.wait_committed("memory://", 20)
    ranks.wait_committed(ranks.disk, 20)

    assert ranks.committed_steps("memory://") == [20, 10]
    assert ranks.committed_steps(SLOW) == []  # step 10's upload still hangs
    assert not older[0].done() and not newer[0].done()
    assert older[0].outcomes["memory://"].state == "committed"
    assert SLOW not in older[0].outcomes  # the coordinator's shard of step 10 is not even up yet
    assert not ranks.engines[0].wait(timeout=0)


def test_the_slow_tier_still_commits_every_checkpoint_in_step_order(ranks: Ranks) -> None:
    handles = ranks.checkpoint(10) + ranks.checkpoint(20)
    ranks.wait_committed("memory://", 20)

    ranks.slow.gate.set()

    assert all(handle.wait(HANG_GUARD_S) for handle in handles)
    coordinator = [handles[0], handles[2]]
    assert all(sorted(handle.committed_tiers) == sorted(ranks.tiers) for handle in coordinator)
    assert {outcome.state for outcome in handles[1].outcomes.values()} == {"written"}
    assert ranks.commit_order(SLOW) == [10, 20]
    assert ranks.commit_order("memory://") == [10, 20]
    assert ranks.committed_steps(SLOW) == [20, 10]
    assert "tier_failed" not in ranks.events.kinds()


def test_a_snapshot_buffer_is_reused_only_after_the_slow_tier_has_its_bytes(ranks: Ranks) -> None:
    ranks.checkpoint(10)
    ranks.checkpoint(20)  # both buffers now wait for the slow tier
    ranks.wait_committed("memory://", 20)
    third: dict[str, Any] = {}
    blocked = threading.Thread(target=lambda: third.update(handles=ranks.checkpoint(30)))
    blocked.start()

    ranks.wait_committed(ranks.disk, 20)

    assert blocked.is_alive() and "handles" not in third  # every tier but the slow one is done: still blocked
    ranks.slow.gate.set()
    blocked.join(HANG_GUARD_S)

    assert all(handle.wait(HANG_GUARD_S) for handle in third["handles"])
    step_10 = checkpoint_id(10, "attempt-1")
    memory_copy = ranks.stores.store("node-0").get(f"memory/job-1/{shard_key(step_10, 0)}")
    assert ranks.slow.get(shard_key(step_10, 0)) == memory_copy  # step 10's bytes, not step 30's
