"""The vocabulary of MoE expert placement: the problem's shape, a layer's placement, its metrics, a plan.

Vocabulary:
- *expert*: a routed expert of one MoE layer, identified by its index ``0..experts-1``; its
  *load* is the number of tokens routed to it (any non-negative unit).
- *group*: experts ``[g*E/K, (g+1)*E/K)`` form group ``g`` (DeepSeek-V3's group-limited routing
  sends each token to experts of at most a few groups, so keeping a group on few nodes keeps the
  all-to-all inside nodes).
- *device* ``d`` of node ``d // devices_per_node`` has ``slots_per_device`` *slots*; each slot
  holds one *replica* of an expert. Redundant slots = total slots − experts.
- An expert's tokens are split evenly across its replicas (the assumption vLLM, SGLang and
  DeepSeek's EPLB make), so a device's load is the sum of ``load / replicas`` over its slots.
- *group span*: for one group, the number of distinct nodes hosting at least one replica of any
  of its experts; a layer reports the mean over its groups (a proxy for cross-node all-to-all).
- *moves*: replicas that must be copied onto a device to go from the current placement to the
  new one: ``sum over devices of |new multiset − current multiset|``, counted per layer.

Everything here is plain data: no I/O. :func:`plan_from_dict` / :meth:`ExpertPlan.to_dict` are the
JSON shape the CLI reads (``--current``) and writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from controlplane.domain.errors import InvalidInputError

Devices = list[list[int]]
"""One layer's placement: for each device (index order, node = device // devices_per_node) the
expert ids in its slots."""


@dataclass(frozen=True)
class ClusterShape:
    """Where experts can go and how they are grouped."""

    nodes: int
    devices_per_node: int
    slots_per_device: int
    groups: int

    @property
    def devices(self) -> int:
        return self.nodes * self.devices_per_node

    @property
    def slots_per_node(self) -> int:
        return self.devices_per_node * self.slots_per_device

    @property
    def slots(self) -> int:
        return self.devices * self.slots_per_device

    def validate(self, experts: int) -> None:
        """Raise :class:`InvalidInputError` unless ``experts`` experts fit this shape."""
        for name, value in (("nodes", self.nodes), ("devices_per_node", self.devices_per_node),
                            ("slots_per_device", self.slots_per_device), ("groups", self.groups)):
            if not isinstance(value, int | np.integer) or value < 1:
                raise InvalidInputError(f"must be a positive integer, got {value!r}", field=name,
                                        hint=f"pass --{name.replace('_', '-')} N with N >= 1")
        if experts < 1:
            raise InvalidInputError("no experts: each layer needs at least one expert load", field="loads")
        if self.slots < experts:
            raise InvalidInputError(
                f"{self.slots} slots ({self.nodes} nodes x {self.devices_per_node} devices x "
                f"{self.slots_per_device} slots) cannot hold {experts} experts",
                field="slots_per_device",
                hint=f"need nodes x devices_per_node x slots_per_device >= {experts}")
        if experts % self.groups:
            raise InvalidInputError(f"{experts} experts cannot be split into {self.groups} equal groups",
                                    field="groups", hint=f"use a divisor of {experts}, e.g. 1 or 8")

    def group_of(self, experts: int) -> np.ndarray:
        """The group index of each expert."""
        return np.arange(experts) // (experts // self.groups)


@dataclass(frozen=True)
class ExpertMetrics:
    """How good one layer's placement is. Ratios are max / mean (1.0 is perfect)."""

    device_max_over_mean: float
    node_max_over_mean: float
    mean_group_span: float
    max_group_span: int
    replicas_max: int
    experts_moved: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"device_max_over_mean": round(self.device_max_over_mean, 6),
                "node_max_over_mean": round(self.node_max_over_mean, 6),
                "mean_group_span": round(self.mean_group_span, 6), "max_group_span": self.max_group_span,
                "replicas_max": self.replicas_max, "experts_moved": self.experts_moved}


@dataclass(frozen=True)
class LayerPlacement:
    """The experts hosted on each device of one MoE layer, and how good that is."""

    devices: Devices
    metrics: ExpertMetrics

    def to_dict(self) -> dict[str, Any]:
        return {"devices": self.devices, **self.metrics.to_dict()}


