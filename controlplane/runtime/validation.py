"""Launch-spec checks shared by every runtime, so they all refuse the same things the same way.

``check_spec_shape`` looks at the spec alone and raises ``InvalidInputError`` (it could never
run as written). ``check_placement`` looks at the spec against the nodes as observed now and
raises ``LaunchRejected`` (unknown, dead or cordoned node; not enough free devices). Ray leaves
an infeasible placement group pending without a word, so these checks run before anything is
submitted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from controlplane.domain.errors import ConflictError, InvalidInputError
from controlplane.runtime.errors import LaunchRejected
from controlplane.runtime.types import LaunchSpec, NodeObservation

FUNCTION_REFERENCE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


def check_spec_shape(spec: LaunchSpec) -> None:
    """Raise ``InvalidInputError`` naming the field if the spec is malformed."""
    for name in ("attempt_id", "request_id", "job_id"):
        value = getattr(spec, name)
        if not isinstance(value, str) or not IDENTIFIER.match(value):
            raise InvalidInputError(f"{value!r} is not a valid identifier", field=name,
                                    hint="use 1-128 letters, digits, '.', '_', ':' or '-'")
    _check_entrypoint(spec.entrypoint)
    if not spec.ranks:
        raise InvalidInputError("an attempt needs at least one rank", field="ranks")
    local_ranks: dict[str, set[int]] = {}
    for position, rank in enumerate(spec.ranks):
        where = f"ranks[{position}]"
        if rank.rank != position:
            raise InvalidInputError(f"rank {rank.rank} is listed at position {position}", field=f"{where}.rank",
                                    hint="list ranks in order 0, 1, ..., world_size - 1")
        if not rank.node:
            raise InvalidInputError("the node is empty", field=f"{where}.node")
        if rank.devices < 0:
            raise InvalidInputError(f"devices must be >= 0, got {rank.devices}", field=f"{where}.devices")
        if rank.local_rank < 0 or rank.local_rank in local_ranks.setdefault(rank.node, set()):
            raise InvalidInputError(f"local rank {rank.local_rank} is negative or repeated on node {rank.node!r}",
                                    field=f"{where}.local_rank")
        local_ranks[rank.node].add(rank.local_rank)
        for key, value in rank.coordinates.items():
            if not ENV_NAME.match(key) or not isinstance(value, int) or value < 0:
                raise InvalidInputError(f"coordinate {key}={value!r} must be a name and a non-negative integer",
                                        field=f"{where}.coordinates.{key}")
        if any(not isinstance(expert, int) or expert < 0 for expert in rank.experts):
            raise InvalidInputError("experts must be non-negative integers", field=f"{where}.experts")
    for key, value in spec.env.items():
        if not ENV_NAME.match(key) or not isinstance(value, str):
            raise InvalidInputError(f"environment variable {key}={value!r} needs a valid name and a string value",
                                    field=f"env.{key}")
    for key, size in spec.parallelism.items():
        if not ENV_NAME.match(key) or not isinstance(size, int) or size < 1:
            raise InvalidInputError(f"group size {key}={size!r} must be a positive integer", field=f"parallelism.{key}")
    if spec.master_port is not None and not 1 <= spec.master_port <= 65535:
        raise InvalidInputError(f"port {spec.master_port} is out of range", field="master_port")


def _check_entrypoint(entrypoint: str | tuple[str, ...]) -> None:
    if isinstance(entrypoint, str):
        if not FUNCTION_REFERENCE.match(entrypoint):
            raise InvalidInputError(f"{entrypoint!r} is not of the form 'package.module:function'",
                                    field="entrypoint", hint="or pass a command as a tuple of arguments")
        return
    if not entrypoint or not all(isinstance(argument, str) for argument in entrypoint):
        raise InvalidInputError("a command must be a non-empty tuple of strings", field="entrypoint")


def check_placement(spec: LaunchSpec, nodes: Mapping[str, NodeObservation]) -> None:
    """Raise ``LaunchRejected`` unless every rank's node exists, is alive, is not cordoned and has
    enough free devices (``devices - devices_in_use``) for the ranks placed on it.

    ``nodes`` needs to hold only the nodes the spec names (by name)."""
    first_rank_on: dict[str, int] = {}
    for rank in spec.ranks:
        first_rank_on.setdefault(rank.node, rank.rank)
    for node_name, needed in spec.devices_by_node().items():
        where = f"ranks[{first_rank_on[node_name]}].node"
        node = nodes.get(node_name)
        if node is None:
            raise LaunchRejected(f"node {node_name!r} is not part of the cluster", field=where,
                                 hint="place ranks only on nodes the runtime observes")
        if not node.alive:
            raise LaunchRejected(f"node {node_name!r} is not alive", field=where,
                                 hint="place the attempt on live nodes")
        if node.cordoned:
            raise LaunchRejected(f"node {node_name!r} is cordoned", field=where,
                                 hint="uncordon it or place the attempt elsewhere")
        free = node.devices - node.devices_in_use
        if needed > free:
            raise LaunchRejected(
                f"node {node_name!r} has {free} free {node.accelerator} device(s) of {node.devices}, "
                f"the attempt needs {needed}",
                field=where, hint="wait for running attempts to end or place the ranks elsewhere",
                details={"node": node_name, "free": free, "needed": needed},
            )


def is_repeat_launch(spec: LaunchSpec, launched_by_request: Mapping[str, LaunchSpec],
                     launched_by_attempt: Mapping[str, LaunchSpec]) -> bool:
    """True when ``spec`` repeats an earlier launch (a no-op); ``ConflictError`` when it clashes.

    A request id may only ever carry one spec, and an attempt id only one request id.
    """
    earlier = launched_by_request.get(spec.request_id)
    if earlier is not None:
        if earlier != spec:
            raise ConflictError(f"request id {spec.request_id!r} was already used for a different launch",
                                field="request_id", hint="use a new request id for a new launch",
                                details={"attempt_id": earlier.attempt_id})
        return True
    holder = launched_by_attempt.get(spec.attempt_id)
    if holder is not None:
        raise ConflictError(f"attempt {spec.attempt_id!r} was already launched under request id "
                            f"{holder.request_id!r}", field="attempt_id", hint="a new attempt needs a new attempt id")
    return False
