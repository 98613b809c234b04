"""Benchmark: quality and speed of topology-aware placement of a job's parallel groups.

Claims (issue 4): communication cost within 5 % of the exact optimum on small instances, at most
half of first-fit's on fragmented clusters, more jobs of a stream placed before the cluster
fills, and under 100 ms to place a 4,096-device job on a 10,000-node cluster.

Placers compared (all in ``controlplane.placement``, all priced by the same cost model,
``controlplane.placement.cost``, in seconds of communication per optimizer step):

- ``suanli``: ``TopologyAwarePlacer``.
- ``ff-pod`` / ``rr-pod``: ``FirstFitPlacer`` / ``RoundRobinPlacer`` with one pod per TP group
  (each pod inside one node): what Kueue or Volcano does with hand-sized pod groups.
- ``ff-dev`` / ``rr-dev``: the same with ``granularity="device"``: a scheduler that knows
  nothing of tensor parallelism hands out free devices (TP groups may straddle nodes).
- ``ilp``: the exact optimum of the same cost model (rank → intra-node domain, TP groups kept in
  one domain as for every placer), solved with HiGHS (``highspy``) on small instances.

Sections:
1. random fragmented fat-tree clusters (two zones, 2:1 or 3:1 oversubscribed spines; nodes
   free, partly used or full at random) and a job mix: small dense, 70B dense on 128 and 512
   devices, MoE with EP8 and EP32; cost ratio of Suanli over each baseline.
2. small instances (16 nodes) against the ILP optimum.
3. a stream of jobs (with departures) on an initially empty 512-node cluster: jobs placed before
   the first one that does not fit, and utilisation at that moment.
4. placement time of a 4,096-device job on 10,000 nodes x 8 devices, fragmented.

Run: ``.venv/bin/python benchmarks/placement_quality.py`` (``--quick`` for a smaller run).
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import itertools

from controlplane.perfmodel import Layout, ModelShape, MoEShape, default_calibration
from controlplane.placement import (
    FirstFitPlacer,
    Placement,
    PlacementRequest,
    Placer,
    RoundRobinPlacer,
    TopologyAwarePlacer,
)
from controlplane.placement.assemble import CostContext
from controlplane.placement.cost import total_cost, traffic_profile
from controlplane.placement.ranks import group_arrays
from controlplane.placement.stages import even_stage_layers
from controlplane.topology import (
    Level,
    LinkOverrides,
    PoolShape,
    Topology,
    build_topology,
    catalog_link_defaults,
)

LINKS = catalog_link_defaults()
CALIBRATION = default_calibration()

LLAMA_7B = ModelShape(layers=32, hidden_size=4096, attention_heads=32, sequence_length=4096, ffn_hidden_size=11008,
                      name="llama-7b")
LLAMA_70B = ModelShape(layers=80, hidden_size=8192, attention_heads=64, kv_heads=8, sequence_length=8192,
                       ffn_hidden_size=28672, vocab_size=128256, name="llama-70b")
MIXTRAL = ModelShape(layers=32, hidden_size=4096, attention_heads=32, kv_heads=8, sequence_length=4096,
                     ffn_hidden_size=14336, moe=MoEShape(experts=8, top_k=2, expert_hidden_size=14336), name="mixtral")
DEEPSEEK_MOE = ModelShape(layers=28, hidden_size=2048, attention_heads=16, sequence_length=4096, ffn_hidden_size=10944,
                          vocab_size=102400, moe=MoEShape(experts=64, top_k=6, expert_hidden_size=1408,
                                                          shared_experts=2, moe_layers=27), name="deepseek-moe-16b")


@dataclass(frozen=True)
class Job:
    name: str
    layout: Layout
    model: ModelShape | None

    def request(self, job_id: str | None = None) -> PlacementRequest:
        return PlacementRequest(job_id=job_id or self.name, layout=self.layout, model=self.model)


JOB_MIX = [
    Job("dense 8 (7B, tp4 dp2)", Layout(tp=4, dp=2, micro_batches=16), LLAMA_7B),
    Job("dense 128 (70B, tp8 pp4 dp4)", Layout(tp=8, pp=4, dp=4, micro_batches=32), LLAMA_70B),
    Job("dense 512 (70B, tp8 pp8 dp8)", Layout(tp=8, pp=8, dp=8, micro_batches=32), LLAMA_70B),
    Job("MoE 64 (8x7B, tp2 pp2 dp16 ep8)", Layout(tp=2, pp=2, dp=16, ep=8, micro_batches=16), MIXTRAL),
    Job("MoE 64 (16B, pp2 dp32 ep32)", Layout(tp=1, pp=2, dp=32, ep=32, micro_batches=16), DEEPSEEK_MOE),
]


def placers() -> dict[str, Placer]:
    return {"suanli": TopologyAwarePlacer(), "ff-pod": FirstFitPlacer(), "rr-pod": RoundRobinPlacer(),
            "ff-dev": FirstFitPlacer(granularity="device"), "rr-dev": RoundRobinPlacer(granularity="device")}


# -- clusters ---------------------------------------------------------------------------------

def fat_tree(nodes_per_zone: int, zones: int, oversubscription: float, *, nodes_per_rack: int = 4,
             racks_per_spine: int = 4) -> Topology:
    pools = [PoolShape(name=f"z{z}", accelerator="H100-SXM", node_count=nodes_per_zone, devices_per_node=8,
                       region="r1", zone=f"r1-z{z}", nodes_per_rack=nodes_per_rack, racks_per_spine=racks_per_spine,
                       links=LinkOverrides(spine_oversubscription=oversubscription)) for z in range(zones)]
    return build_topology(pools, link_defaults=LINKS)


def fragment(topology: Topology, rng: np.random.Generator, *, full: float, partial: float) -> None:
    """Mark nodes fully used (share ``full``), partly used (share ``partial``) or free."""
    taken: list[int] = []
    for node in topology.nodes():
        devices = topology.node_info(node).devices
        draw = rng.random()
        if draw < full:
            taken.extend(devices)
        elif draw < full + partial:
            used = int(rng.integers(1, len(devices)))
            taken.extend(rng.choice(np.asarray(devices), size=used, replace=False).tolist())
    if taken:
        topology.allocate(taken, "background")


def geometric_mean(values: Sequence[float]) -> float:
    return math.exp(statistics.fmean(math.log(v) for v in values)) if values else float("nan")


# -- 1. fragmented clusters -------------------------------------------------------------------

def section_fragmented(rng: np.random.Generator, trials: int) -> list[str]:
    lines = ["## 1. Communication cost on fragmented fat-tree clusters", "",
             f"{trials} clusters: 2 zones x 128 nodes x 8 H100 (4 nodes/rack, 4 racks/spine), spines 2:1 or 3:1 "
             "oversubscribed; nodes 35 % full, 30 % partly used, 35 % free. Cost = seconds of communication per "
             "step (same model for every placer); ratio = Suanli / baseline (lower is better).", ""]
    names = [name for name in placers() if name != "suanli"]
    ratios: dict[tuple[str, str], list[float]] = {}
    costs: dict[tuple[str, str], list[float]] = {}
    above_tp: list[float] = []
    for trial in range(trials):
        topology = fat_tree(128, 2, float(rng.choice([2.0, 3.0])))
        fragment(topology, rng, full=0.35, partial=0.30)
        for job in JOB_MIX:
            results = {name: placer.place(job.request(f"{job.name}-{trial}"), topology)
                       for name, placer in placers().items()}
            ours = results["suanli"]
            if not isinstance(ours, Placement):
                print(f"  trial {trial}: {job.name}: suanli could not place it: {ours.reason}", file=sys.stderr)
                continue
            costs.setdefault((job.name, "suanli"), []).append(ours.comm_cost_s)
            for name in names:
                other = results[name]
                if isinstance(other, Placement):
                    costs.setdefault((job.name, name), []).append(other.comm_cost_s)
                    ratios.setdefault((job.name, name), []).append(ours.comm_cost_s / other.comm_cost_s)
                    ours_above = ours.comm_cost_s - ours.comm_breakdown_s.get("tp", 0.0)
                    other_above = other.comm_cost_s - other.comm_breakdown_s.get("tp", 0.0)
                    if name == "ff-pod" and ours_above > 0 and other_above > 0:
                        above_tp.append(ours_above / other_above)
    header = "| job | suanli s/step | " + " | ".join(f"vs {n} (geo-mean / worst)" for n in names) + " |"
    lines += [header, "|---|---:|" + "---:|" * len(names)]
    overall: dict[str, list[float]] = {name: [] for name in names}
    for job in JOB_MIX:
        own_costs = costs.get((job.name, "suanli"), [])
        cells = []
        for name in names:
            values = ratios.get((job.name, name), [])
            overall[name].extend(values)
            cells.append(f"{geometric_mean(values):.2f} / {max(values):.2f}" if values else "-")
        mean_cost = f"{statistics.fmean(own_costs):.3f}" if own_costs else "-"
        lines.append(f"| {job.name} | {mean_cost} | " + " | ".join(cells) + " |")
    lines.append("| **all jobs** | | " + " | ".join(
        f"**{geometric_mean(overall[n]):.2f}** / {max(overall[n]):.2f}" for n in names) + " |")
    lines.append("")
    for name in ("ff-dev", "ff-pod"):
        values = overall[name]
        met = geometric_mean(values) <= 0.5
        lines.append(f"target <= 0.5 x first-fit ({name}): geo-mean {geometric_mean(values):.2f}, "
                     f"{sum(v <= 0.5 for v in values)}/{len(values)} placements at or below 0.5 -> "
                     f"{'MET' if met else 'NOT MET'}")
    lines += ["", "Cost above TP (without the TP term, which both keep inside a node, so the part placement above "
              f"the node changes): Suanli / ff-pod geo-mean {geometric_mean(above_tp):.2f}, worst "
              f"{max(above_tp):.2f}, over {len(above_tp)} placements", ""]
    return lines


# -- 2. exact optimum -------------------------------------------------------------------------

class Milp:
    """A small mixed-integer program, solved with HiGHS."""

    def __init__(self) -> None:
        self.cost: list[float] = []
        self.lower: list[float] = []
        self.upper: list[float] = []
        self.integer: list[bool] = []
        self.rows: list[tuple[list[int], list[float], float, float]] = []

    def var(self, *, cost: float = 0.0, lower: float = 0.0, upper: float = 1.0, integer: bool = True) -> int:
        self.cost.append(cost)
        self.lower.append(lower)
        self.upper.append(upper)
        self.integer.append(integer)
        return len(self.cost) - 1

    def row(self, indices: list[int], values: list[float], lower: float, upper: float) -> None:
        self.rows.append((indices, values, lower, upper))

    def solve(self, time_limit: float) -> tuple[str, float, float, list[float]]:
        import highspy

        inf = highspy.kHighsInf
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = len(self.cost), len(self.rows)
        lp.col_cost_ = np.array(self.cost)
        lp.col_lower_ = np.array(self.lower)
        lp.col_upper_ = np.array([inf if u == math.inf else u for u in self.upper])
        lp.row_lower_ = np.array([-inf if r[2] == -math.inf else r[2] for r in self.rows])
        lp.row_upper_ = np.array([inf if r[3] == math.inf else r[3] for r in self.rows])
        starts, index, value = [0], [], []
        for indices, values, _, _ in self.rows:
            index.extend(indices)
            value.extend(values)
            starts.append(len(index))
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
        lp.a_matrix_.index_ = np.array(index, dtype=np.int32)
        lp.a_matrix_.value_ = np.array(value, dtype=np.float64)
        lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
                           for i in self.integer]
        solver = highspy.Highs()
        solver.setOptionValue("output_flag", False)
        solver.setOptionValue("time_limit", time_limit)
        solver.setOptionValue("threads", 1)
        solver.passModel(lp)
        solver.run()
        status = solver.getModelStatus()
        info = solver.getInfo()
        optimal = status == highspy.HighsModelStatus.kOptimal
        return ("optimal" if optimal else str(status).rsplit(".", 1)[-1], info.objective_function_value,
                info.mip_dual_bound, list(solver.getSolution().col_value))


def _hop_costs(topology: Topology) -> dict[Level, tuple[float, float]]:
    """(achieved bytes/s, latency s) between two devices whose lowest common ancestor is at
    each level present, as ``controlplane.placement.cost`` prices a hop."""
    figures: dict[Level, tuple[float, float]] = {}
    for other in range(1, topology.device_count):
        hop = topology.distance(0, other)
        if hop.level not in figures:
            efficiency = (CALIBRATION.intra_node_collective_efficiency if hop.scaleup
                          else CALIBRATION.scale_out_collective_efficiency)
            figures[hop.level] = (hop.bandwidth_gbytes_per_s * 1e9 * efficiency, hop.latency_us * 1e-6)
    return figures


def exact_optimum(topology: Topology, job: Job, time_limit: float) -> tuple[str, float, float, float]:
    """(status, ILP objective, dual bound, cost-model price of the ILP's placement)."""
    layout, model = job.layout, job.model
    assert model is not None and layout.cp == 1 and layout.ep == 1
    split = even_stage_layers(model.layers, layout.pp)
    profile = traffic_profile(model, layout, split)
    hops = _hop_costs(topology)
    tree = topology.tree
    bins = [vertex for vertex in range(*tree.block(Level.DOMAIN)) if topology.state.free[vertex] > 0]
    split_levels = [level for level in (Level.DOMAIN, Level.NODE, Level.RACK, Level.SPINE, Level.ZONE)
                    if len({int(tree.device_ancestors[tree.dev_lo[b], level]) for b in bins}) > 1]
    subtrees: dict[Level, dict[int, list[int]]] = {level: {} for level in split_levels}  # subtree -> bins
    for index, vertex in enumerate(bins):
        for level in split_levels:
            subtrees[level].setdefault(int(tree.device_ancestors[tree.dev_lo[vertex], level]), []).append(index)
    milp = Milp()
    ranks = layout.devices
    x = [[milp.var() for _ in bins] for _ in range(ranks)]
    for r in range(ranks):
        milp.row(x[r], [1.0] * len(bins), 1, 1)
    for b, vertex in enumerate(bins):
        milp.row([x[r][b] for r in range(ranks)], [1.0] * ranks, -math.inf, float(topology.state.free[vertex]))

    def lca_cost(per_hop: Callable[[float, float], float], level: Level) -> float:
        """Cost of a group whose lowest common ancestor is at ``level`` (a level no pair of
        devices can have, e.g. NODE when a node is one domain, costs what the level below does)."""
        while level not in hops:
            level = Level(level + 1)
        return per_hop(*hops[level])

    def split_terms(members: Sequence[int], per_hop: Callable[[float, float], float],
                    forbid: Sequence[Level] = ()) -> tuple[float, list[int], list[float]]:
        """Base cost and (indicator, increment) pairs of a group: cost(LCA) telescoped over levels."""
        base = lca_cost(per_hop, Level.DOMAIN)
        indices, increments = [], []
        for level in split_levels:
            y = milp.var(upper=0.0 if level in forbid else 1.0)
            anchor = members[0]
            for member in members[1:]:
                for bins_here in subtrees[level].values():
                    # y >= X(member, s) - X(anchor, s)
                    milp.row([y] + [x[member][b] for b in bins_here] + [x[anchor][b] for b in bins_here],
                             [1.0] + [-1.0] * len(bins_here) + [1.0] * len(bins_here), 0.0, math.inf)
            increment = lca_cost(per_hop, Level(level - 1)) - lca_cost(per_hop, level)
            if increment > 0:
                indices.append(y)
                increments.append(increment)
        return base, indices, increments

    def epigraph(bound: int, base: float, indices: list[int], increments: list[float]) -> None:
        milp.row([bound, *indices], [1.0] + [-v for v in increments], base, math.inf)

    groups = group_arrays(layout)
    m = profile.micro_batches
    stage_size = layout.tp * layout.cp * layout.dp
    if layout.tp > 1:
        bound = milp.var(cost=1.0, upper=math.inf, integer=False)
        for group in groups["tp"].tolist():
            layers = profile.stages[group[0] // stage_size].layers
            n = layout.tp

            def tp_cost(bw: float, lat: float, layers: int = layers, n: int = n) -> float:
                return m * layers * profile.tp_collectives_per_layer * ((n - 1) / n * profile.tp_bytes / bw
                                                                        + (n - 1) * lat)
            epigraph(bound, *split_terms(group, tp_cost, forbid=(Level.DOMAIN,)))
    if layout.dp > 1:
        bound = milp.var(cost=1.0, upper=math.inf, integer=False)
        for group in groups["dp"].tolist():
            params = profile.stages[group[0] // stage_size].dense_parameters
            n = layout.dp

            def dp_cost(bw: float, lat: float, params: float = params, n: int = n) -> float:
                def rs(nbytes: float) -> float:
                    return (n - 1) / n * nbytes / bw + (n - 1) * lat
                return rs(params * profile.grad_bytes) + rs(params * 2.0)
            epigraph(bound, *split_terms(group, dp_cost))
    if layout.pp > 1:
        fill = milp.var(cost=1.0, upper=math.inf, integer=False)
        steady = milp.var(cost=1.0, upper=math.inf, integer=False)
        v = profile.virtual_stages

        def send(bw: float, lat: float) -> float:
            return profile.pp_bytes / bw + lat
        for pipeline in groups["pp"].tolist():
            total_base, total_indices, total_increments = 0.0, [], []
            for a, b in itertools.pairwise(pipeline):
                base, indices, increments = split_terms([a, b], send)
                total_base += 2 * v * base
                total_indices += indices
                total_increments += [2 * v * inc for inc in increments]
                scale = profile.pp_sends_per_boundary - 2 * v
                epigraph(steady, scale * base, indices, [scale * inc for inc in increments])
            epigraph(fill, total_base, total_indices, total_increments)
    status, objective, bound_value, values = milp.solve(time_limit)
    devices = _devices_from_solution(topology, bins, x, values)
    context = CostContext.build(layout, model, split, CALIBRATION)
    priced = total_cost(context.cost(topology, devices)) if devices is not None else math.nan
    return status, objective, bound_value, priced


def _devices_from_solution(topology: Topology, bins: list[int], x: list[list[int]],
                           values: list[float]) -> list[int] | None:
    if not values:
        return None
    tree = topology.tree
    base = tree.level_offsets[Level.DEVICE]
    free_ids = {vertex: [d for d in range(int(tree.dev_lo[vertex]), int(tree.dev_hi[vertex]))
                         if topology.state.free[base + d]] for vertex in bins}
    devices = []
    for row in x:
        chosen = max(range(len(bins)), key=lambda b: values[row[b]])
        devices.append(free_ids[bins[chosen]].pop(0))
    return devices


SMALL_JOBS = [
    Job("tp8 pp2 dp2", Layout(tp=8, pp=2, dp=2, micro_batches=16), LLAMA_7B),
    Job("tp4 pp2 dp2", Layout(tp=4, pp=2, dp=2, micro_batches=16), LLAMA_7B),
    Job("tp4 pp4 dp2", Layout(tp=4, pp=4, dp=2, micro_batches=16), LLAMA_7B),
    Job("tp2 pp2 dp4", Layout(tp=2, pp=2, dp=4, micro_batches=16), LLAMA_7B),
    Job("tp8 pp4", Layout(tp=8, pp=4, micro_batches=16), LLAMA_7B),
    Job("tp8 dp4", Layout(tp=8, dp=4, micro_batches=16), LLAMA_7B),
    Job("tp2 pp4 dp4", Layout(tp=2, pp=4, dp=4, micro_batches=16), LLAMA_7B),
    Job("tp4 pp2 dp4", Layout(tp=4, pp=2, dp=4, micro_batches=16), LLAMA_7B),
    Job("tp2 pp2 dp8", Layout(tp=2, pp=2, dp=8, micro_batches=16), LLAMA_7B),
]


def section_exact(rng: np.random.Generator, instances: int, time_limit: float) -> list[str]:
    lines = ["## 2. Against the exact optimum (ILP, HiGHS via highspy)", "",
             "Small instances: 16 nodes x 8 H100 in 2 zones (2 nodes/rack, 2 racks/spine), spines 1:1, 2:1 or 4:1, "
             "nodes 25 % full, 40 % partly used. Dense jobs of 16-32 ranks (the ILP covers TP, PP and DP; "
             "EP all-to-all is not linear in the assignment and is left out). "
             f"ILP time limit {time_limit:.0f} s per instance, 1 thread.", "",
             "Columns: the ILP's objective, the cost model's price of the ILP's placement (a cross-check: they "
             "must agree), Suanli's cost, and the ratios; 'above TP' compares only the cost that placement above "
             "the node can change (every placer keeps TP groups inside a domain, so their TP cost is equal).", "",
             "| # | job | oversub. | ILP status | optimum s/step | ILP placement priced | suanli | "
             "suanli / opt | suanli / opt above TP | ff-pod / opt |",
             "|---:|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    ratios, ff_ratios, consistency, above_tp = [], [], [], []
    produced = 0
    attempt = 0
    while produced < instances and attempt < instances * 10:
        attempt += 1
        oversubscription = float(rng.choice([1.0, 2.0, 4.0]))
        topology = fat_tree(8, 2, oversubscription, nodes_per_rack=2, racks_per_spine=2)
        fragment(topology, rng, full=0.25, partial=0.40)
        job = SMALL_JOBS[int(rng.integers(len(SMALL_JOBS)))]
        ours = TopologyAwarePlacer().place(job.request(), topology)
        first_fit = FirstFitPlacer().place(job.request(), topology)
        if not isinstance(ours, Placement) or not isinstance(first_fit, Placement):
            continue
        produced += 1
        status, objective, bound, priced = exact_optimum(topology, job, time_limit)
        optimum = objective if status == "optimal" else bound
        ratio = ours.comm_cost_s / optimum
        ratios.append(ratio)
        ff_ratios.append(first_fit.comm_cost_s / optimum)
        consistency.append(abs(priced - objective) / objective)
        tp_cost = ours.comm_breakdown_s.get("tp", 0.0)
        above = (ours.comm_cost_s - tp_cost) / (optimum - tp_cost) if optimum - tp_cost > 1e-12 else None
        if above is not None:
            above_tp.append(above)
        lines.append(f"| {produced} | {job.name} | {oversubscription:g}:1 | {status} | {objective:.4f} | "
                     f"{priced:.4f} | {ours.comm_cost_s:.4f} | {ratio:.3f} | "
                     f"{'-' if above is None else f'{above:.3f}'} | {first_fit.comm_cost_s / optimum:.3f} |")
    lines += ["", f"suanli / optimum: mean {statistics.fmean(ratios):.3f}, worst {max(ratios):.3f}; "
              f"ff-pod / optimum: mean {statistics.fmean(ff_ratios):.3f}, worst {max(ff_ratios):.3f}; "
              f"suanli / optimum above TP: mean {statistics.fmean(above_tp):.3f}, worst {max(above_tp):.3f}",
              f"target <= 1.05 x optimum: {'MET' if max(ratios) <= 1.05 else 'NOT MET'} "
              f"({sum(r <= 1.05 for r in ratios)}/{len(ratios)} instances within 1.05)",
              f"cross-check: the ILP objective and the cost model's price of the ILP placement differ by at most "
              f"{max(consistency):.2e} (relative)", ""]
    return lines


# -- 3. stream of jobs ------------------------------------------------------------------------

STREAM_SIZES = [  # (tp, pp, dp), weight: many small jobs that fragment nodes, a few large gangs
    ((2, 1, 2), 10), ((4, 1, 1), 10), ((4, 1, 2), 10), ((8, 1, 1), 10), ((8, 1, 2), 10), ((8, 2, 2), 10),
    ((4, 2, 4), 8), ((8, 2, 4), 8), ((8, 4, 4), 8), ((8, 4, 8), 6), ((8, 8, 8), 4), ((8, 8, 16), 2)]


def _stream(rng: np.random.Generator, arrivals: int) -> list[tuple[Layout, int]]:
    weights = np.array([w for _, w in STREAM_SIZES], dtype=float)
    plan = []
    for _ in range(arrivals):
        tp, pp, dp = STREAM_SIZES[int(rng.choice(len(STREAM_SIZES), p=weights / weights.sum()))][0]
        plan.append((Layout(tp=tp, pp=pp, dp=dp, micro_batches=8), int(rng.integers(20, 160))))
    return plan


def section_stream(rng: np.random.Generator, streams: int, arrivals: int) -> list[str]:
    lines = ["## 3. A stream of jobs on a churning cluster (fragmentation)", "",
             f"512 nodes x 8 H100 in 2 zones (2:1 spines), initially empty. One job arrives per step ({arrivals} per "
             "stream) with a random size from 4 to 1,024 devices (mostly small jobs that leave partly used nodes, "
             "a few large gangs) and leaves after 20-160 steps; the offered load exceeds the cluster, so some jobs "
             "must be turned away. A job that does not fit on arrival is rejected. Same streams for every placer; "
             f"means over {streams} streams.", "",
             "| placer | placed before first miss | jobs accepted | device-steps accepted | gangs >= 256 accepted | "
             "mean utilisation | comm ms/step per device |", "|---|---:|---:|---:|---:|---:|---:|"]
    plans = [_stream(rng, arrivals) for _ in range(streams)]
    for name, placer in placers().items():
        first_miss, accepted, work, large, utilisation, comm = [], [], [], [], [], []
        for plan in plans:
            topology = fat_tree(256, 2, 2.0)
            ends: dict[int, list[str]] = {}
            missed_at: int | None = None
            counts = [0, 0, 0]
            offered_large = 0
            busy = []
            for step, (layout, duration) in enumerate(plan):
                for owner in ends.pop(step, []):
                    topology.release_owner(owner)
                offered_large += layout.devices >= 256
                result = placer.place(PlacementRequest(job_id=f"j{step}", layout=layout), topology)
                if isinstance(result, Placement):
                    topology.allocate(result.devices, result.job_id)
                    ends.setdefault(step + duration, []).append(result.job_id)
                    comm.append(result.comm_cost_s / layout.devices)
                    counts[0] += 1
                    counts[1] += layout.devices * duration
                    counts[2] += layout.devices >= 256
                elif missed_at is None:
                    missed_at = step
                busy.append(1 - topology.free_devices(topology.root) / topology.device_count)
            first_miss.append(missed_at if missed_at is not None else len(plan))
            accepted.append(counts[0])
            work.append(counts[1])
            large.append(counts[2] / max(1, offered_large))
            utilisation.append(statistics.fmean(busy))
        lines.append(f"| {name} | {statistics.fmean(first_miss):.1f} | {statistics.fmean(accepted):.1f} | "
                     f"{statistics.fmean(work):,.0f} | {statistics.fmean(large):.1%} | "
                     f"{statistics.fmean(utilisation):.1%} | {statistics.fmean(comm) * 1e3:.3f} |")
    lines.append("")
    return lines


# -- 4. speed ---------------------------------------------------------------------------------

def section_speed(rng: np.random.Generator, repeats: int) -> list[str]:
    topology = fat_tree(2_500, 4, 2.0, nodes_per_rack=4, racks_per_spine=8)
    fragment(topology, rng, full=0.30, partial=0.20)
    job = Job("4096 (70B, tp8 pp8 dp64)", Layout(tp=8, pp=8, dp=64, micro_batches=64), LLAMA_70B)
    lines = ["## 4. Placement time: a 4,096-device job on 10,000 nodes x 8 devices", "",
             f"4 zones x 2,500 nodes (4 nodes/rack, 8 racks/spine, 2:1 spines), 30 % of nodes full and 20 % partly "
             f"used; job {job.name}. Median of {repeats} runs, wall clock, including building the result "
             "(coordinates, groups, cost).", "", "| placer | median ms | min ms | comm s/step |",
             "|---|---:|---:|---:|"]
    medians = {}
    for name, placer in placers().items():
        times, result = [], None
        for _ in range(repeats):
            started = time.perf_counter()
            result = placer.place(job.request(), topology)
            times.append((time.perf_counter() - started) * 1e3)
        cost = f"{result.comm_cost_s:.3f}" if isinstance(result, Placement) else "failed"
        medians[name] = statistics.median(times)
        lines.append(f"| {name} | {medians[name]:.1f} | {min(times):.1f} | {cost} |")
    met = medians["suanli"] < 100
    lines += ["", f"target < 100 ms: {'MET' if met else 'NOT MET'} (median {medians['suanli']:.1f} ms)", ""]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer trials, instances and streams")
    parser.add_argument("--seed", type=int, default=20261121)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    print("# Placement quality\n")
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.processor() or platform.machine()}, "
          f"seed {args.seed}{', quick' if args.quick else ''}\n")
    for section in (lambda: section_fragmented(rng, 3 if args.quick else 10),
                    lambda: section_exact(rng, 4 if args.quick else 16, 60.0),
                    lambda: section_stream(rng, 2 if args.quick else 5, 300 if args.quick else 1000),
                    lambda: section_speed(rng, 5 if args.quick else 15)):
        print("\n".join(section()), flush=True)
    print(f"total benchmark time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
