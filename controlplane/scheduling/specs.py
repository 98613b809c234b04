"""Snapshots from ``jobspecs`` documents: what tests, the simulator and the controller build rounds from.

Owns ``job_from_spec``, ``pool_from_spec``, ``queue_from_spec``, ``topology_for_pools`` and
``snapshot_from_specs``.

Conventions:
- a job's id is ``team/name`` (its ``metadata.key``); times are seconds (a deadline becomes
  epoch seconds);
- accelerator names are turned into catalog names (``H100`` -> ``H100-SXM``) wherever the
  catalog knows them, so jobs, pools, queues and estimates compare like with like; unknown
  names are kept as written (the job then simply never matches them);
- a pool's price comes from ``controlplane.catalog.price_for_pool`` (its override, else the
  catalog); its memory and H100-equivalents from the accelerator catalog;
- a checkpoint interval of ``auto`` counts as 30 minutes until the resilience policy sets one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType

from controlplane.catalog.accelerators import AcceleratorCatalog, default_accelerator_catalog
from controlplane.catalog.pool_pricing import price_for_pool
from controlplane.catalog.prices import PriceCatalog
from controlplane.domain.errors import DomainError
from controlplane.perfmodel.adapters import layout_from_spec, model_shape_from_spec
from controlplane.scheduling.estimates import ModeledRates, units_per_device
from controlplane.scheduling.snapshot import (
    DEFAULT_CHECKPOINT_INTERVAL_S,
    Attempt,
    ClusterSnapshot,
    Estimator,
    Job,
    Pool,
    QueueQuota,
)
from controlplane.topology import Topology, build_topology, catalog_link_defaults, pool_shape_from_spec
from jobspecs import AcceleratorPool, Queue, TrainingJob, priority_rank


def canonical(name: str, catalog: AcceleratorCatalog) -> str:
    return catalog.resolve(name) or name


def job_from_spec(job: TrainingJob, *, submitted_at: float = 0.0, done_steps: float = 0.0,
                  last_checkpoint_at: float | None = None, budget_spent: float = 0.0,
                  catalog: AcceleratorCatalog | None = None) -> Job:
    """The scheduler's view of a ``TrainingJob`` (see the module docstring)."""
    catalog = catalog or default_accelerator_catalog()
    spec = job.spec
    types = spec.resources.accelerators.types
    allowed = None if isinstance(types, str) else tuple(canonical(name, catalog) for name in types)
    try:
        model = model_shape_from_spec(spec.model)
    except DomainError:
        model = None
    scheduling = spec.scheduling
    deadline = scheduling.deadline_utc
    interval = spec.checkpoint.interval_seconds
    budget = None if scheduling.budget_dollars is None else max(scheduling.budget_dollars - budget_spent, 0.0)
    return Job(
        job_id=job.metadata.key, team=job.metadata.team, queue=scheduling.queue, devices=spec.device_count,
        total_steps=float(spec.total_steps), submitted_at=submitted_at,
        priority=priority_rank(scheduling.priority_class), allowed_types=allowed,
        min_memory_gib=spec.resources.accelerators.min_memory_gib, layout=layout_from_spec(job), model=model,
        preemptible=scheduling.preemptible, spot_allowed=spec.spot.allowed,
        max_preemptions_per_hour=spec.spot.max_preemptions_per_hour,
        deadline=None if deadline is None else deadline.timestamp(), budget_dollars=budget,
        max_dollars_per_hour=scheduling.max_dollars_per_hour, done_steps=done_steps,
        last_checkpoint_at=last_checkpoint_at,
        checkpoint_interval_s=interval if interval is not None else DEFAULT_CHECKPOINT_INTERVAL_S)


