"""``torch.distributed.checkpoint``-style state: DTensors are saved as pieces of their global tensor."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from controlplane.checkpoints.sdk import convert_dtensors
from controlplane.checkpoints.serialization import Sharded
from tests.unit.checkpoints.ranks import Job

pytestmark = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")


@pytest.fixture
def mesh(tmp_path: Path) -> Iterator[Any]:
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1)
    try:
        yield init_device_mesh("cpu", (1,))
    finally:
        dist.destroy_process_group()


def test_a_dtensor_becomes_a_sharded_piece_with_its_global_shape_and_offsets(mesh: Any) -> None:
    import torch
    from torch.distributed.tensor import Shard, distribute_tensor

    weight = distribute_tensor(torch.arange(12.0).reshape(4, 3), mesh, [Shard(0)])

    converted = convert_dtensors({"model": {"weight": weight, "step": 3}})

    piece = converted["model"]["weight"]
    assert isinstance(piece, Sharded) and piece.global_shape == (4, 3) and piece.offsets == (0, 0)
    assert torch.equal(piece.local, torch.arange(12.0).reshape(4, 3)) and converted["model"]["step"] == 3


def test_a_torch_model_and_optimizer_round_trip_through_the_tiers(tmp_path: Path) -> None:
    import torch

    model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)).to(torch.bfloat16)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.ones(3, 8, dtype=torch.bfloat16)).float().sum().backward()
    optimizer.step()
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict()}
    job = Job(["memory://", f"file://{tmp_path}"], world_size=1)

    job.save_all(lambda rank: state, step=9)
    restored = Job([f"file://{tmp_path}"], world_size=1, attempt_id="attempt-2").restore_all()[0]

    assert restored is not None and restored.step == 9
    fresh = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)).to(torch.bfloat16)
    fresh.load_state_dict(restored.state["model"])
    for name, tensor in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[name], tensor)
    torch.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9).load_state_dict(restored.state["optimizer"])
