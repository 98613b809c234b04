"""Where a job can run, what it would cost there, and which option a policy prefers.

Owns ``Option`` (one pool a job fits, with its rate, goodput, price and expected finish),
``job_options`` (the usable options plus, for every pool that is not usable, the reason),
``FitFinder`` (the same answer for the thousands of jobs of a round, built from checks that
jobs of one profile, constraint set or workload share) and the rankings policies choose by.

A pool is *usable* for a job when: its type is among the job's types; its devices have at least
``min_memory_gib``; tensor parallelism fits in one of its nodes; the job allows spot (when the
pool is spot) and the pool's observed preemption rate is under the job's limit; the estimator
gives a rate (the model fits in memory, possibly with a re-planned layout); the pool is large
enough for the gang; and the price respects ``max_dollars_per_hour`` and the remaining budget.

Cost per unit of work (the Suanli ranking): ``price × devices / 3600 / (rate × goodput)`` dollars
per useful step, where goodput discounts spot pools by the work expected to be lost:
a gang over ``k`` nodes of a pool preempted ``λ`` times per node-hour is preempted ``kλ`` times an
hour, each time losing on average half a checkpoint interval plus the restart overhead, so
``goodput = 1 / (1 + kλ/3600 × (interval/2 + restart))``. Options that miss the job's deadline
rank after those that meet it; costs within ``COST_TIE_RATIO`` of each other count as equal and
the faster option wins (with free on-prem capacity priced at zero, this picks the fastest type).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from controlplane.perfmodel.shapes import Layout
from controlplane.scheduling.decisions import format_duration
from controlplane.scheduling.snapshot import Estimator, Job, Pool

SECONDS_PER_HOUR = 3600.0
COST_TIE_RATIO = 1.03


class Option(NamedTuple):
    """One pool a job can run on (a named tuple: a round builds thousands)."""

    pool: Pool
    order: int
    """Position of the pool in the snapshot (first-fit order)."""
    steps_per_second: float
    goodput: float
    layout: Layout | None
    dollars_per_hour: float
    finish_s: float
    """Expected seconds from start to finish, restart overhead and expected losses included."""
    meets_deadline: bool

    @property
    def useful_steps_per_second(self) -> float:
        return self.steps_per_second * self.goodput

    @property
    def dollars_per_step(self) -> float:
        return self.dollars_per_hour / SECONDS_PER_HOUR / self.useful_steps_per_second

    def describe(self) -> str:
        cost = (f"${self.dollars_per_step * 1000:,.3g}/1k steps, " if self.dollars_per_hour > 0 else "")
        return (f"{cost}{self.steps_per_second:.3g} steps/s on {self.pool.accelerator}"
                f"{', goodput ' + format(self.goodput, '.0%') if self.goodput < 0.995 else ''}, "
                f"done in {format_duration(self.finish_s)}")


def spot_goodput(job: Job, pool: Pool) -> float:
    """Share of the work that survives the pool's expected preemptions (1.0 on non-spot pools)."""
    if not pool.spot or pool.preemption_rate_per_hour <= 0:
        return 1.0
    nodes = math.ceil(job.devices / pool.devices_per_node)
    per_second = nodes * pool.preemption_rate_per_hour / SECONDS_PER_HOUR
    return 1.0 / (1.0 + per_second * (job.checkpoint_interval_s / 2.0 + job.restart_overhead_s))


class Fit(NamedTuple):
    """A pool where a job's profile can run at all, before prices, deadline and budget."""

    order: int
    pool: Pool
    steps_per_second: float
    layout: Layout | None


ProfileKey = tuple[object, ...]


def profile_key(job: Job) -> ProfileKey:
    """What decides where a job fits: jobs with equal keys fit the same pools at the same rates.

    Estimators answer from the workload type, model, layout and gang size; a job with neither a
    workload type nor a model is its own profile.
    """
    return (job.allowed_types, job.min_memory_gib, id(job.layout) if job.layout is not None else None,
            id(job.model) if job.model is not None else None, job.spot_allowed, job.max_preemptions_per_hour,
            job.devices, job.allowed_pools, _workload(job))


def _workload(job: Job) -> object:
    return job.workload_type if job.workload_type is not None or job.model is not None else job.job_id


class Profile(NamedTuple):
    """Where the jobs of one profile fit (``fits``, in pool order), why not elsewhere, and summaries."""

    fits: tuple[Fit, ...]
    unusable: tuple[str, ...]
    pools: tuple[str, ...]
    """Names of the pools of ``fits``, in the same order (the key of per-pool-set caches)."""
    types: tuple[str, ...]
    """Accelerator types of ``fits``, each once, in the same order."""


