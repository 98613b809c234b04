"""From an admission to what is stored and what is launched.

Pure. ``placement_document`` turns the scheduler's ``Admit`` into the attempt's stored
placement (rank -> node and device name, coordinates, cost, reasons), which survives restarts
because it names devices rather than numbering them. ``launch_spec`` turns a stored placement
and the job's spec into the runtime's ``LaunchSpec``; being a function of stored data only, a
restarted controller rebuilds exactly the same spec for a pending launch intent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from controlplane.checkpoints.environment import checkpoint_environment
from controlplane.checkpoints.peers import PeerCandidate, choose_peers
from controlplane.runtime.types import LaunchSpec, NodeObservation, RankSpec
from controlplane.scheduling.decisions import Admit
from controlplane.scheduling.snapshot import Pool
from controlplane.topology import Topology

PARALLEL_KEYS = ("tp", "pp", "dp", "ep", "cp")


def placement_document(admit: Admit, topology: Topology, pool: Pool) -> dict[str, Any]:
    """The stored form of an admission's placement."""
    placement = admit.placement
    coordinates = list(getattr(placement, "coordinates", ()) or ())
    layout = admit.layout
    sizes = {"tp": layout.tp, "pp": layout.pp, "dp": layout.dp, "ep": layout.ep, "cp": layout.cp} if layout else {
        "tp": 1, "pp": 1, "dp": len(admit.devices), "ep": 1, "cp": 1}
    ranks = []
    for rank, device in enumerate(admit.devices):
        coords = coordinates[rank].to_dict() if rank < len(coordinates) else {"dp": rank}
        coords.pop("rank", None)
        ranks.append({"rank": rank, "node": topology.node_of(device).name, "device": topology.device_name(device),
                      "coordinates": {**coords, "stage": coords.get("pp", 0)}})
    return {
        "pool": pool.name,
        "accelerator": admit.accelerator,
        "capacityType": pool.capacity_type,
        "pricePerDeviceHour": pool.price_per_device_hour,
        "layout": layout.describe() if layout else None,
        "parallelism": sizes,
        "placer": getattr(placement, "placer", "") or "pool-packer",
        "commCostS": getattr(placement, "comm_cost_s", None),
        "predictedBubble": getattr(placement, "predicted_bubble", None),
        "stageLayers": list(getattr(placement, "stage_layers", ()) or ()),
        "reasons": [admit.reason, *list(getattr(placement, "reasons", ()) or ())],
        "ranks": ranks,
    }


def checkpoint_peers(placement: dict[str, Any], nodes: Sequence[NodeObservation]) -> dict[str, str]:
    """For each node of the placement, a live node in another failure domain to hold its
    ``peer://`` checkpoint replicas (see ``controlplane.checkpoints.peers``)."""
    candidates = [PeerCandidate(name=node.name, pool=node.pool, zone=node.zone, capacity_type=node.capacity_type,
                                rack=node.rack, alive=node.alive and not node.cordoned) for node in nodes]
    return choose_peers({rank["node"] for rank in placement["ranks"]}, candidates)


def launch_spec(*, attempt_id: str, request_id: str, job_id: str, job_spec: dict[str, Any],
                placement: dict[str, Any],
                storage_options: Mapping[str, Mapping[str, Any]] | None = None) -> LaunchSpec:
    """The runtime launch of a stored attempt (deterministic in its inputs).

    ``storage_options`` are the control plane's fsspec options per URL scheme (e.g. the S3
    endpoint and credentials of the object-store tier); only the schemes the job's tiers use are
    passed on to its ranks."""
    entrypoint_spec = job_spec.get("entrypoint", {})
    entrypoint: str | tuple[str, ...]
    if entrypoint_spec.get("function"):
        entrypoint = str(entrypoint_spec["function"])
    else:
        entrypoint = tuple(str(arg) for arg in entrypoint_spec.get("command", ()))
    per_node: dict[str, int] = {}
    ranks = []
    for rank in placement["ranks"]:
        node = rank["node"]
        local = per_node.get(node, 0)
        per_node[node] = local + 1
        ranks.append(RankSpec(rank=int(rank["rank"]), node=node, local_rank=local,
                              coordinates={k: int(v) for k, v in rank.get("coordinates", {}).items()}))
    policy = job_spec.get("checkpoint", {})
    tiers = [str(tier) for tier in policy.get("tiers", [])]
    env = {str(k): str(v) for k, v in (entrypoint_spec.get("env") or {}).items()}
    env.setdefault("SUANLI_TOTAL_STEPS", str(job_spec.get("totalSteps", "")))
    if policy.get("everySteps"):
        env.setdefault("SUANLI_CHECKPOINT_EVERY_STEPS", str(policy["everySteps"]))
    if tiers:
        schemes = {tier.partition("://")[0].lower() for tier in tiers}
        options = {scheme: dict(value) for scheme, value in (storage_options or {}).items() if scheme in schemes}
        env.update(checkpoint_environment(tiers, keep_last=policy.get("keepLast"),
                                          peers=placement.get("checkpointPeers") or None,
                                          storage_options=options or None))
    return LaunchSpec(
        attempt_id=attempt_id, request_id=request_id, job_id=job_id, entrypoint=entrypoint, ranks=tuple(ranks),
        env=env, working_dir=entrypoint_spec.get("workingDir"),
        checkpoint_uri=tiers[-1] if tiers else None,
        parallelism={k: int(v) for k, v in placement.get("parallelism", {}).items() if k in PARALLEL_KEYS})
