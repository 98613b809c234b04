"""The plain values a controller and a runtime exchange: what to launch, and what is observed.

Everything here is a frozen dataclass of built-in types, so observations can cross threads,
be compared in tests, and be written to the store without conversion.

Vocabulary:
- *node*: one machine of an accelerator pool, named uniquely (the ``suanli.dev/node`` label on
  Ray). ``devices`` counts its accelerators of type ``accelerator``.
- *attempt*: one run of a job on a fixed placement. It is launched under an idempotency key
  (``request_id``) and ends in exactly one terminal state.
- *rank*: one worker process of an attempt; ``RankSpec`` says which node hosts it and its
  coordinates in the parallel layout (``tp``/``pp``/``dp``/``ep``/``cp`` ranks and ``stage``).
- *cursor*: an opaque integer marking how far the caller has drained the event streams
  (step reports, checkpoint commits, notices); see ``Runtime.observe``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

AttemptState: TypeAlias = Literal["launching", "running", "stopping", "succeeded", "failed", "stopped", "lost"]
"""Lifecycle of an attempt as the runtime sees it.

``launching`` → ``running`` → one terminal state. ``stopping`` follows a graceful ``stop``.
``lost`` means a node hosting a rank disappeared (preemption, crash): the controller may retry
elsewhere. ``failed`` means the workload itself failed (a rank raised or exited non-zero).
"""

TERMINAL_STATES: frozenset[str] = frozenset({"succeeded", "failed", "stopped", "lost"})

Cursor: TypeAlias = int
"""Position in a runtime's event streams; pass back the ``cursor`` of the last observation."""

NoticeKind: TypeAlias = Literal["preemption", "maintenance", "termination"]

COORDINATE_KEYS: tuple[str, ...] = ("tp", "pp", "dp", "ep", "cp", "stage")
"""Well-known coordinate names; ``RankSpec.coordinates`` may carry others too."""


@dataclass(frozen=True, slots=True)
class NodeObservation:
    """One node as the runtime sees it now."""

    name: str
    pool: str
    accelerator: str
    devices: int
    labels: Mapping[str, str]
    alive: bool
    cordoned: bool
    capacity_type: str = "on-demand"
    zone: str | None = None
    rack: str | None = None
    region: str | None = None
    devices_in_use: int = 0
    """Devices held by this runtime's non-terminal attempts on this node."""


@dataclass(frozen=True, slots=True)
class RankObservation:
    """One rank of an attempt: where it runs and how it is doing."""

    rank: int
    node: str
    alive: bool
    exit_code: int | None = None
    error: str | None = None
    log_tail: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AttemptObservation:
    """An attempt the runtime knows about, in its current state."""

    attempt_id: str
    request_id: str
    job_id: str
    state: AttemptState
    ranks: tuple[RankObservation, ...]
    reason: str | None = None
    started_at: float | None = None
    ended_at: float | None = None

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES


@dataclass(frozen=True, slots=True)
class StepReport:
    """A training step a rank finished.

    ``step`` counts steps done, from 1 (the step a checkpoint of this state would carry);
    ``tokens`` counts the whole job's tokens in that step; ``time`` is on the runtime's clock.
    """

    attempt_id: str
    rank: int
    step: int
    loss: float | None
    tokens: int | None
    time: float


@dataclass(frozen=True, slots=True)
class CheckpointCommit:
    """A checkpoint the workload committed on one tier (``uri``), with what it cost when known."""

    attempt_id: str
    step: int
    uri: str
    bytes: int
    time: float
    snapshot_s: float | None = None
    """The blocking copy to host memory."""
    persist_s: float | None = None
    """From the snapshot to the commit on this tier."""


@dataclass(frozen=True, slots=True)
class Notice:
    """A warning that a node will go away at ``deadline`` (runtime clock), e.g. a spot notice."""

    node: str
    kind: NoticeKind
    deadline: float
    source: str


@dataclass(frozen=True, slots=True)
class Observation:
    """Everything a runtime reports in one ``observe`` call.

    ``nodes`` and ``attempts`` are full snapshots. ``step_reports``, ``checkpoint_commits`` and
    ``notices`` hold only the events after the cursor passed to ``observe``; pass ``cursor``
    back next time.
    """

    time: float
    nodes: tuple[NodeObservation, ...]
    attempts: tuple[AttemptObservation, ...]
    step_reports: tuple[StepReport, ...]
    checkpoint_commits: tuple[CheckpointCommit, ...]
    notices: tuple[Notice, ...]
    cursor: Cursor

    def node(self, name: str) -> NodeObservation | None:
        return next((node for node in self.nodes if node.name == name), None)

    def attempt(self, attempt_id: str) -> AttemptObservation | None:
        return next((attempt for attempt in self.attempts if attempt.attempt_id == attempt_id), None)


@dataclass(frozen=True, slots=True)
class RankSpec:
    """Where one rank runs and its place in the parallel layout."""

    rank: int
    node: str
    local_rank: int = 0
    coordinates: Mapping[str, int] = field(default_factory=dict)
    experts: tuple[int, ...] = ()
    devices: int = 1
    """Accelerators this rank holds on its node (usually one)."""


@dataclass(frozen=True, slots=True)
class LaunchSpec:
    """One attempt to launch: the entrypoint, the environment and one ``RankSpec`` per rank.

    ``entrypoint`` is either ``"package.module:function"`` (called with no arguments in the
    rank's process) or a command as a tuple of arguments (run in a subprocess). ``request_id`` is
    the idempotency key: launching the same spec twice under it is a no-op.
    """

    attempt_id: str
    request_id: str
    job_id: str
    entrypoint: str | tuple[str, ...]
    ranks: tuple[RankSpec, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    working_dir: str | None = None
    master_port: int | None = None
    checkpoint_uri: str | None = None
    parallelism: Mapping[str, int] = field(default_factory=dict)
    """Group sizes by coordinate name (``{"tp": 2, "dp": 4}``), exported as ``SUANLI_TP_SIZE``..."""

    @property
    def world_size(self) -> int:
        return len(self.ranks)

    @property
    def is_command(self) -> bool:
        return not isinstance(self.entrypoint, str)

    def rank_spec(self, rank: int) -> RankSpec:
        return self.ranks[rank]

    def devices_by_node(self) -> dict[str, int]:
        """How many devices the attempt needs on each node it uses."""
        needed: dict[str, int] = {}
        for rank in self.ranks:
            needed[rank.node] = needed.get(rank.node, 0) + rank.devices
        return needed