class FitFinder:
    """``job_fits`` for many jobs: answers per profile, assembled from checks that profiles share
    (the job's constraints against each pool, and each workload's rate on each accelerator).
    Results equal ``job_fits``'s; only the work is shared (estimators answer from the workload,
    model, layout and gang size, which is what ``profile_key`` assumes too)."""

    def __init__(self, pools: Sequence[Pool], capacities: Mapping[str, int], estimator: Estimator) -> None:
        self._pools = tuple(pools)
        self._capacities = capacities
        self._estimator = estimator
        self._profiles: dict[ProfileKey, Profile] = {}
        self._checks: dict[tuple[object, ...], tuple[_PoolCheck, ...]] = {}
        self._type_problems: dict[tuple[object, ...], tuple[str | None, ...]] = {}
        self._pool_problems: dict[tuple[object, ...], tuple[str | None, ...]] = {}
        self._fits: dict[tuple[object, ...], list[Fit | str | None]] = {}
        """Per rate key: the fit (or why not) on each pool, by pool order, filled as asked."""

    def profile(self, job: Job) -> Profile:
        key = profile_key(job)
        found = self._profiles.get(key)
        if found is None:
            found = self._profiles[key] = self._find(job)
        return found

    def _find(self, job: Job) -> Profile:
        tp = job.layout.tp if job.layout is not None else None
        checks = self._checks.get((job.allowed_types, job.min_memory_gib, tp, job.spot_allowed,
                                   job.max_preemptions_per_hour, job.devices, job.allowed_pools))
        if checks is None:
            checks = self._pool_checks(job)
        rate_key = (id(job.layout) if job.layout is not None else None,
                    id(job.model) if job.model is not None else None, job.devices, _workload(job))
        fits_by_order = self._fits.get(rate_key)
        if fits_by_order is None:
            fits_by_order = self._fits[rate_key] = [None] * len(self._pools)
        fits: list[Fit] = []
        unusable: list[str] = []
        names: list[str] = []
        types: list[str] = []
        refused_types: set[str] = set()
        for order, pool, accelerator, problem, whole_type in checks:
            if accelerator in refused_types:
                continue
            if problem is not None:
                if whole_type:
                    refused_types.add(accelerator)
                unusable.append(problem)
                continue
            fit = fits_by_order[order]
            if fit is None:
                fit = fits_by_order[order] = self._fit(job, order, pool)
            if isinstance(fit, str):
                refused_types.add(accelerator)
                unusable.append(fit)
                continue
            fits.append(fit)
            names.append(pool.name)
            if accelerator not in types:
                types.append(accelerator)
        return Profile(tuple(fits), tuple(unusable), tuple(names), tuple(types))

    def _pool_checks(self, job: Job) -> tuple[_PoolCheck, ...]:
        """The job's constraints against every pool: type constraints (types, memory, tensor
        parallelism) and pool constraints (spot, preemption rate, size) are checked once each."""
        tp = job.layout.tp if job.layout is not None else None
        type_key = (job.allowed_types, job.min_memory_gib, tp)
        type_problems = self._type_problems.get(type_key)
        if type_problems is None:
            type_problems = self._type_problems[type_key] = tuple(_type_problem(job, pool) for pool in self._pools)
        pool_key = (job.spot_allowed, job.max_preemptions_per_hour, job.devices, job.allowed_pools)
        pool_problems = self._pool_problems.get(pool_key)
        if pool_problems is None:
            pool_problems = self._pool_problems[pool_key] = tuple(_pool_problem(job, pool, self._capacities)
                                                                  for pool in self._pools)
        checks = tuple(
            _PoolCheck(order, pool, pool.accelerator, f"{pool.accelerator}: {type_problem}", True)
            if type_problem is not None else _PoolCheck(order, pool, pool.accelerator, pool_problem, False)
            for order, (pool, type_problem, pool_problem) in enumerate(zip(self._pools, type_problems, pool_problems,
                                                                           strict=True)))
        self._checks[(*type_key, *pool_key)] = checks
        return checks

    def _fit(self, job: Job, order: int, pool: Pool) -> Fit | str:
        estimate = self._estimator.estimate(job, pool.accelerator, pool.devices_per_node)
        if not estimate.fits:
            return f"{pool.accelerator}: {estimate.reason or 'no rate estimate'}"
        assert estimate.steps_per_second is not None
        return Fit(order, pool, estimate.steps_per_second, estimate.layout or job.layout)


class _PoolCheck(NamedTuple):
    """A job's constraints against one pool, before any rate: the problem, if any, and whether
    it rules out the pool's whole accelerator type."""

    order: int
    pool: Pool
    accelerator: str
    problem: str | None
    whole_type: bool


def job_fits(job: Job, pools: Sequence[Pool], capacities: Mapping[str, int],
             estimator: Estimator) -> tuple[list[Fit], list[str]]:
    """Pools the job's profile can use (in pool order), and a reason for each one it cannot."""
    found = FitFinder(pools, capacities, estimator).profile(job)
    return list(found.fits), list(found.unusable)


