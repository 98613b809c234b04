"""One rank's state as one self-describing shard: layout planning, the snapshot copy, and decoding.

A *state* is a tree of dicts (str/int/float/bool/None keys), lists, tuples and leaves. Leaves
are NumPy arrays, PyTorch tensors (optional import; ``bfloat16`` and other non-NumPy dtypes
travel as same-width integers), ``Sharded`` pieces of a global array, and plain values (int,
float, bool, str, None, bytes, NumPy scalars). Anything else is refused with the path of the
offending leaf, so a checkpoint never silently loses state.

A *shard* is one contiguous buffer::

    b"SLCKPT01" | header length (8 bytes, little endian) | header JSON | zero padding | payload

The header holds the tree (arrays replaced by entry indexes) and one entry per array (dtype,
shape, payload offset, byte count, and for ``Sharded`` leaves the global shape and offsets).
Payload offsets are 64-byte aligned. ``plan_shard`` computes the header without touching array
data; ``snapshot_into`` copies the arrays into a caller-provided buffer (the only part of a
checkpoint that blocks training: one memcpy per array, device-to-host for GPU tensors);
``decode_shard`` turns shard bytes back into the tree.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MAGIC = b"SLCKPT01"
PREFIX = struct.Struct("<8sQ")
ALIGNMENT = 64


@dataclass(frozen=True, slots=True)
class Sharded:
    """A piece of a global array: ``local`` covers ``[offsets, offsets + local.shape)`` of ``global_shape``.

    Save these (NumPy arrays or torch tensors as ``local``) for tensors split across ranks; on a
    changed layout, ``restore(template)`` assembles each requested piece from the saved ones.
    """

    local: Any
    global_shape: tuple[int, ...]
    offsets: tuple[int, ...]

    def __post_init__(self) -> None:
        shape = tuple(int(n) for n in _shape_of(self.local))
        if not (len(shape) == len(self.global_shape) == len(self.offsets)):
            raise ValueError(f"Sharded piece of rank {len(shape)} does not match global shape "
                             f"{self.global_shape} and offsets {self.offsets}")
        for size, offset, total in zip(shape, self.offsets, self.global_shape, strict=True):
            if offset < 0 or offset + size > total:
                raise ValueError(f"Sharded piece {shape} at {self.offsets} exceeds global shape {self.global_shape}")


@dataclass(frozen=True, slots=True)
class Entry:
    """One array in a shard's payload."""

    dtype: str
    shape: tuple[int, ...]
    offset: int
    nbytes: int
    kind: str = "numpy"  # "numpy" or "torch"
    torch_dtype: str | None = None
    global_shape: tuple[int, ...] | None = None
    global_offsets: tuple[int, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"dtype": self.dtype, "shape": list(self.shape), "offset": self.offset,
                                "nbytes": self.nbytes, "kind": self.kind}
        if self.torch_dtype:
            data["torchDtype"] = self.torch_dtype
        if self.global_shape is not None and self.global_offsets is not None:
            data["globalShape"], data["globalOffsets"] = list(self.global_shape), list(self.global_offsets)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        shape = data.get("globalShape")
        offsets = data.get("globalOffsets")
        return cls(dtype=str(data["dtype"]), shape=tuple(data["shape"]), offset=int(data["offset"]),
                   nbytes=int(data["nbytes"]), kind=str(data.get("kind", "numpy")),
                   torch_dtype=data.get("torchDtype"),
                   global_shape=tuple(shape) if shape is not None else None,
                   global_offsets=tuple(offsets) if offsets is not None else None)

    @property
    def sharded(self) -> bool:
        return self.global_shape is not None


@dataclass(slots=True)
class ShardPlan:
    """The header of a shard-to-be and the arrays to copy into its payload."""

    header: bytes
    payload_offset: int
    entries: list[Entry]
    sources: list[Any] = field(repr=False)

    @property
    def total_bytes(self) -> int:
        return self.payload_offset + (self.entries[-1].offset + self.entries[-1].nbytes if self.entries else 0)


def _shape_of(value: Any) -> tuple[int, ...]:
    return tuple(int(n) for n in value.shape)


def _torch() -> Any | None:
    import sys

    return sys.modules.get("torch")  # only tensors of an already-imported torch can be in a state


def _is_tensor(value: Any) -> bool:
    torch = _torch()
    return torch is not None and isinstance(value, torch.Tensor)


