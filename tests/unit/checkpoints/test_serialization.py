"""A rank's state becomes one self-describing shard and comes back unchanged, or is refused by path."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from controlplane.checkpoints.serialization import (
    Sharded,
    decode_shard,
    encode_state,
    plan_shard,
    read_header,
    snapshot_into,
)
from tests.unit.checkpoints.ranks import assert_state_equal

needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")


def test_nested_numpy_state_round_trips_with_key_types_and_containers_kept() -> None:
    state = {
        "weights": np.arange(12, dtype=np.float32).reshape(3, 4),
        "empty": np.zeros((0, 5), dtype=np.int64),
        "flags": np.array([True, False]),
        7: {"nested": [np.float16(1.5), (1, 2.5, "x", None)], 3.5: b"\x00raw"},
        "scalar": np.int64(9),
        "text": "hello",
    }

    restored = decode_shard(encode_state(state))

    assert_state_equal(restored, state)
    assert isinstance(restored["scalar"], np.int64)


def test_payload_offsets_are_aligned_and_the_header_describes_every_array() -> None:
    plan = plan_shard({"a": np.ones(3, dtype=np.uint8), "b": np.ones(5, dtype=np.float64)})

    assert plan.payload_offset % 64 == 0
    assert [entry.offset % 64 for entry in plan.entries] == [0, 0]
    header, payload_offset = read_header(encode_state({"a": np.ones(3, dtype=np.uint8)}))
    assert payload_offset % 64 == 0 and header["entries"][0]["shape"] == [3]


def test_a_snapshot_reuses_a_larger_buffer_and_copies_the_arrays() -> None:
    weights = np.arange(100, dtype=np.float32)
    plan = plan_shard({"w": weights})
    buffer = np.empty(plan.total_bytes + 4096, dtype=np.uint8)

    data = snapshot_into(plan, buffer)
    weights[:] = -1  # training goes on and changes the live state

    assert data.nbytes == plan.total_bytes
    np.testing.assert_array_equal(decode_shard(data)["w"], np.arange(100, dtype=np.float32))


def test_a_too_small_buffer_is_refused() -> None:
    plan = plan_shard({"w": np.zeros(100)})

    with pytest.raises(ValueError, match="needed"):
        snapshot_into(plan, np.empty(10, dtype=np.uint8))


@pytest.mark.parametrize("value", [object(), {1, 2}, np.array([object()])])
def test_unsupported_values_are_refused_with_their_path(value: object) -> None:
    with pytest.raises(TypeError, match=r"state\.model\.bad"):
        plan_shard({"model": {"bad": value}})


def test_a_truncated_or_foreign_shard_does_not_decode() -> None:
    data = encode_state({"w": np.arange(1000, dtype=np.float64)})

    with pytest.raises(ValueError, match="truncated"):
        decode_shard(data[: len(data) // 2])
    with pytest.raises(ValueError, match="magic"):
        decode_shard(b"PK\x03\x04" + data[4:])


def test_sharded_pieces_keep_their_global_shape_and_offsets() -> None:
    piece = Sharded(np.ones((2, 4)), (6, 4), (2, 0))

    restored = decode_shard(encode_state({"w": piece}))["w"]

    assert isinstance(restored, Sharded)
    assert restored.global_shape == (6, 4) and restored.offsets == (2, 0)
    np.testing.assert_array_equal(restored.local, np.ones((2, 4)))


def test_a_sharded_piece_outside_its_global_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="exceeds"):
        Sharded(np.ones((3, 4)), (4, 4), (2, 0))


@needs_torch
def test_torch_state_dicts_round_trip_including_bfloat16_and_optimizer_state() -> None:
    import torch

    model = torch.nn.Linear(4, 3)
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.ones(2, 4)).sum().backward()
    optimizer.step()
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "half": torch.arange(6, dtype=torch.bfloat16).reshape(2, 3), "scalar": torch.tensor(3.5)}

    restored = decode_shard(encode_state(state))

    assert restored["half"].dtype == torch.bfloat16
    assert torch.equal(restored["half"], state["half"]) and torch.equal(restored["scalar"], state["scalar"])
    for name, tensor in state["model"].items():
        assert torch.equal(restored["model"][name], tensor)
    assert restored["optimizer"]["param_groups"] == state["optimizer"]["param_groups"]
    assert set(restored["optimizer"]["state"]) == {0, 1}  # integer keys stay integers
    fresh = torch.optim.AdamW(torch.nn.Linear(4, 3).parameters())
    fresh.load_state_dict(restored["optimizer"])
