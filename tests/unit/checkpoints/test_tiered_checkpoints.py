"""Snapshot then persist through the tiers, commit by manifest, restore from the fastest valid copy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from controlplane.checkpoints import catalog
from controlplane.checkpoints.blobstore import InProcessMemoryStore
from controlplane.checkpoints.manifest import Manifest, attempt_tag, manifest_key, shard_key
from controlplane.checkpoints.tiers import InProcessNodeStores
from tests.unit.checkpoints.ranks import Job, assert_state_equal, rank_state


@pytest.fixture
def tiers(tmp_path: Path) -> list[str]:
    return ["memory://", f"file://{tmp_path / 'ckpt'}"]


def test_a_checkpoint_is_committed_on_every_tier_and_reported_once_per_tier(tiers: list[str]) -> None:
    job = Job(tiers, world_size=1)

    handle, = job.save_all(lambda rank: rank_state(rank, 10), step=10)

    assert handle.step == 10 and handle.snapshot_s >= 0
    assert sorted(handle.committed_tiers) == sorted(tiers)
    assert sorted(report.tier for report in job.reports) == sorted(tiers)
    assert all(report.step == 10 and report.bytes == handle.bytes for report in job.reports)
    assert sorted(report.uri for report in job.reports) == sorted([f"{tiers[1]}/{handle.checkpoint}",
                                                                   f"memory://job-1/{handle.checkpoint}"])
    assert job.events.kinds().count("committed") == 2


def test_restore_returns_the_newest_state_read_from_the_fastest_tier(tiers: list[str]) -> None:
    job = Job(tiers, world_size=2)
    job.save_all(lambda rank: rank_state(rank, 10), step=10)
    job.save_all(lambda rank: rank_state(rank, 20), step=20)

    restored = job.restore_all()

    for rank, item in enumerate(restored):
        assert item is not None
        step, state = item
        assert step == 20 and item.tiers == ["memory://"] and not item.resharded
        assert_state_equal(state, rank_state(rank, 20))


def test_the_live_state_can_change_right_after_the_snapshot(tiers: list[str]) -> None:
    job = Job(tiers, world_size=1)
    live = rank_state(0, 1)
    expected = rank_state(0, 1)

    handle, = job.checkpoint(lambda rank: live, step=1)
    live["weights"][:] = 0.0  # the next training step
    handle.wait(10)

    restored = job.restore_all()[0]
    assert restored is not None
    assert_state_equal(restored.state, expected)


def test_nothing_is_committed_until_every_rank_has_written(tiers: list[str]) -> None:
    job = Job(tiers, world_size=2, commit_timeout_s=0.2)

    handle = job.ranks[0].save(None, 5, rank_state(0, 5))  # rank 1 never checkpoints step 5
    assert handle.wait(10)

    assert handle.committed_tiers == []
    assert {outcome.state for outcome in handle.outcomes.values()} == {"failed"}
    assert all(catalog.committed(tier) == [] for tier in job.ranks[0].tiers)
    assert job.restore_all() == [None, None]


def test_retention_keeps_the_newest_checkpoints_of_each_tier(tiers: list[str]) -> None:
    job = Job(tiers, world_size=2, keep_last=2)

    for step in (10, 20, 30, 40):
        job.save_all(lambda rank, step=step: rank_state(rank, step), step=step)

    for tier in job.ranks[0].tiers:
        assert [item.step for item in catalog.committed(tier)] == [40, 30]
        assert sorted(catalog.checkpoint_dirs(tier)) == [item.checkpoint for item in
                                                         reversed(catalog.committed(tier))]
    assert "retention" in job.events.kinds()


def test_orphans_of_an_earlier_attempt_are_collected_after_a_commit(tiers: list[str], tmp_path: Path) -> None:
    earlier = Job(tiers, world_size=2, attempt_id="attempt-1", commit_timeout_s=0.2)
    earlier.ranks[1].save(None, 15, rank_state(1, 15)).wait(10)  # rank 0 died before step 15
    orphan = f"step-{15:010d}-{attempt_tag('attempt-1')}"
    assert (tmp_path / "ckpt" / "job-1" / orphan).is_dir()

    later = Job(tiers, world_size=2, attempt_id="attempt-2")
    later.save_all(lambda rank: rank_state(rank, 20), step=20)

    assert not (tmp_path / "ckpt" / "job-1" / orphan).exists()
    assert "gc" in later.events.kinds()


def test_an_unavailable_tier_is_skipped_and_the_others_commit(tmp_path: Path) -> None:
    job = Job(["memory://", "peer://", f"file://{tmp_path}"], world_size=1)  # no peer node assigned

    handle, = job.save_all(lambda rank: rank_state(rank, 3), step=3)

    assert handle.outcomes["peer://"].state == "skipped"
    assert sorted(handle.committed_tiers) == ["file://" + str(tmp_path), "memory://"]
    assert "tier_unavailable" in job.events.kinds()


def test_a_full_disk_tier_fails_alone_and_nothing_torn_is_left_there(tmp_path: Path) -> None:
    job = Job(["memory://", f"file://{tmp_path / 'disk'}"], world_size=1, local_capacity_bytes=2000)

    handle, = job.save_all(lambda rank: rank_state(rank, 7, size=5000), step=7)

    assert handle.committed_tiers == ["memory://"]
    assert handle.outcomes[f"file://{tmp_path / 'disk'}"].state == "failed"
    assert "tier_failed" in job.events.kinds()
    assert catalog.committed(job.ranks[0].tiers[1]) == []


def test_tiers_are_written_fastest_first_by_measured_bandwidth(tmp_path: Path) -> None:
    job = Job([f"file://{tmp_path}", "memory://"], world_size=1)
    engine = job.ranks[0].engine

    assert [tier.uri for tier in engine.write_order()] == ["memory://", f"file://{tmp_path}"]
    engine.record_bandwidth("memory://", 100 << 20, 10.0)  # memory turned out slow (10 MiB/s)
    engine.record_bandwidth(f"file://{tmp_path}", 100 << 20, 0.1)

    assert [tier.uri for tier in engine.write_order()] == [f"file://{tmp_path}", "memory://"]


def test_a_corrupt_copy_falls_back_to_the_next_tier_with_an_event(tiers: list[str]) -> None:
    job = Job(tiers, world_size=1)
    job.save_all(lambda rank: rank_state(rank, 10), step=10)
    memory = job.stores.store("node-a")
    key = next(key for key in memory.list() if key.endswith(shard_key(f"step-{10:010d}-"
                                                                       f"{attempt_tag('attempt-1')}", 0)))
    data = bytearray(memory.get(key))
    data[-1] ^= 0xFF
    memory.put(key, bytes(data))

    restored = job.restore_all()[0]

    assert restored is not None and restored.step == 10 and restored.tiers == [tiers[1]]
    assert_state_equal(restored.state, rank_state(0, 10))
    assert [event.kind for event in restored.events] == ["fallback_tier", "restored"]
    assert "corrupt" in restored.events[0].message


def test_when_every_copy_of_a_shard_is_bad_all_ranks_agree_on_the_previous_checkpoint(tiers: list[str]) -> None:
    job = Job(tiers, world_size=3)
    job.save_all(lambda rank: rank_state(rank, 10), step=10)
    job.save_all(lambda rank: rank_state(rank, 20), step=20)
    name = f"step-{20:010d}-{attempt_tag('attempt-1')}"
    for tier in job.ranks[0].tiers:  # rank 2's shard of step 20 is gone everywhere
        for store in tier.readers().values():
            store.delete(tier.key(shard_key(name, 2)))

    restored = job.restore_all()

    assert [item.step if item else None for item in restored] == [10, 10, 10]
    for rank, item in enumerate(restored):
        assert item is not None
        assert_state_equal(item.state, rank_state(rank, 10))
    assert "fallback_checkpoint" in [event.kind for event in restored[2].events]


def test_a_deleted_manifest_means_the_checkpoint_does_not_exist_on_that_tier(tiers: list[str]) -> None:
    job = Job(tiers, world_size=1)
    job.save_all(lambda rank: rank_state(rank, 10), step=10)
    job.save_all(lambda rank: rank_state(rank, 20), step=20)
    for tier in job.ranks[0].tiers:
        for store in tier.readers().values():
            store.delete(tier.key(manifest_key(f"step-{20:010d}-{attempt_tag('attempt-1')}")))

    restored = job.restore_all()[0]

    assert restored is not None and restored.step == 10


def test_losing_a_node_restores_its_ranks_from_the_peer_tier() -> None:
    stores = InProcessNodeStores()
    nodes = ["node-a", "node-a", "node-b", "node-b"]
    peers = {"node-a": "node-b", "node-b": "node-a"}
    job = Job(["memory://", "peer://"], world_size=4, nodes=nodes, peers=peers, stores=stores)
    job.save_all(lambda rank: rank_state(rank, 30), step=30)
    stores.lose("node-a")  # the node and its RAM are gone; a replacement comes up empty
    stores.store("node-c")

    replacement = Job(["memory://", "peer://"], world_size=4, nodes=["node-c", "node-c", "node-b", "node-b"],
                      peers={"node-c": "node-b", "node-b": "node-c"}, stores=stores, attempt_id="attempt-2")
    restored = replacement.restore_all()

    for rank, item in enumerate(restored):
        assert item is not None and item.step == 30
        assert_state_equal(item.state, rank_state(rank, 30))
    assert restored[0].tiers == ["peer://"]  # type: ignore[union-attr]
    assert set(restored[2].tiers) == {"memory://"}  # type: ignore[union-attr]


def test_manifests_record_the_layout_sizes_checksums_and_locations(tiers: list[str]) -> None:
    job = Job(tiers, world_size=2, nodes=["node-a", "node-b"])
    job.save_all(lambda rank: rank_state(rank, 4), step=4)

    memory, file_tier = job.ranks[0].tiers
    manifest: Manifest = catalog.committed(memory)[0].manifest
    assert manifest.step == 4 and manifest.world_size == 2 and manifest.attempt_id == "attempt-1"
    assert [shard.location for shard in manifest.shards] == ["node-a", "node-b"]
    assert all(shard.checksum.startswith("crc32:") and shard.bytes > 0 for shard in manifest.shards)
    assert manifest.tiers == tuple(tiers) and manifest.snapshot_s is not None
    assert [shard.location for shard in catalog.committed(file_tier)[0].manifest.shards] == ["", ""]


def test_an_in_process_memory_store_can_be_bounded() -> None:
    store = InProcessMemoryStore(capacity_bytes=10)
    store.put("a", b"12345")

    with pytest.raises(OSError, match="full"):
        store.put("b", np.zeros(10, dtype=np.uint8).tobytes())
