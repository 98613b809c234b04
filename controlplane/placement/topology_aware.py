"""``TopologyAwarePlacer``: the job's parallel plan mapped onto the tree, cheapest traffic first.

Policy, in order:

1. Hard constraints (``planning.prepare``): allowed types, requested pools, minimum HBM,
   memory of the fullest stage, one region unless ``allow_cross_region``.
2. Tensor-parallel groups are units that never leave one intra-node scale-up domain (a node if
   ``tp`` spans domains; a rack only in rack-scale pools) — ``units``.
3. For each allowed type with room (request's order of preference; without one, every type,
   cheapest wins) and each region: ``search`` packs the units into the deepest subtree that
   holds the whole job (best fit), tries every nesting of the cp/dp/pp dimensions with two
   spreading strategies, a block-aligned variant and first fit's own units, and keeps the
   cheapest by the communication model (``cost``), then by the free blocks it leaves
   (fragmentation). PP neighbours therefore land under the same leaf
   before the same spine before the same zone whenever that is what makes the step cheaper,
   and DP/EP groups cross the oversubscribed levels only when the job cannot fit below them.
4. If no single type has room and ``allow_mixed_types``, a heterogeneous pipeline
   (``heterogeneous``): stages on different types, layers split by speed and memory.

Deterministic: every choice is ordered by cost, then fragmentation, then tree order.
"""

from __future__ import annotations

from functools import partial

from controlplane.perfmodel.calibration import Calibration, default_calibration
from controlplane.perfmodel.memory import estimate_memory, gib
from controlplane.placement.assemble import CostContext, assemble_placement, homogeneous_bubble
from controlplane.placement.cost import group_reach
from controlplane.placement.eligibility import DeviceLookup, catalog_device_lookup
from controlplane.placement.heterogeneous import place_heterogeneous
from controlplane.placement.planning import Prepared, prepare
from controlplane.placement.search import HOME_LIMIT, SearchResult, Shortfall, search
from controlplane.placement.stages import even_stage_layers
from controlplane.placement.types import Placement, PlacementFailure, PlacementRequest
from controlplane.placement.units import UnitMap, unit_level
from controlplane.topology.levels import Level
from controlplane.topology.topology import Topology

REACH_WORDS = {Level.DEVICE: "one device", Level.DOMAIN: "one scale-up domain", Level.NODE: "one node",
               Level.RACK: "one rack", Level.SPINE: "one spine", Level.ZONE: "one zone",
               Level.REGION: "one region", Level.CLUSTER: "several regions"}


