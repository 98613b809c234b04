"""Repositories: one per entity, each wrapping the caller's ``Session``.

Repositories read and write rows and return plain records (:mod:`controlplane.store.records`);
they never commit (the caller's ``session_scope`` does) and never change a status column (see
:mod:`controlplane.store.transitions`). Unique-constraint violations become ``ConflictError``
inside a SAVEPOINT, so the caller's transaction stays usable. Creating, applying and deleting
write no event (the use case records it with what it knows); status and node-state changes
always do.
"""

from controlplane.store.repositories.attempts import AttemptRepository, default_request_id
from controlplane.store.repositories.checkpoints import CheckpointRepository
from controlplane.store.repositories.events import EventRepository
from controlplane.store.repositories.intents import IntentRepository
from controlplane.store.repositories.jobs import JobRepository
from controlplane.store.repositories.leases import LeaseRepository
from controlplane.store.repositories.nodes import NodeRepository
from controlplane.store.repositories.pools import PoolRepository
from controlplane.store.repositories.queues import QueueRepository

__all__ = [
    "AttemptRepository",
    "CheckpointRepository",
    "EventRepository",
    "IntentRepository",
    "JobRepository",
    "LeaseRepository",
    "NodeRepository",
    "PoolRepository",
    "QueueRepository",
    "default_request_id",
]
