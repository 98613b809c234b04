"""MoE expert placement: which experts (and replicas of hot experts) each device hosts, per layer.

Public API:
- :func:`place_experts` — Suanli's planner (balanced like a global plan, groups on few nodes,
  optional budgeted migration from a current placement).
- :func:`eplb`, :func:`eplb_hierarchical`, :func:`eplb_global`, :func:`greedy_no_replication` —
  baselines written from their public descriptions.
- :func:`metrics` — the per-layer metrics every plan reports.
- :class:`ExpertPlan`, :class:`LayerPlacement`, :class:`ExpertMetrics`, :class:`ClusterShape`,
  :func:`loads_from_dict`, :func:`plan_from_dict` — the data and its JSON shape.
"""

from controlplane.placement.experts.baselines import eplb, eplb_global, eplb_hierarchical, greedy_no_replication
from controlplane.placement.experts.metrics import metrics
from controlplane.placement.experts.model import (
    ClusterShape,
    ExpertMetrics,
    ExpertPlan,
    LayerPlacement,
    as_loads,
    loads_from_dict,
    plan_from_dict,
)
from controlplane.placement.experts.planner import DEFAULT_TOLERANCE, place_experts

__all__ = [
    "DEFAULT_TOLERANCE",
    "ClusterShape",
    "ExpertMetrics",
    "ExpertPlan",
    "LayerPlacement",
    "as_loads",
    "eplb",
    "eplb_global",
    "eplb_hierarchical",
    "greedy_no_replication",
    "loads_from_dict",
    "metrics",
    "place_experts",
    "plan_from_dict",
]
