"""``/v1/queues``: team queues with quotas."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response

from controlplane.api.deps import ServicesDep
from controlplane.wire import ApplyResult, Page, QueueView

router = APIRouter(prefix="/v1/queues", tags=["queues"])


@router.get("", response_model=Page[QueueView], response_model_by_alias=True)
def list_queues(services: ServicesDep, team: str | None = None) -> Page[QueueView]:
    return Page[QueueView](items=services.queues.list(team=team))


@router.get("/{team}/{name}", response_model=QueueView, response_model_by_alias=True)
def get_queue(team: str, name: str, services: ServicesDep) -> QueueView:
    return services.queues.get(team=team, name=name)


@router.put("/{team}/{name}", response_model=ApplyResult, response_model_by_alias=True)
def apply_queue(team: str, name: str, document: Annotated[dict[str, Any], Body()], services: ServicesDep,
                response: Response) -> ApplyResult:
    result = services.queues.apply(document, team=team, name=name)
    if result.outcome == "created":
        response.status_code = 201
    return result
