"""Benchmark: MoE expert placement, Suanli vs DeepSeek's EPLB (both policies) and a greedy baseline.

Claim (issue 4): on DeepSeek-V3-shaped loads Suanli balances devices within 0.01 of EPLB's global
plan while each expert group spans at most 1.25 nodes on average, runs at least 10x faster than
EPLB, and an incremental mode reaches most of the gain while moving few experts.

Baselines, measured in the same run on the same loads:
- ``greedy``: no replication, heaviest expert first onto the lightest device with a free slot;
- ``eplb-hier`` / ``eplb-global``: our re-implementation of DeepSeek's EPLB from its public README
  (hierarchical: whole groups onto nodes, replicate within nodes, pack onto GPUs; global: replicate
  and pack ignoring nodes). Our version is NumPy with Python loops where the original uses PyTorch;
  it is much faster than the 0.5-1.8 s the issue quotes for the original on CPU.

Loads: the shared DeepSeek-V3-shaped file (58 layers x 256 experts, 8 groups, lognormal Gini ~0.25)
and harder skews generated here with a fixed seed (lognormal sigma 0.8 / 1.2 and Zipf s = 0.8 /
1.0 / 1.2, hot experts permuted per layer). Shapes: prefill 4 nodes x 8 GPUs x 9 slots (32
redundant), decode 40 nodes x 8 GPUs x 1 slot (64 redundant).

Metrics (per layer, then averaged): device and node max/mean load with an expert's tokens split
evenly across its replicas; group span = distinct nodes hosting any replica of a group's experts,
averaged over groups; time = median wall time over repeats for all layers.

Run: ``.venv/bin/python benchmarks/expert_placement.py`` (``--quick``: 8 layers, 1 repeat).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import TypedDict

import numpy as np

from controlplane.domain.errors import InvalidInputError
from controlplane.placement.experts import (
    ExpertPlan,
    eplb_global,
    eplb_hierarchical,
    greedy_no_replication,
    place_experts,
)

ROOT = Path(__file__).resolve().parents[1]
SHARED_LOADS = ROOT.parent / "shared" / "data" / "expert_loads" / "dsv3_like_lognormal_g0.25.json"
FALLBACK_LOADS = ROOT / "tests" / "data" / "expert_loads" / "dsv3_like_4_layers.json"


class Shape(TypedDict):
    nodes: int
    devices_per_node: int
    slots_per_device: int
    groups: int


PREFILL = Shape(nodes=4, devices_per_node=8, slots_per_device=9, groups=8)
DECODE = Shape(nodes=40, devices_per_node=8, slots_per_device=1, groups=8)
SHAPES = {"prefill 4x8x9": PREFILL, "decode 40x8x1": DECODE}
Planner = Callable[..., ExpertPlan]
ALGORITHMS: dict[str, Planner] = {"suanli": place_experts, "greedy": greedy_no_replication,
                                  "eplb-hier": eplb_hierarchical, "eplb-global": eplb_global}


def generated_loads(layers: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(2024)
    result = {f"lognormal s={sigma}": rng.lognormal(0.0, sigma, (layers, 256)) * 1000.0 for sigma in (0.8, 1.2)}
    for exponent in (0.8, 1.0, 1.2):
        base = 1.0 / np.arange(1, 257) ** exponent
        result[f"zipf s={exponent}"] = np.stack([rng.permutation(base) for _ in range(layers)]) * 1e5
    return result


def gini(loads: np.ndarray) -> float:
    values = np.sort(loads, axis=1)
    n = values.shape[1]
    index = np.arange(1, n + 1)
    return float(np.mean((2 * index - n - 1) @ values.T / (n * values.sum(axis=1))))


def timed(planner: Planner, loads: np.ndarray, shape: Shape, repeats: int) -> tuple[ExpertPlan, float]:
    """The plan and the median planning time (``plan.seconds``: metrics computation excluded, the
    same for every algorithm)."""
    plan = planner(loads, **shape)
    times = [plan.seconds] + [planner(loads, **shape).seconds for _ in range(repeats - 1)]
    return plan, statistics.median(times)


def compare(name: str, loads: np.ndarray, repeats: int) -> dict[str, dict[str, tuple[dict, float]]]:
    print(f"\n## {name}: {loads.shape[0]} layers x {loads.shape[1]} experts, Gini {gini(loads):.2f}, "
          f"max/mean expert {np.mean(loads.max(axis=1) / loads.mean(axis=1)):.1f}\n")
    print("| shape | algorithm | device max/mean (worst) | node max/mean | group span (max) | ms |")
    print("|---|---|---|---|---|---|")
    results: dict[str, dict[str, tuple[dict, float]]] = {}
    for shape_name, shape in SHAPES.items():
        results[shape_name] = {}
        for algorithm, planner in ALGORITHMS.items():
            try:
                plan, seconds = timed(planner, loads, shape, repeats)
            except InvalidInputError:
                print(f"| {shape_name} | {algorithm} | n/a (needs nodes to divide groups) | | | |")
                continue
            s = plan.summary()
            results[shape_name][algorithm] = (s, seconds)
            print(f"| {shape_name} | {algorithm} | {s['device_max_over_mean']:.4f} "
                  f"({s['device_max_over_mean_worst']:.4f})"
                  f" | {s['node_max_over_mean']:.4f} | {s['mean_group_span']:.3f} ({s['max_group_span']}) |"
                  f" {seconds * 1000:.1f} |")
    return results


def verdict(results: dict[str, dict[str, tuple[dict, float]]], layers: int) -> None:
    ours, ours_s = results["prefill 4x8x9"]["suanli"]
    glob, glob_s = results["prefill 4x8x9"]["eplb-global"]
    hier, hier_s = results["prefill 4x8x9"]["eplb-hier"]
    gap = ours["device_max_over_mean"] - glob["device_max_over_mean"]
    print("\nTargets (DeepSeek-V3-shaped loads, prefill):")
    print(f"- balance within 0.01 of EPLB global: {ours['device_max_over_mean']:.4f} vs "
          f"{glob['device_max_over_mean']:.4f} (difference {gap:+.4f}) -> {'met' if gap <= 0.01 else 'NOT met'}")
    print(f"- mean group span <= 1.25: {ours['mean_group_span']:.3f} (EPLB hierarchical 1.000 with device max/mean "
          f"{hier['device_max_over_mean']:.4f}; EPLB global {glob['mean_group_span']:.3f}) -> "
          f"{'met' if ours['mean_group_span'] <= 1.25 else 'NOT met'}")
    for label, other in (("EPLB hierarchical", hier_s), ("EPLB global", glob_s)):
        print(f"- speed vs our NumPy re-implementation of {label}: {other / ours_s:.1f}x "
              f"({ours_s * 1000:.1f} ms vs {other * 1000:.1f} ms for these layers)")
    per_58 = ours_s * 58 / layers
    print("  The issue quotes 0.5-1.8 s for the original PyTorch EPLB on CPU for 58 layers (not run here: no "
          f"torch, and its code is not ours to copy); against that figure Suanli's {per_58 * 1000:.0f} ms per 58 "
          f"layers is {0.5 / per_58:.0f}-{1.8 / per_58:.0f}x faster. Against our own re-implementation (same "
          "algorithm, lighter data structures) the 10x target is NOT met: see the ratios above.")
    dec, _ = results["decode 40x8x1"]["suanli"]
    dec_glob, _ = results["decode 40x8x1"]["eplb-global"]
    print(f"- decode (one slot per GPU, groups need >= 4 nodes, 5 on average at best): span "
          f"{dec['mean_group_span']:.3f} vs EPLB global {dec_glob['mean_group_span']:.3f}, same device max/mean "
          f"({dec['device_max_over_mean']:.4f} vs {dec_glob['device_max_over_mean']:.4f}, both optimal)")


def tolerance_sweep(loads: np.ndarray) -> None:
    print("\n## Balance vs span trade-off (DeepSeek-V3-shaped, prefill): --tolerance\n")
    print("| tolerance | device max/mean | node max/mean | group span |")
    print("|---|---|---|---|")
    for tolerance in (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02):
        s = place_experts(loads, **PREFILL, tolerance=tolerance).summary()
        print(f"| {tolerance} | {s['device_max_over_mean']:.4f} | {s['node_max_over_mean']:.4f} | "
              f"{s['mean_group_span']:.3f} |")


def incremental(loads: np.ndarray) -> None:
    drifted = loads * np.random.default_rng(3).lognormal(0.0, 0.3, loads.shape)
    print("\n## Incremental mode: loads drift (x lognormal(0, 0.3) per expert); current = plan for the old loads\n")
    print("| shape | plan | device max/mean | share of the full re-plan's gain | replicas copied per layer | "
          "group span | ms |")
    print("|---|---|---|---|---|---|---|")
    for shape_name, shape in SHAPES.items():
        current = place_experts(loads, **shape).devices()
        stale = place_experts(drifted, **shape, current=current, max_moves=0).summary()
        full = place_experts(drifted, **shape, current=current)
        full_s = full.summary()
        gain = stale["device_max_over_mean"] - full_s["device_max_over_mean"]
        rows = [("stale (no move)", stale, 0.0)]
        for budget in (2, 4, 8, 16, 32):
            plan = place_experts(drifted, **shape, current=current, max_moves=budget)
            rows.append((f"max {budget} moves", plan.summary(), plan.seconds))
        rows.append(("full re-plan", full_s, full.seconds))
        for label, s, seconds in rows:
            share = (stale["device_max_over_mean"] - s["device_max_over_mean"]) / gain if gain > 0 else 1.0
            print(f"| {shape_name} | {label} | {s['device_max_over_mean']:.4f} | {100 * share:.0f}% | "
                  f"{(s['experts_moved'] or 0) / s['layers']:.1f} | {s['mean_group_span']:.3f} | "
                  f"{seconds * 1000:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="8 layers and 1 repeat")
    parser.add_argument("--loads", type=Path, default=SHARED_LOADS, help="DeepSeek-V3-shaped loads JSON")
    args = parser.parse_args()
    path = args.loads if args.loads.exists() else FALLBACK_LOADS
    layers = 8 if args.quick else 58
    repeats = 1 if args.quick else 5
    dsv3 = np.asarray(json.loads(path.read_text())["loads"], dtype=np.float64)[:layers]
    print(f"# MoE expert placement benchmark ({'quick' if args.quick else 'full'})\n")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, NumPy {np.__version__}; loads: {path.name}; times are medians of "
          f"{repeats} runs over all {layers} layers")
    results = compare("DeepSeek-V3-shaped (shared data)", dsv3, repeats)
    verdict(results, layers)
    tolerance_sweep(dsv3)
    incremental(dsv3)
    for name, loads in generated_loads(layers).items():
        compare(name, loads, repeats)
    print("\nUnder heavy skew (one expert carrying a large share of a node's tokens) whole groups cannot be "
          "balanced; Suanli then falls back, per layer, to a chunked or a spread plan balanced like EPLB "
          "global, and the span advantage shrinks (see the notes in each plan).")


if __name__ == "__main__":
    main()
