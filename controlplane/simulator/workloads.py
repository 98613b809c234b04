"""What a simulation runs: the cluster and the jobs, from our specs or from Gavel's formats.

Owns ``Cluster`` and the readers:

- ``gavel_cluster("36:36:36")``: Gavel's ``-c V:P:K`` worker counts as three on-prem pools
  ``v100``, ``p100`` and ``k80`` of 4-GPU servers, priced at zero (owned hardware) unless
  prices are given;
- ``cluster_from_pools_file``: ``AcceleratorPool`` documents (price from the pool or the catalog);
- ``read_gavel_trace``: Gavel's 10-field TAB-separated job lines; a job's ``total_steps`` runs at
  the measured throughput of its ``job_type`` on each worker type; SLO > 0 becomes a deadline of
  ``arrival + SLO x`` its duration on the fastest type, -1 none;
- ``generate_gavel_jobs``: our own Poisson generator of Gavel-style jobs, following the
  distribution Gavel's paper describes: job type uniform over the measured types; duration on a
  V100 of 10^U(1.5, 3) minutes with probability 0.8, else 10^U(3, 4) minutes; steps = duration x
  V100 throughput; one GPU each, or (``multi_gpu``) 1/2/4/8 GPUs with probability
  0.70/0.10/0.15/0.05;
- ``jobs_from_specs_file``: ``TrainingJob`` documents (arriving at the label
  ``suanli.dev/arrival-seconds``, default 0) and any ``Queue`` documents beside them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from controlplane.catalog.accelerators import AcceleratorCatalog, default_accelerator_catalog
from controlplane.catalog.prices import PriceCatalog
from controlplane.domain.errors import InvalidInputError
from controlplane.perfmodel.throughput import ThroughputTable
from controlplane.scheduling.estimates import units_per_device
from controlplane.scheduling.snapshot import Job, Pool, QueueQuota
from controlplane.scheduling.specs import job_from_spec, pool_from_spec, queue_from_spec
from controlplane.topology import PoolShape, Topology, build_topology, catalog_link_defaults, pool_shape_from_spec
from jobspecs import AcceleratorPool, Queue, TrainingJob, load_file

GAVEL_TYPES = (("v100", "V100"), ("p100", "P100"), ("k80", "K80"))
GAVEL_SERVER_GPUS = 4
ARRIVAL_LABEL = "suanli.dev/arrival-seconds"
MULTI_GPU_SCALES = ((1, 0.70), (2, 0.10), (4, 0.15), (8, 0.05))


@dataclass(frozen=True)
class Cluster:
    pools: tuple[Pool, ...]
    shapes: tuple[PoolShape, ...]

    def build_topology(self) -> Topology:
        return build_topology(list(self.shapes), link_defaults=catalog_link_defaults())

    @property
    def devices(self) -> int:
        return sum(shape.node_count * shape.devices_per_node for shape in self.shapes)


def gavel_cluster(counts: str, *, prices: dict[str, float] | None = None,
                  catalog: AcceleratorCatalog | None = None) -> Cluster:
    """Gavel's ``V:P:K`` counts (e.g. ``36:36:36``) as three pools of 4-GPU servers."""
    catalog = catalog or default_accelerator_catalog()
    parts = counts.split(":")
    if len(parts) != 3 or not all(part.strip().isdigit() for part in parts):
        raise InvalidInputError(f"{counts!r} is not a V100:P100:K80 count", field="--cluster",
                                hint="write e.g. 36:36:36, or give an AcceleratorPool YAML file")
    pools: list[Pool] = []
    shapes: list[PoolShape] = []
    for (name, accelerator), part in zip(GAVEL_TYPES, parts, strict=True):
        count = int(part)
        if count == 0:
            continue
        per_node = GAVEL_SERVER_GPUS if count % GAVEL_SERVER_GPUS == 0 else 1
        spec = catalog.get(accelerator)
        pools.append(Pool(name=name, accelerator=spec.name, devices_per_node=per_node,
                          price_per_device_hour=(prices or {}).get(name, 0.0), capacity_type="reserved",
                          memory_gib=spec.hbm_gib, units_per_device=units_per_device(spec.name, catalog.get),
                          provider="on-prem", region="gavel"))
        shapes.append(PoolShape(name=name, accelerator=spec.name, node_count=count // per_node,
                                devices_per_node=per_node, region="gavel", zone=f"gavel-{name}"))
    if not pools:
        raise InvalidInputError(f"{counts!r} has no devices", field="--cluster")
    return Cluster(tuple(pools), tuple(shapes))


def cluster_from_pool_specs(specs: list[AcceleratorPool], *, prices: PriceCatalog | None = None,
                            catalog: AcceleratorCatalog | None = None) -> Cluster:
    catalog = catalog or default_accelerator_catalog()
    prices = prices or PriceCatalog.load_default(accelerators=catalog)
    pools = tuple(pool_from_spec(spec, prices=prices, catalog=catalog) for spec in specs)
    return Cluster(pools, tuple(pool_shape_from_spec(spec) for spec in specs))


