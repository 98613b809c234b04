"""The spot-response policy's inputs, built from the store's records and the tick's world. Pure.

``resilience.spot_response`` decides from plain views (``AttemptView``, ``CheckpointHistory``,
``CheckpointTier``, ``PoolOption``, ``SpotPolicyView``); this module derives them:

* the attempt: its nodes and devices per node from the stored placement, its layout, its
  observed step time (rank 0's reports) and current step, and how far it may shrink
  (``parallelism.minData``; a job without it is not elastic);
* the checkpoint history: the newest checkpoint committed on a tier that survives the noticed
  nodes, and the snapshot/persist times recorded so far;
* the tiers, with a persist-time prior of state bytes over a conservative bandwidth per kind
  of tier (``PRIOR_BANDWIDTH``), replaced by observations once commits report them. State bytes
  are the newest checkpoint's, else ``parameters × STATE_BYTES_PER_PARAMETER`` (fp32 weights and
  two optimizer moments);
* the pools the job could go to next (those of an accelerator type it accepts): free devices
  (noticed nodes already taken out of the world's topology), price, capacity type, the job's
  modelled rate there scaled by how the observed rate compares with the model at home, and the
  observed preemption rate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from controlplane.resilience.spot_response import (
    AttemptView,
    CheckpointHistory,
    CheckpointTier,
    PoolOption,
    SpotPolicyView,
)
from controlplane.scheduling.snapshot import ClusterSnapshot
from controlplane.scheduling.snapshot import Job as ScheduledJob
from controlplane.store.models.checkpoint import CheckpointRecord
from controlplane.store.records import AttemptRecord, JobRecord

PRIOR_BANDWIDTH = {"memory": 4e9, "peer": 1e9, "file": 4e8}
"""Bytes per second assumed before any persist was observed; other schemes (object stores) get
``OBJECT_STORE_BANDWIDTH``."""
OBJECT_STORE_BANDWIDTH = 1e8
SNAPSHOT_BANDWIDTH = 4e9
STATE_BYTES_PER_PARAMETER = 12.0
DEFAULT_STEP_SECONDS = 1.0
DEFAULT_RESTART_S = 30.0
MIN_STATE_BYTES = 1 << 20


def scheme_of(uri: str) -> str:
    return uri.partition("://")[0].lower() if "://" in uri else "file"


def tier_survives(uri: str, lost: frozenset[str], *, peers: Sequence[str] = (),
                  shared_filesystem: bool = False) -> bool:
    """Whether a copy on ``uri`` outlives the ``lost`` nodes (see ``CheckpointTier.from_uri``)."""
    return CheckpointTier.from_uri(uri, persist_seconds=0.0, peer_nodes=peers,
                                   shared_filesystem=shared_filesystem).survives(lost)


def attempt_nodes(attempt: AttemptRecord) -> tuple[str, ...]:
    return tuple(sorted({str(rank["node"]) for rank in attempt.placement.get("ranks", [])}))


def attempt_view(job: JobRecord, attempt: AttemptRecord, *, modelled_steps_per_second: float | None) -> AttemptView:
    """The attempt as the policy sees it; the step time is observed when reports exist."""
    placement = attempt.placement
    per_node: dict[str, int] = {}
    for rank in placement.get("ranks", []):
        per_node[str(rank["node"])] = per_node.get(str(rank["node"]), 0) + 1
    sizes = {key: int(value) for key, value in (placement.get("parallelism") or {}).items()}
    replica = max(1, sizes.get("tp", 1) * sizes.get("pp", 1) * sizes.get("cp", 1))
    progress = attempt.progress or {}
    observed = float(progress.get("stepsPerSecond") or 0.0)
    rate = observed if observed > 0 else (modelled_steps_per_second or 0.0)
    data_parallel = max(1, sizes.get("dp", max(1, sum(per_node.values()) // replica)))
    total = job.spec.get("totalSteps")
    elastic = (job.spec.get("parallelism") or {}).get("minData")
    target = int((job.spec.get("parallelism") or {}).get("data") or data_parallel)
    return AttemptView(
        job_id=job.id, attempt_id=attempt.id, pool=str(placement.get("pool", "")), nodes=tuple(sorted(per_node)),
        devices_per_node=max(per_node.values(), default=1), replica_devices=replica, data_parallel=data_parallel,
        step_seconds=1.0 / rate if rate > 0 else DEFAULT_STEP_SECONDS, current_step=int(progress.get("step") or 0),
        price_per_device_hour=float(placement.get("pricePerDeviceHour") or 0.0),
        capacity_type=str(placement.get("capacityType") or "on-demand"),
        min_data_parallel=min(int(elastic), data_parallel) if elastic else min(data_parallel, target),
        total_steps=int(total) if total else None)


def state_bytes(job: JobRecord, checkpoints: Sequence[CheckpointRecord]) -> float:
    """Bytes one checkpoint of the job holds: the newest recorded one, else a model-size estimate."""
    recorded = [record.bytes for record in checkpoints if record.bytes > 0]
    if recorded:
        return float(recorded[0])
    parameters = _parameters(job.spec.get("model", {}).get("parameters"))
    return max(float(MIN_STATE_BYTES), parameters * STATE_BYTES_PER_PARAMETER)


def _parameters(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    text = str(value or "").strip().upper()
    scale = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}
    try:
        return float(text[:-1]) * scale[text[-1]] if text and text[-1] in scale else float(text or 0)
    except ValueError:
        return 0.0


def checkpoint_tiers(job: JobRecord, attempt: AttemptRecord, checkpoints: Sequence[CheckpointRecord], *,
                     shared_filesystem: bool) -> list[CheckpointTier]:
    """The job's tiers with persist-time priors and the persist times observed on each."""
    size = state_bytes(job, checkpoints)
    peers = tuple(sorted(set((attempt.placement.get("checkpointPeers") or {}).values())))
    tiers = []
    for uri in [str(tier) for tier in job.spec.get("checkpoint", {}).get("tiers", [])]:
        scheme = scheme_of(uri)
        bandwidth = PRIOR_BANDWIDTH.get(scheme, OBJECT_STORE_BANDWIDTH)
        observed = tuple(float(entry["persistS"]) for record in checkpoints for entry in record.tiers
                         if entry.get("persistS") is not None and scheme_of(str(entry.get("tier", ""))) == scheme)
        tier = CheckpointTier.from_uri(uri, persist_seconds=size / bandwidth, peer_nodes=peers,
                                       shared_filesystem=shared_filesystem)
        tiers.append(CheckpointTier(tier.name, tier.persist_seconds, tier.survives_node_loss, tier.peer_nodes,
                                    observed))
    return tiers