def _align(value: int) -> int:
    return (value + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def _numpy_view_dtype(tensor: Any) -> tuple[np.dtype[Any], str | None]:
    """The NumPy dtype a tensor's bytes travel as, and its torch dtype name when NumPy lacks it."""
    torch = _torch()
    assert torch is not None
    name = str(tensor.dtype).removeprefix("torch.")
    try:
        return np.dtype(torch.empty(0, dtype=tensor.dtype).numpy().dtype), name
    except (TypeError, RuntimeError):
        width = tensor.element_size()
        return np.dtype(f"<u{width}"), name


def plan_shard(state: Any) -> ShardPlan:
    """Walk ``state``; return the header and the arrays in payload order (no data is copied)."""
    entries: list[Entry] = []
    sources: list[Any] = []
    cursor = 0

    def add(array: Any, path: str, sharded: Sharded | None) -> dict[str, Any]:
        nonlocal cursor
        global_shape = tuple(int(n) for n in sharded.global_shape) if sharded else None
        global_offsets = tuple(int(n) for n in sharded.offsets) if sharded else None
        if _is_tensor(array):
            dtype, torch_name = _numpy_view_dtype(array)
            nbytes = int(array.numel()) * int(array.element_size())
            entry = Entry(dtype.str, _shape_of(array), cursor, nbytes, "torch", torch_name, global_shape,
                          global_offsets)
        elif isinstance(array, np.ndarray):
            if array.dtype.hasobject:
                raise TypeError(f"{path}: arrays of Python objects cannot be checkpointed")
            entry = Entry(array.dtype.str, _shape_of(array), cursor, int(array.nbytes), "numpy", None,
                          global_shape, global_offsets)
        else:
            raise TypeError(f"{path}: a Sharded piece must hold a NumPy array or a torch tensor")
        entries.append(entry)
        sources.append(array)
        cursor = _align(cursor + entry.nbytes)
        return {"a": len(entries) - 1}

    def encode(value: Any, path: str) -> Any:
        if isinstance(value, Sharded):
            return add(value.local, path, value)
        if isinstance(value, np.ndarray) or _is_tensor(value):
            return add(value, path, None)
        if isinstance(value, dict):
            items = []
            for key, item in value.items():
                if not isinstance(key, str | int | float | bool) and key is not None:
                    raise TypeError(f"{path}: dict key {key!r} of type {type(key).__name__} is not supported")
                items.append([key, encode(item, f"{path}.{key}")])
            return {"d": items}
        if isinstance(value, list | tuple):
            return {"l" if isinstance(value, list) else "t": [encode(item, f"{path}[{i}]")
                                                             for i, item in enumerate(value)]}
        if value is None or isinstance(value, bool | int | float | str):
            return {"v": value}
        if isinstance(value, bytes | bytearray):
            return {"b": base64.b64encode(bytes(value)).decode("ascii")}
        if isinstance(value, np.generic):
            return {"ns": [value.dtype.str, value.item()]}
        raise TypeError(f"{path}: values of type {type(value).__name__} cannot be checkpointed; use NumPy "
                        "arrays, torch tensors, dicts, lists and plain numbers or strings")

    tree = encode(state, "state")
    header = json.dumps({"tree": tree, "entries": [entry.to_json() for entry in entries]},
                        separators=(",", ":")).encode()
    payload_offset = _align(PREFIX.size + len(header))
    return ShardPlan(header, payload_offset, entries, sources)


def snapshot_into(plan: ShardPlan, buffer: np.ndarray) -> memoryview:
    """Copy the header and every array of ``plan`` into ``buffer``; return the shard's bytes."""
    total = plan.total_bytes
    if buffer.dtype != np.uint8 or buffer.size < total:
        raise ValueError(f"snapshot buffer holds {buffer.size} bytes, {total} needed")
    prefix = PREFIX.pack(MAGIC, len(plan.header))
    buffer[:PREFIX.size] = np.frombuffer(prefix, dtype=np.uint8)
    buffer[PREFIX.size:PREFIX.size + len(plan.header)] = np.frombuffer(plan.header, dtype=np.uint8)
    buffer[PREFIX.size + len(plan.header):plan.payload_offset] = 0
    base = plan.payload_offset
    for entry, source in zip(plan.entries, plan.sources, strict=True):
        target = buffer[base + entry.offset:base + entry.offset + entry.nbytes]
        if entry.nbytes == 0:
            continue
        if entry.kind == "torch":
            torch = _torch()
            assert torch is not None
            typed = target.view(np.dtype(entry.dtype)).reshape(entry.shape)
            destination = torch.from_numpy(typed)
            tensor = source.detach()
            if destination.dtype != tensor.dtype:
                tensor = tensor.view(destination.dtype) if tensor.dim() > 0 else tensor.reshape(1).view(
                    destination.dtype).reshape(())
            destination.copy_(tensor)
        else:
            np.copyto(target.view(np.dtype(entry.dtype)).reshape(entry.shape), source, casting="no")
    view: memoryview = buffer.data
    return view[:total]


def read_header(data: bytes | bytearray | memoryview) -> tuple[dict[str, Any], int]:
    """The decoded header and the payload offset; ``ValueError`` if ``data`` is not a shard."""
    if len(data) < PREFIX.size:
        raise ValueError("truncated shard: no header")
    magic, length = PREFIX.unpack(bytes(data[:PREFIX.size]))
    if magic != MAGIC:
        raise ValueError("not a Suanli checkpoint shard (bad magic)")
    if PREFIX.size + length > len(data):
        raise ValueError("truncated shard: header cut short")
    header = json.loads(bytes(data[PREFIX.size:PREFIX.size + length]))
    return header, _align(PREFIX.size + length)


def entry_array(data: bytes | bytearray | memoryview, payload_offset: int, entry: Entry) -> np.ndarray:
    """A writable NumPy array of the entry's bytes (its on-wire dtype)."""
    start = payload_offset + entry.offset
    if entry.nbytes == 0:
        return np.empty(entry.shape, dtype=np.dtype(entry.dtype))
    if start + entry.nbytes > len(data):
        raise ValueError("truncated shard: payload cut short")
    array = np.frombuffer(data, dtype=np.dtype(entry.dtype), count=int(np.prod(entry.shape, dtype=np.int64)),
                          offset=start).reshape(entry.shape)
    return array if array.flags.writeable else array.copy()


def as_leaf(array: np.ndarray, entry: Entry) -> Any:
    """The array as the kind of value it was saved from (a torch tensor for torch entries)."""
    if entry.kind != "torch":
        return array
    import torch

    tensor = torch.from_numpy(array if array.flags.c_contiguous else array.copy())
    wanted = getattr(torch, entry.torch_dtype or "", None)
    if wanted is not None and wanted != tensor.dtype:
        tensor = tensor.view(wanted) if tensor.dim() > 0 else tensor.reshape(1).view(wanted).reshape(())
    return tensor


def decode_tree(tree: Any, leaf: Callable[[int], Any]) -> Any:
    """Rebuild the state from its encoded tree; ``leaf(i)`` supplies entry ``i``'s value."""
    if "a" in tree:
        return leaf(int(tree["a"]))
    if "d" in tree:
        return {key: decode_tree(item, leaf) for key, item in tree["d"]}
    if "l" in tree:
        return [decode_tree(item, leaf) for item in tree["l"]]
    if "t" in tree:
        return tuple(decode_tree(item, leaf) for item in tree["t"])
    if "v" in tree:
        return tree["v"]
    if "b" in tree:
        return base64.b64decode(tree["b"])
    if "ns" in tree:
        return np.dtype(tree["ns"][0]).type(tree["ns"][1])
    raise ValueError(f"unknown node in checkpoint tree: {sorted(tree)}")


def decode_shard(data: bytes | bytearray | memoryview) -> Any:
    """The state saved in ``data`` (``Sharded`` leaves come back as ``Sharded``)."""
    header, payload_offset = read_header(data)
    entries = [Entry.from_json(item) for item in header["entries"]]

    def leaf(index: int) -> Any:
        entry = entries[index]
        value = as_leaf(entry_array(data, payload_offset, entry), entry)
        if entry.global_shape is not None and entry.global_offsets is not None:
            return Sharded(value, entry.global_shape, entry.global_offsets)
        return value

    return decode_tree(header["tree"], leaf)


def encode_state(state: Any) -> bytes:
    """``state`` as shard bytes in a fresh buffer (tests, small states)."""
    plan = plan_shard(state)
    buffer = np.empty(plan.total_bytes, dtype=np.uint8)
    return bytes(snapshot_into(plan, buffer))
