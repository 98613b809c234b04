"""The environment a rank starts with: torchrun's variables plus Suanli's coordinates.

``rank_environment`` builds it on the runtime side; ``controlplane.runtime.worker`` reads it in
the worker. Using torchrun's names (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``LOCAL_WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``) means ``torch.distributed`` with
``init_method="env://"`` works unchanged, and the worker SDK works under plain ``torchrun``.

Suanli's own variables:

=============================  ==============================================================
``SUANLI_ATTEMPT_ID``          the attempt this rank belongs to
``SUANLI_JOB_ID``              the job
``SUANLI_NODE``                the node the placement chose
``SUANLI_<KEY>_RANK``          coordinate ``key`` (``TP``, ``PP``, ``DP``, ``EP``, ``CP``, ...)
``SUANLI_STAGE``               pipeline stage
``SUANLI_<KEY>_SIZE``          group size of coordinate ``key``
``SUANLI_COORDINATES``         every coordinate as a JSON object (``{"tp": 0, "dp": 3}``)
``SUANLI_GROUP_SIZES``         every group size as a JSON object
``SUANLI_EXPERTS``             MoE experts hosted, comma separated
``SUANLI_CHECKPOINT_URI``      where this attempt checkpoints
``SUANLI_REPORT_FILE``         JSON-lines file the SDK appends reports to (command entrypoints)
``SUANLI_STOP_FILE``           exists once the runtime asks the rank to stop
``SUANLI_CHECKPOINT_FILE``     exists while the runtime asks for a checkpoint
=============================  ==============================================================
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from controlplane.runtime.types import LaunchSpec, RankSpec

RANK = "RANK"
WORLD_SIZE = "WORLD_SIZE"
LOCAL_RANK = "LOCAL_RANK"
LOCAL_WORLD_SIZE = "LOCAL_WORLD_SIZE"
MASTER_ADDR = "MASTER_ADDR"
MASTER_PORT = "MASTER_PORT"

ATTEMPT_ID = "SUANLI_ATTEMPT_ID"
JOB_ID = "SUANLI_JOB_ID"
NODE = "SUANLI_NODE"
STAGE = "SUANLI_STAGE"
EXPERTS = "SUANLI_EXPERTS"
COORDINATES = "SUANLI_COORDINATES"
GROUP_SIZES = "SUANLI_GROUP_SIZES"
CHECKPOINT_URI = "SUANLI_CHECKPOINT_URI"
REPORT_FILE = "SUANLI_REPORT_FILE"
STOP_FILE = "SUANLI_STOP_FILE"
CHECKPOINT_FILE = "SUANLI_CHECKPOINT_FILE"
REPORTING_RANKS = "SUANLI_REPORTING_RANKS"
"""``all`` makes every rank forward its reports; by default only global rank 0 does."""

COORDINATE_PREFIX = "SUANLI_"
RANK_SUFFIX = "_RANK"
SIZE_SUFFIX = "_SIZE"


def coordinate_variable(key: str) -> str:
    """``tp`` → ``SUANLI_TP_RANK``; ``stage`` → ``SUANLI_STAGE``."""
    return STAGE if key == "stage" else f"{COORDINATE_PREFIX}{key.upper()}{RANK_SUFFIX}"


def size_variable(key: str) -> str:
    return f"{COORDINATE_PREFIX}{key.upper()}{SIZE_SUFFIX}"


def rank_environment(spec: LaunchSpec, rank: RankSpec, *, master_addr: str, master_port: int,
                     files: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every variable a rank needs: the spec's ``env`` first, then Suanli's variables (which win)."""
    local_world_size = sum(1 for other in spec.ranks if other.node == rank.node)
    environment: dict[str, str] = dict(spec.env)
    environment.update({
        RANK: str(rank.rank),
        WORLD_SIZE: str(spec.world_size),
        LOCAL_RANK: str(rank.local_rank),
        LOCAL_WORLD_SIZE: str(local_world_size),
        MASTER_ADDR: master_addr,
        MASTER_PORT: str(master_port),
        ATTEMPT_ID: spec.attempt_id,
        JOB_ID: spec.job_id,
        NODE: rank.node,
    })
    for key, value in rank.coordinates.items():
        environment[coordinate_variable(key)] = str(value)
    for key, size in spec.parallelism.items():
        environment[size_variable(key)] = str(size)
    environment[COORDINATES] = json.dumps(dict(rank.coordinates), sort_keys=True)
    environment[GROUP_SIZES] = json.dumps(dict(spec.parallelism), sort_keys=True)
    if rank.experts:
        environment[EXPERTS] = ",".join(str(expert) for expert in rank.experts)
    if spec.checkpoint_uri:
        environment[CHECKPOINT_URI] = spec.checkpoint_uri
    environment.update(files or {})
    return environment
