"""``/v1/events``: the append-only audit log, oldest first, paged by sequence number."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from controlplane.api.deps import ServicesDep
from controlplane.wire import EventView, Page

router = APIRouter(prefix="/v1/events", tags=["events"])


@router.get("", response_model=Page[EventView], response_model_by_alias=True)
def list_events(services: ServicesDep,
                job: Annotated[str | None, Query(description="job uid")] = None,
                entity: Annotated[str | None, Query(description="job, attempt, pool, queue or node")] = None,
                type: Annotated[str | None, Query(description="event type prefix, e.g. job.")] = None,
                after: Annotated[int | None, Query(ge=0, description="return events after this seq")] = None,
                limit: Annotated[int | None, Query(ge=1)] = None) -> Page[EventView]:
    return services.events.list(job_id=job, entity=entity, type_prefix=type, after=after, limit=limit)
