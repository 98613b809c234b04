"""Benchmark: how good Suanli's scheduling decisions are, against the baselines, in the simulator.

Claims (issue 5):

1. Heterogeneity (Gavel's setting). On Gavel's measured throughputs
   (``tests/data/gavel/simulation_throughputs.json``), a 36 V100 + 36 P100 + 36 K80 cluster and
   Poisson arrivals of Gavel-style single-GPU jobs (our generator,
   ``controlplane.simulator.generate_gavel_jobs``), Suanli's average JCT is at least as good as
   what Gavel's paper reports for its heterogeneity-aware policy: 1.3-1.5x better than the
   heterogeneity-agnostic LAS at low load (Narayanan et al., OSDI'20, Fig. 8). FIFO is shown too.
2. Cost (multi-cloud). Five on-demand pools priced from the real price catalog (the cheapest
   8-GPU offer of each type: H100, H200, B200, A100-80GB, L4) and Poisson arrivals of
   transformer training jobs (1.3B-13B parameters, 8-32 devices, 2-12 H100-hours of work each),
   with rates from the analytical performance model: total cost and average JCT of Suanli
   (cost per unit of work) against cheapest-$/hour-first (SkyPilot/dstack-like).

Every policy sees the same jobs, cluster and estimator in the same run; the scheduler code is the
one the controller runs. Run: ``.venv/bin/python benchmarks/scheduler_quality.py`` (``--quick``:
fewer jobs and loads).
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np

from controlplane.catalog import PriceCatalog, default_accelerator_catalog
from controlplane.perfmodel import Layout, ModelShape
from controlplane.perfmodel.throughput import ThroughputTable
from controlplane.scheduling import Job, ModeledRates, Pool, Scheduler, units_per_device
from controlplane.simulator import Cluster, Simulation, gavel_cluster, generate_gavel_jobs
from controlplane.simulator.harness import SimulationResult
from controlplane.simulator.setup import estimator_for
from controlplane.topology import PoolShape

ROOT = Path(__file__).resolve().parents[1]
THROUGHPUTS = ROOT / "tests" / "data" / "gavel" / "simulation_throughputs.json"
GAVEL_TARGET = 1.3
CLOUD_TYPES = ("H100-SXM", "H200", "B200", "A100-80GB", "L4")
NODES_PER_POOL = 8


def run(cluster: Cluster, jobs: list[Job], policy: str, estimator: object) -> tuple[SimulationResult, float]:
    started = time.perf_counter()
    result = Simulation(cluster, jobs, scheduler=Scheduler(policy), estimator=estimator).run()  # type: ignore[arg-type]
    if result.violations:
        raise SystemExit(f"{policy}: invariant violations: {result.violations[:3]}")
    return result, time.perf_counter() - started


def gavel_scenario(loads: list[float], jobs_per_load: int, seeds: list[int]) -> None:
    table = ThroughputTable.load_gavel(THROUGHPUTS)
    cluster = gavel_cluster("36:36:36")
    estimator = estimator_for(table)
    print(f"\n## 1. Gavel: 36 V100 + 36 P100 + 36 K80, {jobs_per_load} single-GPU jobs per run, "
          f"seeds {seeds}, average JCT in hours (mean over seeds)\n")
    print("| load (jobs/h) | Suanli | LAS | FIFO | LAS / Suanli | FIFO / Suanli | target LAS / Suanli | simulated |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for load in loads:
        jct: dict[str, list[float]] = {"suanli": [], "las": [], "fifo": []}
        spent = 0.0
        for seed in seeds:
            jobs = generate_gavel_jobs(jobs_per_load, jobs_per_hour=load, table=table, seed=seed)
            for policy in jct:
                result, seconds = run(cluster, jobs, policy, estimator)
                assert result.summary.completed == len(jobs)
                jct[policy].append(result.summary.avg_jct_h)
                spent += seconds
        mean = {policy: float(np.mean(values)) for policy, values in jct.items()}
        ratio = mean["las"] / mean["suanli"]
        print(f"| {load:g} | {mean['suanli']:.2f} | {mean['las']:.2f} | {mean['fifo']:.2f} | {ratio:.2f}x "
              f"{'(met)' if ratio >= GAVEL_TARGET else '(NOT met)'} | {mean['fifo'] / mean['suanli']:.2f}x | "
              f">= {GAVEL_TARGET}x | {spent:.1f} s |", flush=True)


def cloud_cluster(prices: PriceCatalog) -> Cluster:
    catalog = default_accelerator_catalog()
    pools: list[Pool] = []
    shapes: list[PoolShape] = []
    for name in CLOUD_TYPES:
        offer = prices.cheapest(name, spot=False, min_devices=8)
        assert offer is not None, name
        price = offer.per_device_hour(spot=False)
        assert price is not None
        spec = catalog.get(name)
        pool_name = f"{offer.cloud}-{name.lower()}"
        pools.append(Pool(name=pool_name, accelerator=spec.name, devices_per_node=8, price_per_device_hour=price,
                          memory_gib=spec.hbm_gib, units_per_device=units_per_device(spec.name, catalog.get),
                          provider=offer.cloud, region=offer.region))
        shapes.append(PoolShape(name=pool_name, accelerator=spec.name, node_count=NODES_PER_POOL,
                                devices_per_node=8, region=offer.region, zone=f"{offer.region}/{pool_name}",
                                provider=offer.cloud))
        print(f"- {pool_name}: {offer.label}, ${price:.2f} per device-hour ({offer.source})")
    return Cluster(tuple(pools), tuple(shapes))


MODELS = (
    ModelShape(layers=24, hidden_size=2048, attention_heads=16, sequence_length=2048, vocab_size=50257,
               gated_mlp=False, name="gpt-1.3b"),
    ModelShape(layers=32, hidden_size=4096, attention_heads=32, sequence_length=4096, ffn_hidden_size=11008,
               name="llama-7b"),
    ModelShape(layers=40, hidden_size=5120, attention_heads=40, sequence_length=4096, ffn_hidden_size=13824,
               name="llama-13b"),
)


def cloud_jobs(count: int, jobs_per_hour: float, estimator: ModeledRates, seed: int) -> list[Job]:
    rng = np.random.default_rng(seed)
    jobs: list[Job] = []
    arrival = 0.0
    for index in range(count):
        model = MODELS[int(rng.integers(len(MODELS)))]
        devices = int(rng.choice([8, 16, 32]))
        tp = 1 if model.name == "gpt-1.3b" else (2 if model.name == "llama-7b" else 4)
        dp = devices // tp
        layout = Layout(tp=tp, dp=dp, micro_batch_size=1, micro_batches=max(256 // dp, 1))
        job = Job(job_id=f"job-{index:03d}", team="ml", devices=devices, total_steps=1.0, submitted_at=arrival,
                  model=model, layout=layout, restart_overhead_s=120.0)
        rate = estimator.estimate(job, "H100-SXM", 8).steps_per_second
        assert rate, model.name
        hours = float(rng.uniform(2.0, 12.0)) / devices * 8  # 2-12 H100-node-hours of work
        jobs.append(Job(job_id=job.job_id, team="ml", devices=devices, total_steps=round(hours * 3600 * rate),
                        submitted_at=arrival, model=model, layout=layout, restart_overhead_s=120.0))
        arrival += float(rng.exponential(3600.0 / jobs_per_hour))
    return jobs


def cost_scenario(count: int, seeds: list[int]) -> None:
    print(f"\n## 2. Multi-cloud cost: {len(CLOUD_TYPES)} on-demand pools of {NODES_PER_POOL} x 8 devices, "
          f"prices from the catalog\n")
    prices = PriceCatalog.load_default()
    cluster = cloud_cluster(prices)
    estimator = ModeledRates(default_accelerator_catalog().get)
    print(f"\n{count} training jobs per run, 1.5 jobs/h, seeds {seeds} (sums and means over seeds)\n")
    print("| policy | total cost $ | avg JCT h | p99 JCT h | cost vs Suanli | JCT vs Suanli | types used |")
    print("|---|---:|---:|---:|---:|---:|---|")
    rows: dict[str, tuple[float, float, float, set[str]]] = {}
    for policy in ("suanli", "cheapest", "fifo"):
        cost = jct = p99 = 0.0
        types: set[str] = set()
        for seed in seeds:
            jobs = cloud_jobs(count, 1.5, estimator, seed)
            result, _ = run(cluster, jobs, policy, estimator)
            assert result.summary.completed == len(jobs), result.wait_reasons
            cost += result.summary.cost
            jct += result.summary.avg_jct_h / len(seeds)
            p99 += result.summary.p99_jct_h / len(seeds)
            types |= {t for record in result.records for t in record.accelerators}
        rows[policy] = (cost, jct, p99, types)
    base_cost, base_jct = rows["suanli"][0], rows["suanli"][1]
    for policy, (cost, jct, p99, types) in rows.items():
        print(f"| {policy} | {cost:,.0f} | {jct:.2f} | {p99:.2f} | {cost / base_cost:.2f}x | {jct / base_jct:.2f}x | "
              f"{', '.join(sorted(types))} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer jobs, loads and seeds")
    args = parser.parse_args()
    print(f"scheduler_quality (python {platform.python_version()}, {platform.machine()})")
    if args.quick:
        gavel_scenario([1.0, 2.0], 80, [1])
        cost_scenario(15, [1])
    else:
        gavel_scenario([0.5, 1.0, 2.0, 3.0], 300, [1, 2, 3])
        cost_scenario(40, [1, 2, 3])


if __name__ == "__main__":
    main()
