"""Use cases on team queues: apply (create or update by team and name), list, get."""

from __future__ import annotations

from typing import Any

import jobspecs
from controlplane.domain.errors import NotFoundError
from controlplane.services.context import ServiceContext
from controlplane.services.documents import check_identity, parse_resource, stored_spec
from controlplane.services.pools import OUTCOMES
from controlplane.services.views import queue_view
from controlplane.store.engine import session_scope
from controlplane.store.records import UpsertOutcome
from controlplane.store.repositories.events import EventRepository
from controlplane.store.repositories.queues import QueueRepository
from controlplane.wire import ApplyResult, QueueView


class QueueService:
    def __init__(self, context: ServiceContext) -> None:
        self._ctx = context

    def apply(self, document: dict[str, Any], *, team: str, name: str) -> ApplyResult:
        resource = parse_resource(document, expected_kind="Queue")
        check_identity(resource, name=name, team=team)
        for accelerator in (resource.spec.quotas.devices or {}):
            self._ctx.validator._check_name(accelerator, field=f"spec.quotas.devices.{accelerator}")
        with session_scope(self._ctx.session_factory) as session:
            queue, outcome = QueueRepository(session).upsert(
                team=team, name=name, spec=stored_spec(resource), labels=dict(resource.metadata.labels),
                spec_hash=jobspecs.spec_hash(resource))
            if outcome is not UpsertOutcome.UNCHANGED:
                EventRepository(session).append(
                    type=f"queue.{outcome.value}", entity="queue", entity_id=queue.id, team=team,
                    message=f"queue {team}/{name} {outcome.value}", data={"specHash": queue.spec_hash})
        return ApplyResult(outcome=OUTCOMES[outcome], kind="Queue", name=name, team=team,
                           object=queue_view(queue).to_json_dict())

    def list(self, *, team: str | None = None) -> list[QueueView]:
        with session_scope(self._ctx.session_factory) as session:
            return [queue_view(q) for q in QueueRepository(session).list(team=team)]

    def get(self, *, team: str, name: str) -> QueueView:
        with session_scope(self._ctx.session_factory) as session:
            queue = QueueRepository(session).find(team, name)
            if queue is None:
                raise NotFoundError(f"no queue {team}/{name}", field="name",
                                    hint="list them with `suanli queues list`")
            return queue_view(queue)
