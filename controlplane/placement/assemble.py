"""Turning a rank → device array into a ``Placement``: names, groups, stages, cost and bubble.

Owns ``CostContext`` (the model, stage split and calibration a cost is computed with) and
``assemble_placement``, shared by every placer so that baselines and the topology-aware placer
report comparable figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from controlplane.perfmodel.calibration import Calibration
from controlplane.perfmodel.shapes import Layout, ModelShape
from controlplane.placement.cost import TrafficProfile, communication_cost, total_cost, traffic_profile
from controlplane.placement.ranks import coordinates, groups_as_tuples
from controlplane.placement.stages import predicted_bubble
from controlplane.placement.types import Placement, PlacementRequest
from controlplane.topology.levels import Level
from controlplane.topology.topology import Topology

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class CostContext:
    """What a placement's cost is computed from: ``model`` is the request's model or the
    reference shape; ``stage_layers`` the split reported (empty without a model)."""

    layout: Layout
    model: ModelShape
    stage_layers: tuple[int, ...]
    profile: TrafficProfile
    calibration: Calibration

    @classmethod
    def build(cls, layout: Layout, model: ModelShape, stage_layers: Sequence[int],
              calibration: Calibration) -> CostContext:
        split = tuple(stage_layers)
        return cls(layout=layout, model=model, stage_layers=split,
                   profile=traffic_profile(model, layout, split or None), calibration=calibration)

    def cost(self, topology: Topology, devices: Sequence[int] | IntArray) -> dict[str, float]:
        return communication_cost(topology, devices, self.layout, self.profile, self.calibration)


def homogeneous_bubble(layout: Layout) -> float:
    """Bubble of balanced stages: ``(pp − 1) / (v·m + pp − 1)``."""
    return predicted_bubble([1.0] * layout.pp, layout.micro_batches, layout.virtual_stages)


def assemble_placement(*, request: PlacementRequest, topology: Topology, devices: IntArray,
                       context: CostContext, breakdown: dict[str, float] | None, bubble: float,
                       reasons: Sequence[str], placer: str,
                       stage_accelerators: Sequence[str] | None = None,
                       accelerator_names: dict[str, str] | None = None) -> Placement:
    """The ``Placement`` of ranks ``0..world-1`` on ``devices`` (rank order).

    ``accelerator_names`` maps a pool's accelerator label to its canonical name.
    """
    tree = topology.tree
    layout = request.layout
    node_vertices = tree.device_ancestors[devices, Level.NODE]
    unique_nodes, node_index = np.unique(node_vertices, return_inverse=True)
    node_names = [tree.at(int(vertex)).name for vertex in unique_nodes]
    pool_ids = tree.device_pool[devices]
    canonical = accelerator_names or {}
    pool_names = [pool.name for pool in tree.pools]
    pool_types = [canonical.get(pool.accelerator, pool.accelerator) for pool in tree.pools]
    costs = breakdown if breakdown is not None else context.cost(topology, devices)
    per_rank_types = tuple(pool_types[i] for i in pool_ids.tolist())
    stage_size = layout.tp * layout.cp * layout.dp
    stages = tuple(stage_accelerators) if stage_accelerators is not None else tuple(
        per_rank_types[stage * stage_size] for stage in range(layout.pp))
    return Placement(
        job_id=request.job_id,
        devices=tuple(devices.tolist()),
        nodes=tuple(node_names[i] for i in node_index.tolist()),
        pools=tuple(pool_names[i] for i in pool_ids.tolist()),
        accelerators=per_rank_types,
        coordinates=coordinates(layout),
        groups=MappingProxyType(groups_as_tuples(layout)),
        stage_layers=context.stage_layers,
        comm_cost_s=total_cost(costs),
        predicted_bubble=bubble,
        reasons=tuple(reasons),
        comm_breakdown_s=MappingProxyType({kind: value for kind, value in costs.items() if value > 0}),
        stage_accelerators=stages,
        placer=placer,
    )
