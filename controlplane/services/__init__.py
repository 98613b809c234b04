"""Use cases of the control plane. Every write goes through here; routers stay thin.

``Services`` is the bundle the API's composition root builds from one ``Settings`` object.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, text

from controlplane import __version__
from controlplane.services.checkpoints import CheckpointService
from controlplane.services.context import ServiceContext
from controlplane.services.events import EventService
from controlplane.services.logs import LogService
from controlplane.services.pools import PoolService
from controlplane.services.queues import QueueService
from controlplane.services.validation import CatalogValidator
from controlplane.services.workloads import WorkloadService
from controlplane.settings import Settings
from controlplane.store.engine import create_engine_for, make_session_factory
from controlplane.store.migrate import ensure_schema
from controlplane.wire import HealthView


@dataclass
class Services:
    engine: Engine
    context: ServiceContext
    jobs: WorkloadService
    pools: PoolService
    queues: QueueService
    events: EventService
    logs: LogService
    checkpoints: CheckpointService

    @classmethod
    def from_settings(cls, settings: Settings, *, validator: CatalogValidator | None = None) -> Services:
        """Open the store (migrating it to the newest schema) and wire every service."""
        ensure_schema(settings.database_url)
        engine = create_engine_for(settings.database_url)
        context = ServiceContext(settings=settings, session_factory=make_session_factory(engine),
                                 validator=validator or CatalogValidator.default())
        jobs = WorkloadService(context)
        return cls(engine=engine, context=context, jobs=jobs, pools=PoolService(context),
                   queues=QueueService(context), events=EventService(context), logs=LogService(context, jobs),
                   checkpoints=CheckpointService(context))

    def health(self) -> HealthView:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return HealthView(status="ok", version=__version__, database=self.engine.dialect.name)

    def close(self) -> None:
        self.engine.dispose()
