"""Small clusters and jobs for the scheduler's specification tests.

``cluster(...)`` builds pools of 4-device nodes (round link figures, no catalog needed) and
``snap(...)`` a snapshot with fixed rates: workload ``w`` runs at 1 step/s on ``fast`` pools'
type ``FAST`` and 0.25 steps/s on ``SLOW`` unless a test says otherwise. Running attempts are
allocated in the topology as the controller would have done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from controlplane.scheduling import Attempt, ClusterSnapshot, FixedRates, Job, Pool, QueueQuota
from controlplane.topology import (
    AcceleratorLinks,
    Level,
    PoolShape,
    Subtree,
    Topology,
    build_topology,
    table_link_defaults,
)

LINKS = table_link_defaults({
    "FAST": AcceleratorLinks(scaleup_gbytes_per_s=450.0, scaleout_gbytes_per_s=50.0),
    "SLOW": AcceleratorLinks(scaleup_gbytes_per_s=150.0, scaleout_gbytes_per_s=12.5),
    "MID": AcceleratorLinks(scaleup_gbytes_per_s=300.0, scaleout_gbytes_per_s=25.0),
})

DEFAULT_RATES = {("w", "FAST"): 1.0, ("w", "SLOW"): 0.25, ("w", "MID"): 0.5}


def pool(name: str, accelerator: str = "FAST", *, price: float = 0.0, capacity_type: str = "on-demand",
         preemption_rate: float = 0.0, memory_gib: float | None = 80.0, units: float = 1.0,
         devices_per_node: int = 4) -> Pool:
    return Pool(name=name, accelerator=accelerator, devices_per_node=devices_per_node, price_per_device_hour=price,
                capacity_type=capacity_type, preemption_rate_per_hour=preemption_rate, memory_gib=memory_gib,
                units_per_device=units)


def topology(pools: Sequence[Pool], nodes: Mapping[str, int]) -> Topology:
    shapes = [PoolShape(name=p.name, accelerator=p.accelerator, node_count=nodes[p.name],
                        devices_per_node=p.devices_per_node, zone=f"zone-{p.name}", capacity_type=p.capacity_type)
              for p in pools]
    return build_topology(shapes, link_defaults=LINKS)


def job(job_id: str, devices: int = 1, *, team: str = "t", steps: float = 3600.0, submitted_at: float = 0.0,
        **fields: object) -> Job:
    return Job(job_id=job_id, team=team, devices=devices, total_steps=steps, submitted_at=submitted_at,
               workload_type=str(fields.pop("workload_type", "w")), **fields)  # type: ignore[arg-type]


def snap(jobs: Sequence[Job], pools: Sequence[Pool], nodes: Mapping[str, int], *, now: float = 0.0,
         running: Mapping[str, tuple[str, int, float]] | None = None, borrowed: Sequence[str] = (),
         queues: Sequence[QueueQuota] = (), rates: Mapping[tuple[str, str], float] | None = None) -> ClusterSnapshot:
    """``running``: job id -> (pool, how many devices from the pool's first free ones, started_at)."""
    topo = topology(pools, nodes)
    attempts = []
    for job_id, (pool_name, count, started_at) in (running or {}).items():
        devices = tuple(topo.free_device_ids(_pool_root(topo, pool_name), limit=count))
        topo.allocate(devices, job_id)
        spot = next(p for p in pools if p.name == pool_name).spot
        attempts.append(Attempt(job_id=job_id, pool=pool_name, devices=devices, started_at=started_at, spot=spot,
                                borrowed=job_id in borrowed))
    return ClusterSnapshot(now=now, jobs=tuple(jobs), attempts=tuple(attempts), pools=tuple(pools), topology=topo,
                           estimator=FixedRates(rates or DEFAULT_RATES), queues=tuple(queues))


def _pool_root(topo: Topology, pool_name: str) -> Subtree:
    return topo.subtree(Level.ZONE, f"zone-{pool_name}")
