"""What every placer does before choosing devices: check the request, find eligible pools,
decide the memory verdict per type, and list the scopes (regions) a job may occupy.

Owns ``Prepared`` (the request with its eligible pools grouped by type, the model the costs use
and the canonical accelerator names), ``prepare`` and ``Scope``. Failure codes are those of
``PlacementFailure``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from controlplane.domain.errors import DomainError
from controlplane.perfmodel.calibration import Calibration
from controlplane.perfmodel.shapes import ModelShape
from controlplane.perfmodel.step import check_layout
from controlplane.placement.cost import reference_model
from controlplane.placement.eligibility import DeviceLookup, EligiblePool, eligible_pools, memory_refusal
from controlplane.placement.types import PlacementFailure, PlacementRequest
from controlplane.topology.levels import Level
from controlplane.topology.topology import Topology


@dataclass(frozen=True)
class Scope:
    """Pools a job may span together: one region's, or every region's when allowed."""

    label: str
    pools: tuple[EligiblePool, ...]
    top: Level


@dataclass
class Prepared:
    """A checked request and the pools it may use (see the module docstring)."""

    request: PlacementRequest
    model: ModelShape
    has_model: bool
    calibration: Calibration
    pools: tuple[EligiblePool, ...]
    fitting_types: list[str]
    """Types whose devices hold the job's fullest stage (every eligible type without a model)."""
    all_types: list[str]
    rejections: list[str] = field(default_factory=list)
    accelerator_names: dict[str, str] = field(default_factory=dict)

    def scopes(self, accelerators: list[str]) -> list[Scope]:
        """Scopes holding pools of ``accelerators``, regions in topology order."""
        pools = tuple(pool for pool in self.pools if pool.accelerator in accelerators)
        if self.request.allow_cross_region:
            return [Scope("all regions", pools, Level.CLUSTER)] if pools else []
        regions = list(dict.fromkeys(pool.region for pool in pools))
        return [Scope(f"region {region}", tuple(p for p in pools if p.region == region), Level.REGION)
                for region in regions]

    def type_order(self, types: list[str]) -> list[str]:
        """``types`` in the request's order of preference (topology order when it has none)."""
        allowed = self.request.allowed_accelerators
        if allowed is None:
            return list(types)
        rank = {name.casefold(): index for index, name in enumerate(allowed)}
        return sorted(types, key=lambda name: (rank.get(name.casefold(), len(rank)), types.index(name)))


def prepare(request: PlacementRequest, topology: Topology, lookup: DeviceLookup,
            calibration: Calibration) -> Prepared | PlacementFailure:
    """Check ``request`` against ``topology``; a failure when nothing could ever host it."""
    layout = request.layout
    if request.model is not None:
        try:
            check_layout(request.model, layout)
        except DomainError as error:
            return PlacementFailure(request.job_id, f"the layout does not split the model: {error}",
                                    code="invalid")
    if request.pools is not None:
        known = {pool.name for pool in topology.pools}
        unknown = [name for name in request.pools if name not in known]
        if unknown and len(unknown) == len(request.pools):
            return PlacementFailure(request.job_id, f"none of the requested pools is in the topology: "
                                    f"{', '.join(unknown)}", details=tuple(f"known pool: {n}" for n in sorted(known)),
                                    code="invalid")
    eligibility = eligible_pools(pools=topology.pools, allowed=request.allowed_accelerators,
                                 restrict_to=request.pools, min_memory_gib=request.min_memory_gib,
                                 lookup=lookup)
    rejections = list(eligibility.rejections)
    if not eligibility.pools:
        wanted = ", ".join(request.allowed_accelerators) if request.allowed_accelerators else "any type"
        return PlacementFailure(request.job_id, f"no pool offers an allowed accelerator type ({wanted})",
                                details=tuple(rejections), code="no_allowed_type")
    all_types = eligibility.types()
    fitting = list(all_types)
    if request.model is not None:
        fitting = []
        for accelerator in all_types:
            device = eligibility.of_type(accelerator)[0].device
            refusal = memory_refusal(request.model, layout, device, accelerator)
            if refusal is None:
                fitting.append(accelerator)
            else:
                rejections.append(refusal)
    names = {pool.info.accelerator: pool.accelerator for pool in eligibility.pools}
    prepared = Prepared(request=request, model=request.model or reference_model(layout),
                        has_model=request.model is not None, calibration=calibration, pools=eligibility.pools,
                        fitting_types=fitting, all_types=all_types, rejections=rejections,
                        accelerator_names=names)
    if not fitting and not request.allow_mixed_types:
        return PlacementFailure(request.job_id, "the job's memory does not fit any allowed accelerator type",
                                details=tuple(rejections), code="memory")
    return prepared
