"""Use cases on accelerator pools: apply (create or update by name), list, get, delete.

A pool's price is resolved when it is applied (operator override, or the price catalog) and
shown in its status, so a pool without a price is refused at the door.
"""

from __future__ import annotations

from typing import Any

import jobspecs
from controlplane.domain.errors import ConflictError, NotFoundError
from controlplane.services.context import ServiceContext
from controlplane.services.documents import check_identity, parse_resource, stored_spec
from controlplane.services.views import pool_view
from controlplane.store.engine import session_scope
from controlplane.store.records import PoolRecord, UpsertOutcome
from controlplane.store.repositories.attempts import AttemptRepository
from controlplane.store.repositories.events import EventRepository
from controlplane.store.repositories.pools import PoolRepository
from controlplane.wire import ApplyOutcome, ApplyResult, PoolStatusView, PoolView

OUTCOMES = {UpsertOutcome.CREATED: ApplyOutcome.created, UpsertOutcome.UPDATED: ApplyOutcome.configured,
            UpsertOutcome.UNCHANGED: ApplyOutcome.unchanged}


class PoolService:
    def __init__(self, context: ServiceContext) -> None:
        self._ctx = context

    def apply(self, document: dict[str, Any], *, name: str) -> ApplyResult:
        resource = parse_resource(document, expected_kind="AcceleratorPool")
        check_identity(resource, name=name)
        self._ctx.validator.check_pool(resource)
        spec = resource.spec
        with session_scope(self._ctx.session_factory) as session:
            pool, outcome = PoolRepository(session).upsert(
                name=name, provider=spec.provider, region=spec.region, zone=spec.zone,
                accelerator=spec.accelerator, capacity_type=spec.capacity_type, spec=stored_spec(resource),
                labels=dict(resource.metadata.labels), spec_hash=jobspecs.spec_hash(resource),
            )
            if outcome is not UpsertOutcome.UNCHANGED:
                EventRepository(session).append(
                    type=f"pool.{outcome.value}", entity="pool", entity_id=pool.id,
                    message=f"pool {name} {outcome.value}: {spec.provider}/{spec.region} {spec.accelerator} "
                            f"{spec.capacity_type}", data={"specHash": pool.spec_hash},
                )
            view = self._view(pool)
        return ApplyResult(outcome=OUTCOMES[outcome], kind="AcceleratorPool", name=name,
                           object=view.to_json_dict())

    def list(self) -> list[PoolView]:
        with session_scope(self._ctx.session_factory) as session:
            pools = PoolRepository(session).list()
        return [self._view(pool) for pool in pools]

    def get(self, name: str) -> PoolView:
        with session_scope(self._ctx.session_factory) as session:
            return self._view(self._find(session, name))

    def delete(self, name: str) -> None:
        with session_scope(self._ctx.session_factory) as session:
            pool = self._find(session, name)
            if AttemptRepository(session).count_active_in_pool(pool.id):
                raise ConflictError(f"pool {name} still runs attempts", field="name",
                                    hint="cancel or wait for the jobs running there first")
            PoolRepository(session).delete(pool.id)
            EventRepository(session).append(type="pool.deleted", entity="pool", entity_id=pool.id,
                                            message=f"pool {name} deleted", data={})

    def _find(self, session: Any, name: str) -> PoolRecord:
        pool = PoolRepository(session).find_by_name(name)
        if pool is None:
            raise NotFoundError(f"no pool named {name!r}", field="name", hint="list them with `suanli pools list`")
        return pool

    def _view(self, pool: PoolRecord) -> PoolView:
        resource = jobspecs.AcceleratorPool.model_validate(
            {"apiVersion": jobspecs.API_VERSION, "kind": "AcceleratorPool",
             "metadata": {"name": pool.name}, "spec": pool.spec})
        price = self._ctx.validator.check_pool(resource)
        nodes = resource.spec.nodes
        return pool_view(pool, PoolStatusView(
            nodes=nodes.max, ready_nodes=0, devices=nodes.max * resource.spec.devices_per_node,
            price_per_device_hour=round(price.per_device_hour, 4), price_source=price.source))