def price_fits(job: Job, fits: Sequence[Fit], unusable: Sequence[str], now: float) -> tuple[list[Option], list[str]]:
    """The job's options on the pools it fits: price, goodput, expected finish, deadline, budget."""
    usable: list[Option] = []
    refused = list(unusable)
    remaining = job.remaining_steps
    overhead = job.restart_overhead_s
    max_dollars_per_hour, budget, deadline = job.max_dollars_per_hour, job.budget_dollars, job.deadline
    for fit in fits:
        pool, rate = fit.pool, fit.steps_per_second
        dollars_per_hour = pool.price_per_device_hour * job.devices
        if max_dollars_per_hour is not None and dollars_per_hour > max_dollars_per_hour:
            refused.append(f"{pool.name}: ${dollars_per_hour:,.0f}/h exceeds the job's maxDollarsPerHour "
                           f"${max_dollars_per_hour:,.0f}")
            continue
        goodput = spot_goodput(job, pool) if pool.spot else 1.0
        finish_s = overhead + remaining / (rate * goodput)
        if budget is not None and dollars_per_hour * finish_s / SECONDS_PER_HOUR > budget:
            refused.append(f"{pool.name}: ~${dollars_per_hour * finish_s / SECONDS_PER_HOUR:,.0f} to finish, "
                           f"over the remaining budget ${budget:,.0f}")
            continue
        meets = deadline is None or now + finish_s <= deadline
        usable.append(Option(pool, fit.order, rate, goodput, fit.layout, dollars_per_hour, finish_s, meets))
    return usable, refused


def job_options(job: Job, pools: Sequence[Pool], capacities: Mapping[str, int], estimator: Estimator,
                now: float) -> tuple[list[Option], list[str]]:
    """Usable options (in pool order) and reasons for the rest; see the module docstring."""
    fits, unusable = job_fits(job, pools, capacities, estimator)
    return price_fits(job, fits, unusable, now)


def _pool_problem(job: Job, pool: Pool, capacities: Mapping[str, int]) -> str | None:
    if job.allowed_pools is not None and pool.name not in job.allowed_pools:
        return f"{pool.name}: not among the pools chosen for the job now ({', '.join(job.allowed_pools)})"
    if pool.spot and not job.spot_allowed:
        return f"{pool.name}: spot pool, and the job does not allow spot"
    if (pool.spot and job.max_preemptions_per_hour is not None
            and pool.preemption_rate_per_hour > job.max_preemptions_per_hour):
        return (f"{pool.name}: preempted {pool.preemption_rate_per_hour:.2g}/h, above the job's "
                f"limit of {job.max_preemptions_per_hour:g}/h")
    if capacities.get(pool.name, 0) < job.devices:
        return f"{pool.name}: has {capacities.get(pool.name, 0)} devices in all"
    return None


def _type_problem(job: Job, pool: Pool) -> str | None:
    if not job.accepts(pool.accelerator):
        return f"not among the job's types ({', '.join(job.allowed_types or ())})"
    if job.min_memory_gib is not None and pool.memory_gib is not None and pool.memory_gib < job.min_memory_gib:
        return f"{pool.memory_gib:g} GiB per device, below the job's minMemoryGiB {job.min_memory_gib:g}"
    if job.layout is not None and job.layout.tp > pool.devices_per_node:
        return (f"tp={job.layout.tp} must stay inside one node, and its nodes have {pool.devices_per_node} "
                "devices")
    return None


# -- rankings ------------------------------------------------------------------------------------

_LOG_TIE = math.log(COST_TIE_RATIO)


def _cost_key(option: Option) -> tuple[bool, float, float, int]:
    """Deadline missed, cost bucket (dollars per useful step on a 3 % log scale; free capacity
    first), expected finish, pool order."""
    dollars_per_hour = option.dollars_per_hour
    if dollars_per_hour <= 0:
        bucket = -math.inf
    else:
        dollars_per_step = dollars_per_hour / SECONDS_PER_HOUR / (option.steps_per_second * option.goodput)
        bucket = math.floor(math.log(dollars_per_step) / _LOG_TIE)
    return (not option.meets_deadline, bucket, option.finish_s, option.order)


def rank_by_cost_per_work(options: Sequence[Option]) -> list[Option]:
    """Deadline met first, then dollars per useful step (ties within 3 %), then the sooner finish."""
    return sorted(options, key=_cost_key)


def rank_first_fit(options: Sequence[Option]) -> list[Option]:
    """The snapshot's pool order."""
    return sorted(options, key=lambda o: o.order)


def rank_cheapest_hourly(options: Sequence[Option]) -> list[Option]:
    """Lowest dollars per hour first (what the gang costs per hour, not per unit of work)."""
    return sorted(options, key=lambda o: (o.dollars_per_hour, o.order))


RANKINGS = {
    "cost-per-work": rank_by_cost_per_work,
    "first-fit": rank_first_fit,
    "most-free": rank_first_fit,
    "cheapest-hourly": rank_cheapest_hourly,
}
