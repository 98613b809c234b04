"""ORM models, one module per entity; importing this package registers every table on
``Base.metadata`` (which Alembic compares against)."""

from controlplane.store.models.attempt import AttemptRow
from controlplane.store.models.base import Base
from controlplane.store.models.checkpoint import CheckpointRow
from controlplane.store.models.event import EventRow
from controlplane.store.models.intent import IntentRow
from controlplane.store.models.job import JobRow
from controlplane.store.models.lease import LeaseRow
from controlplane.store.models.node import NodeRow
from controlplane.store.models.pool import PoolRow
from controlplane.store.models.queue import QueueRow

__all__ = [
    "AttemptRow",
    "Base",
    "CheckpointRow",
    "EventRow",
    "IntentRow",
    "JobRow",
    "LeaseRow",
    "NodeRow",
    "PoolRow",
    "QueueRow",
]
