"""The state store: the only place in Suanli that knows SQL.

SQLAlchemy 2 ORM models (one module per entity, in ``models/``), repositories that return plain
frozen records (``repositories/``, ``records``), the one place statuses change
(``transitions``), keyset pagination (``pagination``), engines and sessions (``engine``), and
Alembic migrations run from code (``migrate``). SQLite by default, PostgreSQL in production.

Typical use by a service::

    factory = make_session_factory(create_engine_for(settings.database_url))
    with session_scope(factory) as session:
        job = JobRepository(session).add(kind="TrainingJob", team="nlp", name="llama-70b",
                                         queue="default", spec=spec_dict)
        switch_job_status(session, job.id, JobStatus.SCHEDULED, message="admitted on h100-spot")
"""

from controlplane.store.engine import create_engine_for, make_session_factory, session_scope
from controlplane.store.hashing import spec_hash
from controlplane.store.migrate import current_revision, downgrade, ensure_schema, upgrade
from controlplane.store.models.checkpoint import CheckpointRecord
from controlplane.store.pagination import Cursor, Page, decode_cursor, encode_cursor
from controlplane.store.priorities import PRIORITY_BY_CLASS, priority_for_class
from controlplane.store.records import (
    AttemptRecord,
    EventRecord,
    JobRecord,
    NodeRecord,
    NodeState,
    PoolRecord,
    QueueRecord,
    UpsertOutcome,
)
from controlplane.store.repositories import (
    AttemptRepository,
    CheckpointRepository,
    EventRepository,
    IntentRepository,
    JobRepository,
    LeaseRepository,
    NodeRepository,
    PoolRepository,
    QueueRepository,
)
from controlplane.store.transitions import switch_attempt_status, switch_job_status

__all__ = [
    "PRIORITY_BY_CLASS",
    "AttemptRecord",
    "AttemptRepository",
    "CheckpointRecord",
    "CheckpointRepository",
    "Cursor",
    "EventRecord",
    "EventRepository",
    "IntentRepository",
    "JobRecord",
    "JobRepository",
    "LeaseRepository",
    "NodeRecord",
    "NodeRepository",
    "NodeState",
    "Page",
    "PoolRecord",
    "PoolRepository",
    "QueueRecord",
    "QueueRepository",
    "UpsertOutcome",
    "create_engine_for",
    "current_revision",
    "decode_cursor",
    "downgrade",
    "encode_cursor",
    "ensure_schema",
    "make_session_factory",
    "priority_for_class",
    "session_scope",
    "spec_hash",
    "switch_attempt_status",
    "switch_job_status",
    "upgrade",
]
