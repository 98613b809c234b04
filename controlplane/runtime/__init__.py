"""How the controller runs attempts: the ``Runtime`` protocol, its values, and the worker SDK.

``protocol`` states the contract; ``types`` holds the values exchanged; ``sim`` and ``ray`` are
the two implementations (``ray`` is imported only when used, so this package loads without
starting anything); ``worker`` is what training code imports.
"""

from controlplane.runtime.errors import LaunchRejected
from controlplane.runtime.protocol import Runtime
from controlplane.runtime.types import (
    TERMINAL_STATES,
    AttemptObservation,
    AttemptState,
    CheckpointCommit,
    Cursor,
    LaunchSpec,
    NodeObservation,
    Notice,
    NoticeKind,
    Observation,
    RankObservation,
    RankSpec,
    StepReport,
)

__all__ = [
    "TERMINAL_STATES",
    "AttemptObservation",
    "AttemptState",
    "CheckpointCommit",
    "Cursor",
    "LaunchRejected",
    "LaunchSpec",
    "NodeObservation",
    "Notice",
    "NoticeKind",
    "Observation",
    "RankObservation",
    "RankSpec",
    "Runtime",
    "StepReport",
]
