"""The placement contract: what a placer is asked, what it answers, and how ranks are numbered.

Vocabulary:
- *rank*: a worker process, ``0 .. world-1`` with ``world = tp × cp × dp × pp``
  (``Layout.devices``); one rank drives one device.
- *coordinates*: a rank's index along each parallel dimension (``RankCoordinates``).
- *group*: the ranks that communicate in one collective of one kind: ``"tp"``, ``"cp"``,
  ``"dp"``, ``"pp"`` (the stages of one pipeline, in stage order) and, when ``ep > 1``,
  ``"ep"`` (one expert-parallel all-to-all group) and ``"edp"`` (the ranks holding the same
  experts, whose expert gradients are reduced together); when ``cp > 1`` also ``"dp_cp"``
  (the data × context group over which dense gradients are reduced, as Megatron does).

Rank ordering (Megatron-Core's default ``tp-cp-ep-dp-pp``): tensor fastest, then context, then
data, pipeline slowest::

    rank = tp + TP · (cp + CP · (dp + DP · pp))

Expert parallelism is carved out of the ``cp × dp`` ranks of one stage: with
``j = cp + CP · dp`` (the rank's index among the data × context ranks of its stage and tensor
slot), its expert-parallel index is ``ep = j mod EP`` and the ranks with equal ``j div EP``
(same ``tp`` and ``pp``) form one EP group; ranks with equal ``j mod EP`` form an EDP group.

``place()`` never mutates the topology; the caller allocates ``placement.devices`` (e.g.
``topology.allocate(placement.devices, owner=attempt_id)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from controlplane.perfmodel.shapes import Layout, ModelShape
from controlplane.topology.topology import Topology

GROUP_KINDS: tuple[str, ...] = ("tp", "cp", "dp", "pp", "ep", "edp", "dp_cp")
"""Every group kind a placement may list (``ep``/``edp`` only when ep > 1, ``dp_cp`` only when
cp > 1)."""


@dataclass(frozen=True)
class PlacementRequest:
    """What to place.

    ``allowed_accelerators`` holds canonical catalog names in order of preference (``None``:
    any type); ``pools`` restricts the placement to those pools (e.g. the scheduler's choice);
    ``min_memory_gib`` refuses devices with less HBM; ``model`` switches on the per-stage
    memory check and the layer split (``None``: memory check off, costs from a reference
    7B-class shape). ``allow_cross_region``: groups may span regions. ``allow_mixed_types``:
    pipeline stages may sit on different accelerator types (each stage on one type).
    """

    job_id: str
    layout: Layout
    model: ModelShape | None = None
    allowed_accelerators: tuple[str, ...] | None = None
    pools: tuple[str, ...] | None = None
    min_memory_gib: float | None = None
    allow_cross_region: bool = False
    allow_mixed_types: bool = False

    @property
    def world_size(self) -> int:
        return self.layout.devices


@dataclass(frozen=True)
class RankCoordinates:
    """A rank's index along each parallel dimension (``pp`` is the pipeline stage)."""

    rank: int
    tp: int
    pp: int
    dp: int
    ep: int
    cp: int

    def to_dict(self) -> dict[str, int]:
        return {"rank": self.rank, "tp": self.tp, "pp": self.pp, "dp": self.dp, "ep": self.ep, "cp": self.cp}


@dataclass(frozen=True)
class Placement:
    """Where every rank of a job runs, the groups that implies, and what it will cost.

    Per-rank tuples (``devices``, ``nodes``, ``pools``, ``accelerators``, ``coordinates``) are
    indexed by rank. ``groups`` maps a group kind (see the module docstring) to its groups of
    ranks. ``stage_layers`` gives the layers of each pipeline stage (empty when the request
    carried no model). ``comm_cost_s`` is the estimated communication seconds per optimizer
    step (``controlplane.placement.cost``), broken down by kind in ``comm_breakdown_s``.
    ``predicted_bubble`` is the share of the step a pipeline stage idles (fill, drain and
    imbalance between stages). ``reasons`` says why this placement was chosen.
    """

    job_id: str
    devices: tuple[int, ...]
    nodes: tuple[str, ...]
    pools: tuple[str, ...]
    accelerators: tuple[str, ...]
    coordinates: tuple[RankCoordinates, ...]
    groups: Mapping[str, tuple[tuple[int, ...], ...]] = field(hash=False)
    stage_layers: tuple[int, ...]
    comm_cost_s: float
    predicted_bubble: float
    reasons: tuple[str, ...]
    comm_breakdown_s: Mapping[str, float] = field(default_factory=dict, hash=False)
    stage_accelerators: tuple[str, ...] = ()
    """Accelerator type of each pipeline stage."""
    placer: str = ""
    """Name of the placer that produced it (``topology-aware``, ``first-fit``, ``round-robin``)."""

    @property
    def world_size(self) -> int:
        return len(self.devices)

    def node_ranks(self) -> dict[str, tuple[int, ...]]:
        """Node name -> the ranks on it, in rank order; nodes in order of their first rank."""
        by_node: dict[str, list[int]] = {}
        for rank, node in enumerate(self.nodes):
            by_node.setdefault(node, []).append(rank)
        return {node: tuple(ranks) for node, ranks in by_node.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "placer": self.placer,
            "world_size": self.world_size,
            "devices": list(self.devices),
            "nodes": list(self.nodes),
            "pools": list(self.pools),
            "accelerators": list(self.accelerators),
            "coordinates": [c.to_dict() for c in self.coordinates],
            "groups": {kind: [list(group) for group in groups] for kind, groups in self.groups.items()},
            "stage_layers": list(self.stage_layers),
            "stage_accelerators": list(self.stage_accelerators),
            "comm_cost_s": self.comm_cost_s,
            "comm_breakdown_s": dict(self.comm_breakdown_s),
            "predicted_bubble": self.predicted_bubble,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class PlacementFailure:
    """Why a job cannot be placed now. ``code`` is machine-readable: ``insufficient_devices``,
    ``memory``, ``no_allowed_type``, ``cross_region``, ``tensor_parallel_too_wide`` or
    ``invalid``."""

    job_id: str
    reason: str
    details: tuple[str, ...] = ()
    code: str = "insufficient_devices"

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "code": self.code, "reason": self.reason, "details": list(self.details)}


class Placer(Protocol):
    """Maps a request onto the free devices of a topology without changing the topology."""

    def place(self, request: PlacementRequest, topology: Topology) -> Placement | PlacementFailure: ...
