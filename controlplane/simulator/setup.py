"""From command-line inputs to a ready simulation: which cluster, which jobs, which rates, which spot traces.

Owns ``SimulationInputs`` and ``load_inputs`` (used by ``suanli simulate`` and the benchmarks),
and ``simulate`` (one policy over the inputs).

- ``cluster``: Gavel counts ``V:P:K`` (e.g. ``36:36:36``) or an ``AcceleratorPool`` YAML file;
- ``jobs``: a Gavel ``.trace`` file (needs the Gavel throughputs JSON) or a YAML file of
  ``TrainingJob`` (and optional ``Queue``) documents;
- ``throughputs``: Gavel's ``simulation_throughputs.json``; when given, measured rates are used
  first and the analytical model for everything else;
- ``spot_traces``: ``PATH`` (applied to every spot pool) or ``POOL=PATH``, repeatable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from controlplane.catalog.accelerators import default_accelerator_catalog
from controlplane.domain.errors import InvalidInputError
from controlplane.perfmodel.throughput import ThroughputTable
from controlplane.scheduling.estimates import FirstOf, MeasuredRates, ModeledRates
from controlplane.scheduling.scheduler import Scheduler
from controlplane.scheduling.snapshot import Estimator, Job, QueueQuota
from controlplane.simulator.harness import Simulation, SimulationConfig, SimulationResult
from controlplane.simulator.spot import NodeChange, load_spot_trace
from controlplane.simulator.workloads import (
    Cluster,
    cluster_from_pools_file,
    gavel_cluster,
    gavel_jobs,
    jobs_from_specs_file,
    read_gavel_trace,
)


@dataclass(frozen=True)
class SimulationInputs:
    cluster: Cluster
    jobs: tuple[Job, ...]
    estimator: Estimator
    queues: tuple[QueueQuota, ...] = ()
    spot: tuple[tuple[str, tuple[NodeChange, ...]], ...] = ()


def estimator_for(table: ThroughputTable | None) -> Estimator:
    modeled = ModeledRates(default_accelerator_catalog().get)
    return modeled if table is None else FirstOf([MeasuredRates(table), modeled])


def _looks_like_counts(text: str) -> bool:
    return ":" in text and all(part.strip().isdigit() for part in text.split(":"))


def load_inputs(*, cluster: str, jobs: Path, throughputs: Path | None = None,
                spot_traces: Sequence[str] = ()) -> SimulationInputs:
    """Read and check every input; ``InvalidInputError`` names the option at fault."""
    built = gavel_cluster(cluster) if _looks_like_counts(cluster) else cluster_from_pools_file(Path(cluster))
    table = ThroughputTable.load_gavel(throughputs) if throughputs is not None else None
    queues: list[QueueQuota] = []
    if jobs.suffix == ".trace":
        if table is None:
            raise InvalidInputError("a Gavel trace needs Gavel's throughputs", field="--throughputs",
                                    hint="pass --throughputs simulation_throughputs.json")
        try:
            text = jobs.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInputError(f"cannot read {jobs}: {exc.strerror or exc}", field="--jobs") from None
        job_list = gavel_jobs(read_gavel_trace(text, source=str(jobs)), table)
    else:
        job_list, queues = jobs_from_specs_file(jobs)
    spot: list[tuple[str, tuple[NodeChange, ...]]] = []
    spot_pools = [pool.name for pool in built.pools if pool.spot]
    nodes = {shape.name: shape.node_count for shape in built.shapes}
    for item in spot_traces:
        pool_name, sep, path = item.partition("=")
        targets = [pool_name] if sep else spot_pools
        trace_path = Path(path if sep else item)
        if sep and pool_name not in nodes:
            raise InvalidInputError(f"--spot-trace names unknown pool {pool_name!r}", field="--spot-trace",
                                    hint=f"pools: {', '.join(nodes)}")
        if not targets:
            raise InvalidInputError("--spot-trace given but the cluster has no spot pool", field="--spot-trace",
                                    hint="write POOL=PATH to apply it to a named pool")
        for target in targets:
            spot.append((target, tuple(load_spot_trace(trace_path, pool_nodes=nodes[target]))))
    return SimulationInputs(cluster=built, jobs=tuple(job_list), estimator=estimator_for(table),
                            queues=tuple(queues), spot=tuple(spot))


def simulate(inputs: SimulationInputs, policy: str, *, config: SimulationConfig | None = None) -> SimulationResult:
    simulation = Simulation(inputs.cluster, inputs.jobs, scheduler=Scheduler(policy), estimator=inputs.estimator,
                            queues=inputs.queues, spot=dict(inputs.spot), config=config)
    return simulation.run()
