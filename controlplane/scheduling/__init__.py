"""Scheduling: queues, quotas, fair share, gangs, backfill, preemption, and the choice of pool.

Pure policy code: ``Scheduler(policy).plan(ClusterSnapshot) -> RoundResult``. The snapshot
(``snapshot``) is immutable input, the result (``decisions``) a list of admissions,
preemptions, migrations and waits, each with a reason people can read. Policies by name:
``suanli`` and the baselines ``fifo``, ``las`` and ``cheapest`` (``policies``).
``specs`` builds snapshots from ``jobspecs`` documents; ``estimates`` supplies job rates.
"""

from controlplane.scheduling.decisions import (
    Admit,
    Decision,
    Migrate,
    Preempt,
    RoundResult,
    RoundStats,
    Wait,
    WaitReason,
)
from controlplane.scheduling.estimates import FirstOf, FixedRates, MeasuredRates, ModeledRates, units_per_device
from controlplane.scheduling.placing import ContractPlacer, GangPlacer, PlacedGang, PoolPacker
from controlplane.scheduling.policies import POLICIES, Policy, get_policy, policy_names
from controlplane.scheduling.scheduler import Scheduler, plan
from controlplane.scheduling.snapshot import (
    PRIORITY_NAMES,
    Attempt,
    ClusterSnapshot,
    Estimator,
    Job,
    Pool,
    QueueQuota,
    RateEstimate,
)

__all__ = [
    "POLICIES",
    "PRIORITY_NAMES",
    "Admit",
    "Attempt",
    "ClusterSnapshot",
    "ContractPlacer",
    "Decision",
    "Estimator",
    "FirstOf",
    "FixedRates",
    "GangPlacer",
    "Job",
    "MeasuredRates",
    "Migrate",
    "ModeledRates",
    "PlacedGang",
    "Policy",
    "Pool",
    "PoolPacker",
    "Preempt",
    "QueueQuota",
    "RateEstimate",
    "RoundResult",
    "RoundStats",
    "Scheduler",
    "Wait",
    "WaitReason",
    "get_policy",
    "plan",
    "policy_names",
    "units_per_device",
]