def cluster_from_pools_file(path: Path) -> Cluster:
    specs = [resource for resource in load_file(path) if isinstance(resource, AcceleratorPool)]
    if not specs:
        raise InvalidInputError(f"{path} holds no AcceleratorPool documents", field="--cluster")
    return cluster_from_pool_specs(specs)


@dataclass(frozen=True, slots=True)
class GavelTraceJob:
    job_type: str
    total_steps: int
    scale_factor: int
    priority_weight: float
    slo: float
    arrival: float


def read_gavel_trace(text: str, *, source: str = "<trace>") -> list[GavelTraceJob]:
    """Gavel's trace lines (see the module docstring); ``InvalidInputError`` names the bad line."""
    jobs: list[GavelTraceJob] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.rstrip("\n").split("\t")
        if len(fields) != 10:
            raise InvalidInputError(f"{source}:{number}: expected 10 TAB-separated fields, got {len(fields)}",
                                    hint="job_type, command, working_directory, num_steps_arg, needs_data_dir, "
                                         "total_steps, scale_factor, priority_weight, SLO, arrival_time")
        try:
            job = GavelTraceJob(job_type=fields[0], total_steps=int(fields[5]), scale_factor=int(fields[6]),
                                priority_weight=float(fields[7]), slo=float(fields[8]), arrival=float(fields[9]))
        except ValueError as exc:
            raise InvalidInputError(f"{source}:{number}: {exc}") from None
        if job.total_steps <= 0 or job.scale_factor <= 0:
            raise InvalidInputError(f"{source}:{number}: total_steps and scale_factor must be positive")
        jobs.append(job)
    if not jobs:
        raise InvalidInputError(f"{source}: the trace holds no jobs")
    return jobs


def gavel_jobs(trace: list[GavelTraceJob], table: ThroughputTable, *, team: str = "default") -> list[Job]:
    jobs: list[Job] = []
    for index, item in enumerate(trace):
        deadline = None
        if item.slo > 0:
            rates = [table.steps_per_second(item.job_type, name, scale_factor=item.scale_factor)
                     for name, _ in GAVEL_TYPES]
            fastest = max((rate for rate in rates if rate), default=None)
            if fastest:
                deadline = item.arrival + item.slo * item.total_steps / fastest
        jobs.append(Job(job_id=f"job-{index:05d}", team=team, devices=item.scale_factor,
                        total_steps=float(item.total_steps), submitted_at=item.arrival,
                        workload_type=item.job_type, weight=item.priority_weight, deadline=deadline,
                        restart_overhead_s=30.0, checkpoint_interval_s=600.0))
    return jobs


def generate_gavel_jobs(count: int, *, jobs_per_hour: float, table: ThroughputTable, seed: int = 0,
                        multi_gpu: bool = False, team: str = "default") -> list[Job]:
    """``count`` Gavel-style jobs with Poisson arrivals (see the module docstring)."""
    if count < 1 or jobs_per_hour <= 0:
        raise InvalidInputError("need at least one job and a positive arrival rate")
    rng = np.random.default_rng(seed)
    scales = [scale for scale, _ in MULTI_GPU_SCALES] if multi_gpu else [1]
    weights = [weight for _, weight in MULTI_GPU_SCALES] if multi_gpu else [1.0]
    types = [job_type for job_type in table.job_types()
             if all(table.steps_per_second(job_type, name, scale_factor=scale)
                    for name, _ in GAVEL_TYPES for scale in scales)]
    if not types:
        raise InvalidInputError("the throughput table has no job type measured on V100, P100 and K80")
    arrival = 0.0
    jobs: list[Job] = []
    for index in range(count):
        job_type = types[int(rng.integers(len(types)))]
        scale = int(rng.choice(scales, p=weights))
        low, high = (1.5, 3.0) if rng.random() < 0.8 else (3.0, 4.0)
        minutes = 10 ** rng.uniform(low, high)
        rate = table.steps_per_second(job_type, "v100", scale_factor=scale)
        assert rate is not None
        jobs.append(Job(job_id=f"job-{index:05d}", team=team, devices=scale,
                        total_steps=float(max(math.ceil(minutes * 60 * rate), 1)), submitted_at=arrival,
                        workload_type=job_type, restart_overhead_s=30.0, checkpoint_interval_s=600.0))
        arrival += float(rng.exponential(3600.0 / jobs_per_hour))
    return jobs


def jobs_from_specs_file(path: Path, *, catalog: AcceleratorCatalog | None = None
                         ) -> tuple[list[Job], list[QueueQuota]]:
    resources = load_file(path)
    jobs: list[Job] = []
    queues: list[QueueQuota] = []
    for resource in resources:
        if isinstance(resource, TrainingJob):
            label = resource.metadata.labels.get(ARRIVAL_LABEL, "0")
            try:
                arrival = float(label)
            except ValueError:
                raise InvalidInputError(f"{resource.metadata.key}: label {ARRIVAL_LABEL}={label!r} is not seconds",
                                        field="metadata.labels") from None
            jobs.append(job_from_spec(resource, submitted_at=arrival, catalog=catalog))
        elif isinstance(resource, Queue):
            queues.append(queue_from_spec(resource, catalog=catalog))
    if not jobs:
        raise InvalidInputError(f"{path} holds no TrainingJob documents", field="--jobs")
    return jobs, queues