def checkpoint_history(job: JobRecord, attempt: AttemptRecord, checkpoints: Sequence[CheckpointRecord],
                       lost: frozenset[str], *, shared_filesystem: bool) -> CheckpointHistory:
    """Snapshot-time prior and observations, and the newest checkpoint that survives ``lost``."""
    peers = tuple(sorted(set((attempt.placement.get("checkpointPeers") or {}).values())))
    durable = next((record for record in checkpoints  # newest step first
                    if any(tier_survives(str(entry.get("tier", "")), lost, peers=peers,
                                         shared_filesystem=shared_filesystem) for entry in record.tiers)), None)
    observed = tuple(float(record.snapshot_s) for record in checkpoints if record.snapshot_s is not None)
    return CheckpointHistory(
        snapshot_seconds=state_bytes(job, checkpoints) / SNAPSHOT_BANDWIDTH, observed_snapshot_seconds=observed,
        last_durable_step=durable.step if durable is not None else None,
        last_durable_time=durable.updated_at.timestamp() if durable is not None and durable.updated_at else None)


def restart_seconds(attempt: AttemptRecord) -> float:
    """How long the attempt took from its record to all ranks running (launch, restore, warm-up)."""
    if attempt.started_at is None:
        return DEFAULT_RESTART_S
    return max(1.0, (attempt.started_at - attempt.created_at).total_seconds())


def pool_options(snapshot: ClusterSnapshot, job: ScheduledJob, view: AttemptView, *, restart_s: float,
                 preemption_rates: Mapping[str, float]) -> list[PoolOption]:
    """Every schedulable pool as a place the job could run next (noticed nodes already unavailable)."""
    home = next((pool for pool in snapshot.pools if pool.name == view.pool), None)
    modelled_home = _modelled(snapshot, job, home.accelerator, home.devices_per_node) if home else None
    observed = 1.0 / view.step_seconds
    options = []
    for pool in snapshot.pools:
        if not job.accepts(pool.accelerator):
            continue
        modelled = _modelled(snapshot, job, pool.accelerator, pool.devices_per_node)
        if modelled is None:
            continue
        rate = observed * modelled / modelled_home if modelled_home else modelled
        free = snapshot.topology.free_devices_in_pool(pool.name)
        options.append(PoolOption(
            name=pool.name, accelerator=pool.accelerator, capacity_type=pool.capacity_type, free_devices=free,
            devices_needed=job.devices, price_per_device_hour=pool.price_per_device_hour, steps_per_second=rate,
            restart_seconds=restart_s, preemption_rate_per_node_hour=preemption_rates.get(pool.name, 0.0),
            devices_per_node=pool.devices_per_node,
            expected_capacity_wait_s=0.0 if free >= job.devices else math.inf))
    return options


def _modelled(snapshot: ClusterSnapshot, job: ScheduledJob, accelerator: str, devices_per_node: int) -> float | None:
    estimate = snapshot.estimator.estimate(job, accelerator, devices_per_node)
    if not estimate.fits or not estimate.steps_per_second:
        return None
    return float(estimate.steps_per_second)


def spot_policy(job: JobRecord, *, prefer_on_demand: bool, reason: str) -> SpotPolicyView:
    spot = job.spec.get("spot") or {}
    return SpotPolicyView(spot_allowed=bool(spot.get("allowed", True)),
                          fallback_to_on_demand=bool(spot.get("fallbackToOnDemand", True)),
                          prefer_on_demand=prefer_on_demand, preference_reason=reason)
