"""Heterogeneous pipelines: pipeline stages on different accelerator types, layers by speed.

Owns ``place_heterogeneous``, used when no single allowed type has room (or memory) for the
whole job and the request allows mixing types.

Plan, per region (or across regions when allowed):

1. Every allowed type gets its per-layer time (``stages.layer_seconds``) and the most layers a
   stage of it can hold (``stages.max_stage_layers``); types that cannot hold one layer drop out.
2. A stage is a *slab* of ``dp × cp`` tensor-parallel groups, all of one type (data-parallel
   replicas must hold the same layers, and a stage runs at its slowest device). The fastest
   types take as many stages as their free groups allow, then the next fastest: contiguous
   stage ranges per type, fastest first, so only one boundary per type change crosses pools.
3. Layers are split so the slowest stage is as fast as possible within each type's memory cap
   (``stages.balanced_stage_layers``); the bubble follows from the resulting stage times.
4. Each type's stages are placed by the same search as a homogeneous job (a sub-layout with
   ``pp`` = its stage count); ranks follow the global numbering (pipeline stage outermost).

Needs the request's model: without layers and FLOPs there is nothing to balance.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

import numpy as np

from controlplane.domain.errors import InvalidInputError
from controlplane.perfmodel.device import DeviceSpec
from controlplane.placement.assemble import CostContext, assemble_placement
from controlplane.placement.planning import Prepared, Scope
from controlplane.placement.search import SearchResult, Shortfall, search
from controlplane.placement.stages import balanced_stage_layers, layer_seconds, max_stage_layers, predicted_bubble
from controlplane.placement.types import Placement
from controlplane.placement.units import UnitMap, unit_level
from controlplane.topology.topology import Topology


def place_heterogeneous(prepared: Prepared, topology: Topology, *, home_limit: int,
                        placer: str) -> Placement | list[str]:
    """A mixed-type placement, or the reasons there is none (module docstring)."""
    request = prepared.request
    layout = request.layout
    if not prepared.has_model:
        return ["mixing accelerator types needs the job's model to split layers by speed"]
    if len(prepared.all_types) < 2:
        return ["mixing accelerator types needs at least two allowed types with free devices"]
    model = prepared.model
    speeds: dict[str, float] = {}
    caps: dict[str, int] = {}
    notes: list[str] = []
    for accelerator in prepared.all_types:
        device = _device(prepared, accelerator)
        if device is None:
            notes.append(f"{accelerator}: not in the catalog, so its speed is unknown")
            continue
        caps[accelerator] = max_stage_layers(model, layout, device)
        if caps[accelerator] == 0:
            notes.append(f"{accelerator}: not even one layer per stage fits its memory")
            continue
        speeds[accelerator] = layer_seconds(model, layout, device)
    types = sorted(speeds, key=lambda name: (speeds[name], prepared.all_types.index(name)))
    best: tuple[float, Placement] | None = None
    for scope in prepared.scopes(types):
        attempt = _place_in_scope(prepared, topology, scope, types, speeds, caps, home_limit, placer)
        if isinstance(attempt, Placement):
            key = float(f"{attempt.comm_cost_s:.9e}")
            if best is None or key < best[0]:
                best = (key, attempt)
        else:
            notes.extend(attempt)
    return best[1] if best is not None else notes


def _device(prepared: Prepared, accelerator: str) -> DeviceSpec | None:
    return next(pool.device for pool in prepared.pools if pool.accelerator == accelerator)


def _place_in_scope(prepared: Prepared, topology: Topology, scope: Scope, types: list[str],
                    speeds: dict[str, float], caps: dict[str, int], home_limit: int,
                    placer: str) -> Placement | list[str]:
    request = prepared.request
    layout = request.layout
    model = prepared.model
    slab = layout.dp * layout.cp
    stages_left = layout.pp
    counts: dict[str, int] = {}
    for accelerator in types:
        pools = [pool for pool in scope.pools if pool.accelerator == accelerator]
        usable = [level for level in (unit_level(topology, pool.index, layout.tp) for pool in pools)
                  if level.level is not None]
        room = UnitMap(topology, usable, layout.tp).total // slab if usable else 0
        take = min(room, stages_left)
        if take:
            counts[accelerator] = take
            stages_left -= take
        if not stages_left:
            break
    if stages_left:
        return [f"mixed types in {scope.label}: room for {layout.pp - stages_left} of {layout.pp} stages"]
    stage_types = [accelerator for accelerator, count in counts.items() for _ in range(count)]
    try:
        split = balanced_stage_layers(model.layers, [speeds[t] for t in stage_types], [caps[t] for t in stage_types])
    except InvalidInputError as error:
        return [f"mixed types in {scope.label}: {error}"]
    context = CostContext.build(layout, model, split, prepared.calibration)
    pieces = []
    first_stage = 0
    results: list[tuple[str, SearchResult]] = []
    for accelerator, count in counts.items():
        sub_layout = replace(layout, pp=count, schedule="1f1b")
        sub_context = CostContext.build(sub_layout, model, split[first_stage:first_stage + count],
                                        prepared.calibration)
        pools = [pool for pool in scope.pools if pool.accelerator == accelerator]
        result = search(topology, pools, sub_layout, partial(sub_context.cost, topology),
                        top=scope.top, scope=scope.label, accelerator=accelerator, home_limit=home_limit)
        if isinstance(result, Shortfall):
            return [f"mixed types: {result.describe()}"]
        results.append((accelerator, result))
        pieces.append(result.packing.devices)
        first_stage += count
    devices = np.concatenate(pieces)
    stage_seconds = [layers * speeds[t] for layers, t in zip(split, stage_types, strict=True)]
    bubble = predicted_bubble(stage_seconds, layout.micro_batches, layout.virtual_stages)
    reasons = [f"no single allowed type has room for all {layout.pp} stages; heterogeneous pipeline in "
               f"{scope.label}",
               "stages by type (fastest first): " + ", ".join(
                   f"{accelerator} × {count}" for accelerator, count in counts.items()),
               "layers per stage " + "/".join(str(n) for n in split) + " balance stage time by speed "
               "(per-layer ms: " + ", ".join(f"{t} {speeds[t] * 1e3:.2f}" for t in counts) + ") within memory "
               "(max layers per stage: " + ", ".join(f"{t} {caps[t]}" for t in counts) + ")",
               "stage ms per micro-batch: " + "/".join(f"{s * 1e3:.1f}" for s in stage_seconds)
               + f"; predicted bubble {bubble:.1%}"]
    for accelerator, result in results:
        home = topology.tree.at(result.packing.home)
        reasons.append(f"{accelerator} stages in {home.level.label} {home.name}, rank nesting "
                       f"{result.packing.ordering.describe()}")
    return assemble_placement(request=request, topology=topology, devices=devices, context=context, breakdown=None,
                              bubble=bubble, reasons=reasons, placer=placer, stage_accelerators=stage_types,
                              accelerator_names=prepared.accelerator_names)
