"""Resharding on restore: a new layout's state built from the shards of the layout that saved it.

Two cases are handled:

* **Data-parallel replicas.** Ranks that differ only in their ``dp`` coordinate hold the same
  state, so any saved rank with the same non-``dp`` coordinates is a valid source (we prefer
  ``dp = new_dp mod old_dp``, which spreads reads over the replicas). This covers a DP degree
  that shrank after a preemption, or grew onto more nodes.
* **Tensors saved with their global shape and offsets** (``serialization.Sharded``). Each such
  leaf is assembled from every saved piece that overlaps the region the new rank asks for: the
  region of the matching ``Sharded`` leaf in the caller's template (its ``local`` gives the
  shape, its ``offsets`` the position), or the whole global tensor without a template. Regions
  not covered by any saved piece are an error, never zeros.

Everything else (plain arrays and values) comes from the chosen source rank.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from controlplane.checkpoints.manifest import Manifest
from controlplane.checkpoints.serialization import Entry, Sharded, as_leaf, decode_tree, entry_array, read_header

DP_KEY = "dp"


def same_layout(manifest: Manifest, rank: int, world_size: int, coordinates: Mapping[str, int]) -> bool:
    shard = manifest.shard(rank)
    return (manifest.world_size == world_size and shard is not None
            and _normalized(shard.coordinates) == _normalized(coordinates))


def _normalized(coordinates: Mapping[str, int]) -> dict[str, int]:
    return {key: value for key, value in coordinates.items() if value != 0}


def replica_source(manifest: Manifest, coordinates: Mapping[str, int], group_sizes: Mapping[str, int]) -> int:
    """The saved rank whose state this rank should take its non-sharded leaves from."""
    mine = {key: value for key, value in coordinates.items() if key != DP_KEY}
    keys = set(mine) | {key for shard in manifest.shards for key in shard.coordinates if key != DP_KEY}
    old_dp = max(1, int(manifest.group_sizes.get(DP_KEY, 0)) or
                 len({shard.coordinates.get(DP_KEY, 0) for shard in manifest.shards}))
    wanted_dp = int(coordinates.get(DP_KEY, 0)) % old_dp

    def score(shard_rank: int) -> tuple[int, int, int]:
        shard = manifest.shards[shard_rank]
        matches = sum(1 for key in keys if shard.coordinates.get(key, 0) == mine.get(key, 0))
        return (matches, int(shard.coordinates.get(DP_KEY, 0) == wanted_dp), -shard.rank)

    return max(range(len(manifest.shards)), key=score)


def sharded_sources(manifest: Manifest, coordinates: Mapping[str, int]) -> list[int]:
    """Saved ranks that may hold pieces of sharded tensors: one per distinct non-dp position."""
    chosen: dict[tuple[tuple[str, int], ...], int] = {}
    for shard in manifest.shards:
        position = tuple(sorted((k, v) for k, v in shard.coordinates.items() if k != DP_KEY))
        chosen.setdefault(position, shard.rank)
    return sorted(chosen.values())


class _DecodedShard:
    """A shard's header, with lazy access to its arrays (on-wire NumPy dtypes)."""

    def __init__(self, data: bytes | bytearray) -> None:
        self.data = data
        header, self.payload_offset = read_header(data)
        self.tree = header["tree"]
        self.entries = [Entry.from_json(item) for item in header["entries"]]
        self.by_path: dict[str, int] = {}
        _index_paths(self.tree, "", self.by_path)

    def array(self, index: int) -> np.ndarray:
        return entry_array(self.data, self.payload_offset, self.entries[index])


def _index_paths(tree: Any, path: str, out: dict[str, int]) -> None:
    if "a" in tree:
        out[path] = int(tree["a"])
    elif "d" in tree:
        for key, item in tree["d"]:
            _index_paths(item, f"{path}/{key!r}", out)
    elif "l" in tree or "t" in tree:
        for index, item in enumerate(tree.get("l", tree.get("t"))):
            _index_paths(item, f"{path}/{index}", out)


def _template_regions(template: Any, path: str, out: dict[str, Sharded]) -> None:
    if isinstance(template, Sharded):
        out[path] = template
    elif isinstance(template, dict):
        for key, item in template.items():
            _template_regions(item, f"{path}/{key!r}", out)
    elif isinstance(template, list | tuple):
        for index, item in enumerate(template):
            _template_regions(item, f"{path}/{index}", out)


def _assemble(path: str, entry: Entry, pieces: Sequence[tuple[Entry, np.ndarray]], offsets: tuple[int, ...],
              shape: tuple[int, ...]) -> np.ndarray:
    target = np.empty(shape, dtype=np.dtype(entry.dtype))
    covered = np.zeros(shape, dtype=bool)
    for piece_entry, piece in pieces:
        assert piece_entry.global_offsets is not None
        source_slices, target_slices = [], []
        for start, size, piece_start, piece_size in zip(offsets, shape, piece_entry.global_offsets,
                                                        piece_entry.shape, strict=True):
            low, high = max(start, piece_start), min(start + size, piece_start + piece_size)
            if low >= high:
                break
            source_slices.append(slice(low - piece_start, high - piece_start))
            target_slices.append(slice(low - start, high - start))
        else:
            target[tuple(target_slices)] = piece[tuple(source_slices)]
            covered[tuple(target_slices)] = True
    if not covered.all():
        raise ValueError(f"{path or 'state'}: the saved pieces cover {int(covered.sum())} of the "
                         f"{covered.size} elements asked for; cannot reshard")
    return target


def reshard(manifest: Manifest, shards: Callable[[int], bytes | bytearray], *, coordinates: Mapping[str, int],
            group_sizes: Mapping[str, int], template: Any | None = None) -> Any:
    """This rank's state under its new layout; ``shards(rank)`` returns a verified saved shard."""
    source = _DecodedShard(shards(replica_source(manifest, coordinates, group_sizes)))
    regions: dict[str, Sharded] = {}
    if template is not None:
        _template_regions(template, "", regions)
    sharded_paths = {path for path, index in source.by_path.items() if source.entries[index].sharded}
    pieces: dict[str, list[tuple[Entry, np.ndarray]]] = {path: [] for path in sharded_paths}
    if sharded_paths:
        for rank in sharded_sources(manifest, coordinates):
            decoded = source if rank == replica_source(manifest, coordinates, group_sizes) else _DecodedShard(
                shards(rank))
            for path in sharded_paths:
                index = decoded.by_path.get(path)
                if index is not None and decoded.entries[index].sharded:
                    pieces[path].append((decoded.entries[index], decoded.array(index)))
    paths = {index: path for path, index in source.by_path.items()}

    def leaf(index: int) -> Any:
        entry = source.entries[index]
        if not entry.sharded:
            return as_leaf(source.array(index), entry)
        path = paths[index]
        assert entry.global_shape is not None
        wanted = regions.get(path)
        if wanted is not None:
            offsets, shape = tuple(wanted.offsets), tuple(int(n) for n in wanted.local.shape)
        else:
            offsets, shape = (0,) * len(entry.global_shape), tuple(entry.global_shape)
        array = _assemble(path, entry, pieces[path], offsets, shape)
        return Sharded(as_leaf(array, entry), tuple(entry.global_shape), offsets)

    return decode_tree(source.tree, leaf)
