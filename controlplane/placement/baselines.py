"""Baseline placers: what a pod-group scheduler does without knowing the parallel plan.

Owns ``FirstFitPlacer`` and ``RoundRobinPlacer``. Both treat each tensor-parallel group as one
pod of ``tp`` devices that must sit in one scale-up subtree (as a Kueue/Volcano pod group of
hand-sized pods would), give pods to ranks in Megatron order, and otherwise ignore the tree:

- first fit: pods go to the unit subtrees (intra-node domains, or nodes) in tree order, each
  filled before the next — Kubernetes' "most allocated" bin packing in node-list order;
- round robin: one pod per unit subtree per round, over every subtree with room — the
  spreading of Kubernetes' default "least allocated" scoring.

``granularity="device"`` makes them hand out single devices instead of pods (a scheduler that
knows nothing of tensor parallelism: TP groups then straddle nodes wherever free devices are
scattered); the default ``"tp-group"`` is the hand-sized pod group.

They honour the same hard constraints as the topology-aware placer (allowed types, pools,
memory, one region unless allowed, one type per job — no heterogeneous pipelines) and report
costs with the same model, so benchmarks compare like with like. The first type (in the
request's order of preference) and the first region (in topology order) with room win.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from controlplane.domain.errors import InvalidInputError
from controlplane.perfmodel.calibration import Calibration, default_calibration
from controlplane.placement.assemble import CostContext, assemble_placement, homogeneous_bubble
from controlplane.placement.eligibility import DeviceLookup, catalog_device_lookup
from controlplane.placement.planning import Prepared, prepare
from controlplane.placement.search import Shortfall
from controlplane.placement.stages import even_stage_layers
from controlplane.placement.types import Placement, PlacementFailure, PlacementRequest
from controlplane.placement.units import UnitMap, unit_level
from controlplane.topology.topology import Topology

IntArray = npt.NDArray[np.int64]
Granularity = Literal["tp-group", "device"]
GRANULARITIES: tuple[Granularity, ...] = ("tp-group", "device")


class _PodGroupPlacer:
    """Shared body of the baselines; subclasses choose the order in which units are taken."""

    name = "pod-group"
    description = ""
    device_description = ""

    def __init__(self, *, devices: DeviceLookup | None = None, calibration: Calibration | None = None,
                 granularity: Granularity = "tp-group") -> None:
        if granularity not in GRANULARITIES:
            raise InvalidInputError(f"unknown granularity {granularity!r}", field="granularity",
                                    hint=f"use one of {', '.join(GRANULARITIES)}")
        self._lookup = devices or catalog_device_lookup()
        self._calibration = calibration or default_calibration()
        self._granularity = granularity

    def place(self, request: PlacementRequest, topology: Topology) -> Placement | PlacementFailure:
        prepared = prepare(request, topology, self._lookup, self._calibration)
        if isinstance(prepared, PlacementFailure):
            return prepared
        layout = request.layout
        width = layout.tp if self._granularity == "tp-group" else 1
        needed = layout.devices // width
        shortfalls: list[str] = []
        for accelerator in prepared.type_order(prepared.fitting_types):
            for scope in prepared.scopes([accelerator]):
                levels = [unit_level(topology, pool.index, width) for pool in scope.pools]
                usable = [level for level in levels if level.level is not None]
                units = UnitMap(topology, usable, width) if usable else None
                if units is None or units.total < needed:
                    shortfalls.append(Shortfall(scope.label, accelerator, units.total if units else 0, needed,
                                                width, tuple(lv.refusal for lv in levels if lv.refusal)
                                                ).describe())
                    continue
                devices = self._take(units, needed)
                return self._result(prepared, topology, devices, accelerator, scope.label)
        return PlacementFailure(request.job_id, f"not enough free devices for {layout.devices} ranks "
                                f"({needed} groups of {width}) in any allowed pool",
                                details=tuple(prepared.rejections + shortfalls), code="insufficient_devices")

    def _take(self, units: UnitMap, needed: int) -> IntArray:
        """Devices of ``needed`` units in slot order."""
        chosen = self._unit_order(units.leaf_units)[:needed]  # index of the unit subtree of each slot
        per_leaf = np.bincount(chosen, minlength=units.leaves.size)
        used = np.flatnonzero(per_leaf)
        grouped = units.take_devices(units.leaves[used], per_leaf[used]).reshape(needed, units.tp)
        blocks = np.empty_like(grouped)
        blocks[np.argsort(chosen, kind="stable")] = grouped  # rows grouped by subtree, in slot order
        return blocks.ravel()

    def _unit_order(self, leaf_units: IntArray) -> IntArray:
        """Index into the unit subtrees of every free unit, in the order units are handed out."""
        raise NotImplementedError

    def _result(self, prepared: Prepared, topology: Topology, devices: IntArray, accelerator: str,
                scope: str) -> Placement:
        request = prepared.request
        layout = request.layout
        split = even_stage_layers(prepared.model.layers, layout.pp) if prepared.has_model else ()
        context = CostContext.build(layout, prepared.model, split, prepared.calibration)
        what = self.description if self._granularity == "tp-group" else self.device_description
        width = layout.tp if self._granularity == "tp-group" else 1
        reasons = [f"{self.name}: {what}",
                   f"{accelerator} in {scope}: first type and region with room for "
                   f"{layout.devices // width} pods of {width} device(s)"]
        return assemble_placement(request=request, topology=topology, devices=devices, context=context,
                                  breakdown=None, bubble=homogeneous_bubble(layout), reasons=reasons,
                                  placer=self.name, accelerator_names=prepared.accelerator_names)


class FirstFitPlacer(_PodGroupPlacer):
    """Pods of ``tp`` devices into unit subtrees in tree order, each filled before the next."""

    name = "first-fit"
    description = "tensor-parallel pods packed into intra-node domains in tree order"
    device_description = "single devices taken in tree order, blind to tensor parallelism"

    def _unit_order(self, leaf_units: IntArray) -> IntArray:
        return np.repeat(np.arange(leaf_units.size, dtype=np.int64), leaf_units)


class RoundRobinPlacer(_PodGroupPlacer):
    """Pods of ``tp`` devices spread one per unit subtree per round."""

    name = "round-robin"
    description = "tensor-parallel pods spread one per intra-node domain per round"
    device_description = "single devices spread one per intra-node domain per round"

    def _unit_order(self, leaf_units: IntArray) -> IntArray:
        leaves = np.repeat(np.arange(leaf_units.size, dtype=np.int64), leaf_units)
        starts = np.cumsum(leaf_units) - leaf_units
        rounds = np.arange(leaves.size, dtype=np.int64) - np.repeat(starts, leaf_units)
        return leaves[np.lexsort((leaves, rounds))]