class TopologyAwarePlacer:
    """See the module docstring. ``devices`` resolves accelerator names to perfmodel specs (the
    catalog by default); ``home_limit`` bounds the candidate homes priced per region."""

    name = "topology-aware"

    def __init__(self, *, devices: DeviceLookup | None = None, calibration: Calibration | None = None,
                 home_limit: int = HOME_LIMIT) -> None:
        self._lookup = devices or catalog_device_lookup()
        self._calibration = calibration or default_calibration()
        self._home_limit = home_limit

    def place(self, request: PlacementRequest, topology: Topology) -> Placement | PlacementFailure:
        prepared = prepare(request, topology, self._lookup, self._calibration)
        if isinstance(prepared, PlacementFailure):
            return prepared
        layout = request.layout
        split = even_stage_layers(prepared.model.layers, layout.pp) if prepared.has_model else ()
        context = CostContext.build(layout, prepared.model, split, self._calibration)
        price = partial(context.cost, topology)

        shortfalls: list[Shortfall] = []
        found: list[tuple[float, int, str, str, SearchResult]] = []
        types = prepared.type_order(prepared.fitting_types)
        for order, accelerator in enumerate(types):
            for scope in prepared.scopes([accelerator]):
                result = search(topology, scope.pools, layout, price, top=scope.top, scope=scope.label,
                                accelerator=accelerator, home_limit=self._home_limit)
                if isinstance(result, Shortfall):
                    shortfalls.append(result)
                    continue
                found.append((result.cost, order, accelerator, scope.label, result))
            if found and request.allowed_accelerators is not None:
                break  # the user's preferred type with room wins
        if found:
            found.sort(key=lambda item: (float(f"{item[0]:.9e}"), item[1],
                                         tuple(-b for b in item[4].fragmentation)))
            _, _, accelerator, scope_label, result = found[0]
            alternatives = len(found) - 1
            return self._homogeneous(prepared, topology, context, result, accelerator, scope_label,
                                     types, alternatives)
        notes = [shortfall.describe() for shortfall in shortfalls]
        if request.allow_mixed_types:
            mixed = place_heterogeneous(prepared, topology, home_limit=self._home_limit, placer=self.name)
            if isinstance(mixed, Placement):
                return mixed
            notes.extend(mixed)
        return self._failure(prepared, topology, shortfalls, notes)

    def _homogeneous(self, prepared: Prepared, topology: Topology, context: CostContext, result: SearchResult,
                     accelerator: str, scope: str, types: list[str], alternatives: int) -> Placement:
        request = prepared.request
        layout = request.layout
        packing = result.packing
        home = topology.tree.at(packing.home)
        needed = layout.devices // layout.tp
        reasons = [_type_reason(request, accelerator, scope, types, alternatives),
                   f"{needed} tensor-parallel group(s) of {layout.tp}, each inside one unit subtree "
                   f"({'; '.join(result.unit_levels)})",
                   _home_reason(result, home.level.label, home.name, needed),
                   _ordering_reason(result)]
        reach = group_reach(topology, packing.devices, layout)
        if reach:
            reasons.append("groups stay within: " + ", ".join(
                f"{kind} {REACH_WORDS[level]}" for kind, level in reach.items()))
        if prepared.has_model:
            device = next(pool.device for pool in prepared.pools if pool.accelerator == accelerator)
            if device is not None:
                memory = estimate_memory(prepared.model, layout, device)
                reasons.append(f"memory: fullest stage needs {gib(memory.total):.1f} GiB of "
                               f"{gib(memory.capacity):.1f} usable on {accelerator}")
        levels = ("region", "zone", "spine", "rack", "node")
        reasons.append("largest free blocks left in the cluster (devices): " + ", ".join(
            f"{label} {block}" for label, block in zip(levels, result.fragmentation, strict=True)))
        return assemble_placement(request=request, topology=topology, devices=packing.devices, context=context,
                                  breakdown=result.breakdown, bubble=homogeneous_bubble(layout), reasons=reasons,
                                  placer=self.name, accelerator_names=prepared.accelerator_names)

    def _failure(self, prepared: Prepared, topology: Topology, shortfalls: list[Shortfall],
                 notes: list[str]) -> PlacementFailure:
        request = prepared.request
        layout = request.layout
        needed = layout.devices // layout.tp
        details = tuple(prepared.rejections + notes)
        if not prepared.fitting_types:
            return PlacementFailure(request.job_id, "the job's memory does not fit any allowed accelerator type, "
                                    "and no mix of types holds its layers", details=details, code="memory")
        if shortfalls and all(s.refusals and s.free_units == 0 for s in shortfalls):
            return PlacementFailure(request.job_id, f"tp={layout.tp} does not fit the scale-up domain of any "
                                    "allowed pool", details=details, code="tensor_parallel_too_wide")
        if not request.allow_cross_region:
            for accelerator in prepared.fitting_types:
                pools = [pool for pool in prepared.pools if pool.accelerator == accelerator]
                levels = [unit_level(topology, pool.index, layout.tp) for pool in pools]
                usable = [level for level in levels if level.level is not None]
                if usable and UnitMap(topology, usable, layout.tp).total >= needed:
                    return PlacementFailure(
                        request.job_id, f"{layout.devices} {accelerator} devices are free only across regions; "
                        "the job does not allow cross-region placement", details=details, code="cross_region")
        return PlacementFailure(request.job_id, f"not enough free devices for {layout.devices} ranks "
                                f"({needed} tensor-parallel groups of {layout.tp}) in any allowed pool",
                                details=details, code="insufficient_devices")


def _type_reason(request: PlacementRequest, accelerator: str, scope: str, types: list[str],
                 alternatives: int) -> str:
    if request.allowed_accelerators is not None:
        return f"{accelerator} in {scope}: the most preferred allowed type with room"
    if alternatives:
        return f"{accelerator} in {scope}: cheapest communication of {alternatives + 1} type/region choices"
    return f"{accelerator} in {scope}: the only type/region with room"


def _home_reason(result: SearchResult, level: str, name: str, needed: int) -> str:
    free = result.units.units_of(result.packing.home)
    if result.packing.strategy == "aligned":
        return (f"home: {level} {name}, the lowest subtree whose parts each hold a whole block of the rank "
                f"nesting ({free} free groups for {needed})")
    return f"home: {level} {name}, the deepest single subtree with room, best fit ({free} free groups for {needed})"


def _ordering_reason(result: SearchResult) -> str:
    packing = result.packing
    text = (f"rank nesting {packing.ordering.describe()}, {packing.strategy} spread: "
            f"{result.cost:.4g} s of communication per step")
    if result.runner_up_cost is not None:
        text += f"; next best candidate {result.runner_up_cost:.4g} s"
    return text + f" ({result.evaluated} candidate(s) priced)"