@dataclass(frozen=True)
class ExpertPlan:
    """A placement of every MoE layer, with the algorithm that made it and how long it took."""

    shape: ClusterShape
    layers: list[LayerPlacement]
    algorithm: str
    seconds: float
    notes: list[str] = field(default_factory=list)

    def devices(self) -> list[Devices]:
        return [layer.devices for layer in self.layers]

    def summary(self) -> dict[str, Any]:
        """Means (and worst values) of the per-layer metrics."""
        metrics = [layer.metrics for layer in self.layers]
        moved = [m.experts_moved for m in metrics if m.experts_moved is not None]
        return {
            "algorithm": self.algorithm, "layers": len(metrics), "seconds": round(self.seconds, 6),
            "device_max_over_mean": _mean(m.device_max_over_mean for m in metrics),
            "device_max_over_mean_worst": max((m.device_max_over_mean for m in metrics), default=0.0),
            "node_max_over_mean": _mean(m.node_max_over_mean for m in metrics),
            "mean_group_span": _mean(m.mean_group_span for m in metrics),
            "max_group_span": max((m.max_group_span for m in metrics), default=0),
            "experts_moved": sum(moved) if moved else None,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "shape": {"nodes": self.shape.nodes, "devices_per_node": self.shape.devices_per_node,
                      "slots_per_device": self.shape.slots_per_device, "groups": self.shape.groups},
            "summary": self.summary(), "notes": list(self.notes),
            "layers": [layer.to_dict() for layer in self.layers],
        }


def _mean(values: Any) -> float:
    items = list(values)
    return float(np.mean(items)) if items else 0.0


def loads_from_dict(document: Any) -> np.ndarray:
    """``{"loads": [[expert loads] per layer]}`` → a float array ``[layers, experts]``."""
    if not isinstance(document, dict) or "loads" not in document:
        raise InvalidInputError('expected a JSON object with a "loads" key', field="loads",
                                hint='write {"loads": [[tokens per expert] for each layer]}')
    return as_loads(document["loads"])


def as_loads(loads: Any) -> np.ndarray:
    """Validate and convert per-layer per-expert loads to a float array ``[layers, experts]``."""
    rows = loads.tolist() if isinstance(loads, np.ndarray) else loads
    if not isinstance(rows, list) or not rows or not all(isinstance(row, list) for row in rows):
        raise InvalidInputError("must be a non-empty list of layers, each a list of expert loads", field="loads",
                                hint='write {"loads": [[tokens per expert] for each layer]}')
    widths = {len(row) for row in rows}
    if len(widths) != 1:
        raise InvalidInputError(f"layers have different expert counts {sorted(widths)}", field="loads",
                                hint="every layer must list the same number of experts")
    try:
        array = np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInputError("loads must be numbers", field="loads",
                                hint="each expert load is a token count (a non-negative number)") from None
    if array.shape[1] == 0:
        raise InvalidInputError("layers list no experts", field="loads", hint="list one load per expert")
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise InvalidInputError("loads must be finite and non-negative", field="loads",
                                hint="each expert load is a token count (a non-negative number)")
    return array


def plan_from_dict(document: Any, *, layers: int, experts: int, shape: ClusterShape) -> list[Devices]:
    """Read a current placement: the output of ``suanli experts place -o json`` (``{"layers":
    [{"devices": ...}]}``), or ``{"layers": [devices per layer]}``. Checks it against the shape."""
    if not isinstance(document, dict) or not isinstance(document.get("layers"), list):
        raise InvalidInputError('expected a JSON object with a "layers" list', field="current",
                                hint="pass the JSON output of 'suanli experts place -o json'")
    placements: list[Any] = [layer.get("devices") if isinstance(layer, dict) else layer
                             for layer in document["layers"]]
    validate_placement(placements, layers=layers, experts=experts, shape=shape, field="current")
    return [[[int(e) for e in device] for device in layer] for layer in placements]


def validate_placement(placements: Any, *, layers: int, experts: int, shape: ClusterShape, field: str) -> None:
    """Raise :class:`InvalidInputError` unless ``placements`` fills every slot of ``shape`` once per layer
    with valid expert ids and hosts every expert at least once."""
    if not isinstance(placements, list) or len(placements) != layers:
        count = len(placements) if isinstance(placements, list) else "no"
        raise InvalidInputError(f"has {count} layers, the loads have {layers}", field=field,
                                hint="give one placement per MoE layer, in the same order as the loads")
    for index, layer in enumerate(placements):
        where = f"{field}.layers[{index}].devices"
        if not isinstance(layer, list) or len(layer) != shape.devices:
            raise InvalidInputError(f"must list {shape.devices} devices", field=where,
                                    hint="one list of expert ids per device, nodes x devices_per_node in all")
        seen = np.zeros(experts, dtype=bool)
        for device, slots in enumerate(layer):
            if not isinstance(slots, list) or len(slots) != shape.slots_per_device:
                raise InvalidInputError(f"device {device} must hold exactly {shape.slots_per_device} experts",
                                        field=where, hint="every slot holds one expert replica")
            for expert in slots:
                if isinstance(expert, bool) or not isinstance(expert, int | np.integer) \
                        or not 0 <= expert < experts:
                    raise InvalidInputError(f"device {device} lists {expert!r}, not an expert id 0..{experts - 1}",
                                            field=where, hint="expert ids are integers indexing the loads")
                seen[expert] = True
        if not seen.all():
            missing = np.flatnonzero(~seen)[:5].tolist()
            raise InvalidInputError(f"experts {missing} have no replica", field=where,
                                    hint="every expert needs at least one replica")
