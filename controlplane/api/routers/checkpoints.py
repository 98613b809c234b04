"""``/v1/jobs/{job}/checkpoints``: a training job's committed checkpoints and their tiers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from controlplane.services.checkpoints import CheckpointService
from controlplane.wire.checkpoints import CheckpointView

router = APIRouter(prefix="/v1/jobs", tags=["checkpoints"])

TeamQuery = Annotated[str | None, Query(description="team of a job named by name (default: `default`)")]


def get_checkpoint_service(request: Request) -> CheckpointService:
    """The service from ``app.state.services.checkpoints``, else one built on the services' context."""
    services = request.app.state.services
    service = getattr(services, "checkpoints", None)
    return service if isinstance(service, CheckpointService) else CheckpointService(services.context)


CheckpointsDep = Annotated[CheckpointService, Depends(get_checkpoint_service)]


@router.get("/{job}/checkpoints", response_model=list[CheckpointView], response_model_by_alias=True)
def list_checkpoints(job: str, service: CheckpointsDep, team: TeamQuery = None,
                     limit: Annotated[int | None, Query(ge=1)] = None) -> list[CheckpointView]:
    """The job's checkpoints, newest step first, each with the tiers it is committed on."""
    return service.list(job=job, team=team, limit=limit)


@router.get("/{job}/checkpoints/{checkpoint}", response_model=CheckpointView, response_model_by_alias=True)
def describe_checkpoint(job: str, checkpoint: str, service: CheckpointsDep, team: TeamQuery = None) -> CheckpointView:
    """One checkpoint, by step (the newest at that step) or by checkpoint id."""
    return service.describe(job=job, checkpoint=checkpoint, team=team)
