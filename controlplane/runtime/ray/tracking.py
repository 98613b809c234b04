"""What ``RayRuntime`` tracks per attempt, and the names of what it creates on the cluster.

``AttemptTrack``/``RankTrack`` are the runtime's mutable view of one attempt and its ranks
(rebuilt from the hub's registry when a runtime adopts an attempt); ``attempt_observation``
turns one into what ``observe`` reports, and ``restore_verdict`` fills one in from a recorded
``Verdict``. Names: an attempt's placement group is ``suanli-<attempt>``, its rank actors
``suanli-<attempt>-rank-<r>``, all in the runtime's namespace; ``hub_placement`` pins the hub to
the head node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ray
from ray.util.placement_group import PlacementGroup, get_placement_group
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from controlplane.runtime.ray.hub import Verdict
from controlplane.runtime.types import TERMINAL_STATES, AttemptObservation, AttemptState, LaunchSpec, RankObservation

LOG_TAIL_LINES = 20
HEAD_RESOURCE = "node:__internal_head__"


def group_name(attempt_id: str) -> str:
    """The name of an attempt's placement group in the runtime's namespace."""
    return f"suanli-{attempt_id}"


def host_name(attempt_id: str, rank: int) -> str:
    """The name of a rank's actor in the runtime's namespace."""
    return f"suanli-{attempt_id}-rank-{rank}"


@dataclass(slots=True)
class RankTrack:
    planned_node: str
    node: str
    ray_node_id: str | None = None
    started: bool = False
    done: bool = False
    exit_code: int | None = None
    error: str | None = None
    log: tuple[str, ...] = ()
    finished_at: float | None = None
    died_at: float | None = None


@dataclass(slots=True)
class AttemptTrack:
    spec: LaunchSpec
    group: PlacementGroup | None
    hosts: list[Any]
    """One actor handle per rank; ``None`` where the actor is gone or was never found."""
    ranks: list[RankTrack]
    launched_at: float
    where_refs: dict[Any, int] = field(default_factory=dict)
    result_refs: dict[Any, int] = field(default_factory=dict)
    state: AttemptState = "launching"
    started_at: float | None = None
    ended_at: float | None = None
    reason: str | None = None
    stop_requested: bool = False
    stop_deadline: float | None = None


def attempt_observation(attempt: AttemptTrack) -> AttemptObservation:
    """What ``observe`` reports of a tracked attempt."""
    terminal = attempt.state in TERMINAL_STATES
    ranks = tuple(RankObservation(rank=index, node=rank.node,
                                  alive=rank.started and not rank.done and rank.died_at is None and not terminal,
                                  exit_code=rank.exit_code, error=rank.error,
                                  log_tail=rank.log[-LOG_TAIL_LINES:])
                  for index, rank in enumerate(attempt.ranks))
    return AttemptObservation(attempt_id=attempt.spec.attempt_id, request_id=attempt.spec.request_id,
                              job_id=attempt.spec.job_id, state=attempt.state, ranks=ranks,
                              reason=attempt.reason, started_at=attempt.started_at, ended_at=attempt.ended_at)


def restore_verdict(attempt: AttemptTrack, verdict: Verdict) -> None:
    """Fill ``attempt`` in from the verdict a runtime recorded when it ended the attempt."""
    attempt.state = verdict.state
    attempt.reason = verdict.reason
    attempt.ended_at = verdict.ended_at
    for rank, seen in zip(attempt.ranks, verdict.ranks, strict=False):
        rank.node = seen.node
        rank.exit_code = seen.exit_code
        rank.error = seen.error
        rank.log = seen.log_tail
        rank.done = seen.exit_code is not None


def hub_placement() -> NodeAffinitySchedulingStrategy:
    """The head node (it lives as long as the cluster), else this driver's node."""
    head = next((str(node["NodeID"]) for node in ray.nodes()
                 if node.get("Alive") and HEAD_RESOURCE in (node.get("Resources") or {})), None)
    if head is not None:
        return NodeAffinitySchedulingStrategy(node_id=head, soft=False)
    return NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=True)


def named_group(name: str) -> PlacementGroup | None:
    try:
        return get_placement_group(name)
    except ValueError:
        return None


def first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
