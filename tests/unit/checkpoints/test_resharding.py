"""A checkpoint saved under one layout restores under another: DP replicas and global-offset tensors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from controlplane.checkpoints.serialization import Sharded
from controlplane.checkpoints.tiers import InProcessNodeStores
from tests.unit.checkpoints.ranks import Job, assert_state_equal, replica_state

GLOBAL = np.arange(8 * 6, dtype=np.float32).reshape(8, 6)


def row_sharded(rank: int, world: int, step: int) -> dict[str, Any]:
    """Rows of ``GLOBAL`` split evenly over ``world`` ranks, plus a replicated bias."""
    rows = GLOBAL.shape[0] // world
    piece = GLOBAL[rank * rows:(rank + 1) * rows]
    return {"weight": Sharded(piece.copy(), GLOBAL.shape, (rank * rows, 0)), "bias": np.full(3, step, np.float32),
            "step": step}


def test_a_data_parallel_job_shrunk_from_four_to_two_replicas_restores_the_same_state(tmp_path: Path) -> None:
    stores = InProcessNodeStores()
    tiers = ["memory://", f"file://{tmp_path}"]
    Job(tiers, world_size=4, stores=stores).save_all(lambda rank: replica_state(40), step=40)

    shrunk = Job(tiers, world_size=2, stores=stores, attempt_id="attempt-2")
    restored = shrunk.restore_all()

    for item in restored:
        assert item is not None and item.step == 40 and item.resharded
        assert_state_equal(item.state, replica_state(40))


def test_a_data_parallel_job_grown_onto_more_replicas_restores_every_one(tmp_path: Path) -> None:
    tiers = [f"file://{tmp_path}"]
    Job(tiers, world_size=2).save_all(lambda rank: replica_state(8), step=8)

    restored = Job(tiers, world_size=3, attempt_id="attempt-2").restore_all()

    assert [item.step if item else None for item in restored] == [8, 8, 8]


def test_sharded_tensors_are_reassembled_for_the_new_ranks_pieces(tmp_path: Path) -> None:
    tiers = [f"file://{tmp_path}"]
    four = [{"tp": rank} for rank in range(4)]
    Job(tiers, world_size=4, coordinates=four, group_sizes={"tp": 4}).save_all(
        lambda rank: row_sharded(rank, 4, 12), step=12)
    two = [{"tp": rank} for rank in range(2)]

    restored = Job(tiers, world_size=2, coordinates=two, group_sizes={"tp": 2}, attempt_id="attempt-2").restore_all(
        templates=lambda rank: row_sharded(rank, 2, 0))

    for rank, item in enumerate(restored):
        assert item is not None and item.resharded
        expected = row_sharded(rank, 2, 12)
        weight = item.state["weight"]
        assert isinstance(weight, Sharded) and weight.offsets == expected["weight"].offsets
        np.testing.assert_array_equal(weight.local, expected["weight"].local)
        np.testing.assert_array_equal(item.state["bias"], expected["bias"])


def test_without_a_template_a_sharded_tensor_comes_back_whole(tmp_path: Path) -> None:
    tiers = [f"file://{tmp_path}"]
    coordinates = [{"tp": rank} for rank in range(4)]
    Job(tiers, world_size=4, coordinates=coordinates, group_sizes={"tp": 4}).save_all(
        lambda rank: row_sharded(rank, 4, 1), step=1)

    restored = Job(tiers, world_size=1, coordinates=[{}], group_sizes={}, attempt_id="attempt-2").restore_all()[0]

    assert restored is not None
    np.testing.assert_array_equal(restored.state["weight"].local, GLOBAL)


def test_a_region_no_saved_piece_covers_is_an_error_not_zeros(tmp_path: Path) -> None:
    tiers = [f"file://{tmp_path}"]
    coordinates = [{"tp": rank} for rank in range(2)]

    def half_saved(rank: int) -> dict[str, Any]:
        # Both ranks saved the *same* rows 0-3 by mistake: rows 4-7 exist nowhere.
        return {"weight": Sharded(GLOBAL[:4].copy(), GLOBAL.shape, (0, 0))}

    Job(tiers, world_size=2, coordinates=coordinates, group_sizes={"tp": 2}).save_all(half_saved, step=3)
    job = Job(tiers, world_size=1, coordinates=[{}], group_sizes={}, attempt_id="attempt-2")

    assert job.restore_all() == [None]
    assert "cover" in " ".join(event.message for event in job.events.events)


@pytest.mark.parametrize("old_dp", [4, 2])
def test_replicas_are_read_spread_over_the_saved_ranks(tmp_path: Path, old_dp: int) -> None:
    from controlplane.checkpoints import catalog
    from controlplane.checkpoints.resharding import replica_source

    tiers = [f"file://{tmp_path}"]
    Job(tiers, world_size=old_dp).save_all(lambda rank: replica_state(2), step=2)
    manifest = catalog.committed(Job(tiers, world_size=1).ranks[0].tiers[0])[0].manifest

    sources = [replica_source(manifest, {"dp": rank}, {"dp": 2}) for rank in range(2)]

    assert sources == [0, 1]