def pool_from_spec(pool: AcceleratorPool, *, prices: PriceCatalog | None = None,
                   preemption_rate_per_hour: float = 0.0, catalog: AcceleratorCatalog | None = None) -> Pool:
    """The scheduler's view of an ``AcceleratorPool``: price, memory, H100-equivalents."""
    catalog = catalog or default_accelerator_catalog()
    spec = pool.spec
    accelerator = canonical(spec.accelerator, catalog)
    price = price_for_pool(
        provider=spec.provider, region=spec.region, accelerator=spec.accelerator, capacity_type=spec.capacity_type,
        devices_per_node=spec.devices_per_node, instance_type=spec.instance_type,
        override_per_device_hour=spec.price.per_device_hour if spec.price else None,
        override_per_node_hour=spec.price.per_node_hour if spec.price else None,
        catalog=prices or PriceCatalog.load_default(accelerators=catalog))
    memory = catalog.get(accelerator).hbm_gib if catalog.exists(accelerator) else None
    return Pool(name=pool.metadata.name, accelerator=accelerator, devices_per_node=spec.devices_per_node,
                price_per_device_hour=price.per_device_hour, capacity_type=spec.capacity_type,
                preemption_rate_per_hour=preemption_rate_per_hour, memory_gib=memory,
                units_per_device=units_per_device(accelerator, catalog.get), region=spec.region,
                provider=spec.provider)


def queue_from_spec(queue: Queue, *, catalog: AcceleratorCatalog | None = None) -> QueueQuota:
    catalog = catalog or default_accelerator_catalog()
    spec = queue.spec

    def types(mapping: Mapping[str, int] | None) -> Mapping[str, int] | None:
        if mapping is None:
            return None
        return MappingProxyType({canonical(name, catalog): count for name, count in mapping.items()})

    return QueueQuota(
        name=queue.metadata.name, team=queue.metadata.team, devices=types(spec.quotas.devices) or MappingProxyType({}),
        normalized_units=spec.quotas.normalized_units, dollars_per_day=spec.quotas.dollars_per_day,
        borrowing=spec.borrowing.enabled, max_borrow_devices=types(spec.borrowing.max_devices),
        max_borrow_units=spec.borrowing.max_normalized_units, weight=spec.weight, cohort=spec.cohort)


def topology_for_pools(pools: Sequence[AcceleratorPool]) -> Topology:
    """Every pool at its maximum node count, all devices free."""
    return build_topology([pool_shape_from_spec(pool) for pool in pools], link_defaults=catalog_link_defaults())


def snapshot_from_specs(*, jobs: Iterable[TrainingJob | Job], pools: Sequence[AcceleratorPool],
                        queues: Iterable[Queue] = (), now: float = 0.0, attempts: Iterable[Attempt] = (),
                        topology: Topology | None = None, estimator: Estimator | None = None,
                        prices: PriceCatalog | None = None,
                        preemption_rates: Mapping[str, float] | None = None,
                        catalog: AcceleratorCatalog | None = None) -> ClusterSnapshot:
    """A snapshot of ``jobs`` on ``pools`` with ``queues``; ``attempts`` are allocated in the topology.

    Jobs may be specs (converted with ``job_from_spec``, submitted at ``now``) or ready ``Job``s.
    Without a topology one is built from the pools and the attempts' devices are allocated in
    it; a topology passed in must already hold them. Without an estimator the analytical
    performance model is used.
    """
    catalog = catalog or default_accelerator_catalog()
    rates = preemption_rates or {}
    prices = prices or PriceCatalog.load_default(accelerators=catalog)
    scheduler_jobs = tuple(job if isinstance(job, Job) else job_from_spec(job, submitted_at=now, catalog=catalog)
                           for job in jobs)
    scheduler_pools = tuple(pool_from_spec(pool, prices=prices, catalog=catalog,
                                           preemption_rate_per_hour=rates.get(pool.metadata.name, 0.0))
                            for pool in pools)
    attempts = tuple(attempts)
    if topology is None:
        topology = topology_for_pools(pools)
        for attempt in attempts:
            topology.allocate(attempt.devices, attempt.job_id)
    return ClusterSnapshot(now=now, jobs=scheduler_jobs, attempts=attempts, pools=scheduler_pools, topology=topology,
                           estimator=estimator or ModeledRates(catalog.get),
                           queues=tuple(queue_from_spec(queue, catalog=catalog) for queue in queues))
