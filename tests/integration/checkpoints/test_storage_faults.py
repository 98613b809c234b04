"""Faults on real storage never surface a torn checkpoint: the job resumes from the newest valid one.

The S3 tier is a real SeaweedFS server driven through s3fs; the disk tier is a real directory
(and a real 1 MiB tmpfs for the full-disk case). Every fault is injected at a fixed point of the
protocol, so the outcome is deterministic.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from controlplane.checkpoints import catalog
from controlplane.checkpoints.manifest import attempt_tag, manifest_key, shard_key
from controlplane.checkpoints.tiers import InProcessNodeStores
from tests.s3_server import SeaweedS3, start_seaweedfs
from tests.unit.checkpoints.ranks import Job, assert_state_equal, rank_state


def name_of(step: int, attempt: str = "attempt-1") -> str:
    return f"step-{step:010d}-{attempt_tag(attempt)}"


def test_a_job_restores_from_the_object_store_when_memory_and_disk_are_gone(seaweedfs: SeaweedS3,
                                                                            tmp_path: Path) -> None:
    s3 = seaweedfs.url(f"job-{uuid.uuid4().hex[:6]}")
    options = {"s3": seaweedfs.storage_options()}
    Job(["memory://", f"file://{tmp_path / 'disk'}", s3], world_size=2, storage_options=options).save_all(
        lambda rank: rank_state(rank, 10), step=10)

    fresh = Job([s3], world_size=2, storage_options=options, attempt_id="attempt-2")  # new nodes, no disk
    restored = fresh.restore_all()

    for rank, item in enumerate(restored):
        assert item is not None and item.step == 10 and item.tiers == [s3]
        assert_state_equal(item.state, rank_state(rank, 10))


def test_killing_the_object_store_mid_checkpoint_leaves_no_torn_checkpoint_behind(fresh_seaweedfs: SeaweedS3,
                                                                                  tmp_path: Path) -> None:
    s3 = fresh_seaweedfs.url("job")
    job = Job(["memory://", s3], world_size=2, storage_options={"s3": fresh_seaweedfs.storage_options()},
              commit_timeout_s=1.0)
    job.save_all(lambda rank: rank_state(rank, 10), step=10)
    assert job.ranks[1].save(None, 20, rank_state(1, 20)).wait(30)  # rank 1's shard of step 20 is uploaded...
    fresh_seaweedfs.kill()  # ...and the server dies before rank 0's upload and the commit
    rank0 = job.ranks[0].save(None, 20, rank_state(0, 20))
    assert rank0.wait(60)
    assert rank0.outcomes[s3].state == "failed" and rank0.outcomes["memory://"].state == "committed"

    revived = start_seaweedfs(fresh_seaweedfs.directory)  # same data, new ports
    try:
        fs = revived.filesystem()
        assert fs.exists(f"{revived.bucket}/job/job-1/{shard_key(name_of(20), 1)}")  # the torn piece is there
        after = Job([revived.url("job")], world_size=2, storage_options={"s3": revived.storage_options()},
                    attempt_id="attempt-2")
        restored = after.restore_all()
    finally:
        revived.stop()

    assert [item.step if item else None for item in restored] == [10, 10]
    for rank, item in enumerate(restored):
        assert item is not None
        assert_state_equal(item.state, rank_state(rank, 10))


def test_a_corrupt_shard_on_disk_falls_back_to_the_object_store(seaweedfs: SeaweedS3, tmp_path: Path) -> None:
    disk, s3 = f"file://{tmp_path / 'disk'}", seaweedfs.url(f"job-{uuid.uuid4().hex[:6]}")
    options = {"s3": seaweedfs.storage_options()}
    Job([disk, s3], world_size=2, storage_options=options).save_all(lambda rank: rank_state(rank, 5), step=5)
    shard = tmp_path / "disk" / "job-1" / shard_key(name_of(5), 1)
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x5A
    shard.write_bytes(bytes(data))

    job = Job([disk, s3], world_size=2, storage_options=options, attempt_id="attempt-2")
    restored = job.restore_all()

    assert restored[0] is not None and restored[0].tiers == [disk]
    assert restored[1] is not None and restored[1].tiers == [s3]
    assert_state_equal(restored[1].state, rank_state(1, 5))
    fallback = [event for event in restored[1].events if event.kind == "fallback_tier"]
    assert len(fallback) == 1 and "corrupt" in fallback[0].message and fallback[0].tier == disk


def test_a_corrupt_shard_on_the_only_tier_falls_back_to_the_previous_checkpoint(tmp_path: Path) -> None:
    disk = f"file://{tmp_path / 'disk'}"
    job = Job([disk], world_size=2)
    job.save_all(lambda rank: rank_state(rank, 5), step=5)
    job.save_all(lambda rank: rank_state(rank, 10), step=10)
    shard = tmp_path / "disk" / "job-1" / shard_key(name_of(10), 0)
    shard.write_bytes(shard.read_bytes()[:-100])  # truncated, as by a crash of a non-atomic writer

    restored = Job([disk], world_size=2, attempt_id="attempt-2").restore_all()

    assert [item.step if item else None for item in restored] == [5, 5]
    kinds = [event.kind for event in restored[0].events]  # type: ignore[union-attr]
    assert kinds == ["fallback_tier", "fallback_checkpoint", "restored"]


def test_a_deleted_manifest_uncommits_the_checkpoint_on_that_tier_only(seaweedfs: SeaweedS3, tmp_path: Path) -> None:
    disk, s3 = f"file://{tmp_path / 'disk'}", seaweedfs.url(f"job-{uuid.uuid4().hex[:6]}")
    options = {"s3": seaweedfs.storage_options()}
    job = Job([disk, s3], world_size=1, storage_options=options)
    job.save_all(lambda rank: rank_state(rank, 5), step=5)
    job.save_all(lambda rank: rank_state(rank, 10), step=10)
    (tmp_path / "disk" / "job-1" / manifest_key(name_of(10))).unlink()

    disk_only = Job([disk], world_size=1, attempt_id="attempt-2").restore_all()[0]
    both = Job([disk, s3], world_size=1, storage_options=options, attempt_id="attempt-2").restore_all()[0]

    assert disk_only is not None and disk_only.step == 5
    assert both is not None and both.step == 10 and both.tiers == [s3]


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB tmpfs, or a skip where mounting is not permitted."""
    mount = tmp_path / "tiny-disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True,
                            text=True, check=False)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip() or result.returncode})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_tier_fails_without_leaving_pieces_and_memory_still_commits(tiny_disk: Path) -> None:
    stores = InProcessNodeStores()
    disk = f"file://{tiny_disk}"
    job = Job(["memory://", disk], world_size=2, stores=stores, commit_timeout_s=1.0)
    job.save_all(lambda rank: rank_state(rank, 1, size=1000), step=1)  # small: fits

    handles = job.save_all(lambda rank: rank_state(rank, 2, size=200_000), step=2)  # 2 x 800 KB: does not

    assert handles[0].outcomes["memory://"].state == "committed"
    assert "failed" in {handle.outcomes[disk].state for handle in handles}
    assert [item.step for item in catalog.committed(job.ranks[0].tiers[1])] == [1]
    leftovers = [path.name for path in tiny_disk.rglob("*") if ".tmp-" in path.name]
    assert leftovers == []
    restored = Job([disk], world_size=2, attempt_id="attempt-2").restore_all()
    assert [item.step if item else None for item in restored] == [1, 1]
