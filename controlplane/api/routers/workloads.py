"""``/v1/jobs`` and ``/v1/inference-services``: submit, apply, list, get and cancel workloads.

Both collections share one implementation; the kind is fixed per collection.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Response

from controlplane.api.deps import ServicesDep
from controlplane.wire import ApplyResult, JobView, LogChunk, Page

Document = Annotated[dict[str, Any], Body(description="A TrainingJob / InferenceService document")]
TeamQuery = Annotated[str | None, Query(description="team of a job named by name (default: `default`)")]


def workload_router(*, prefix: str, kind: str, tag: str) -> APIRouter:
    router = APIRouter(prefix=prefix, tags=[tag])

    @router.post("", status_code=201, response_model=JobView, response_model_by_alias=True)
    def submit(document: Document, services: ServicesDep, response: Response,
               idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None) -> JobView:
        """Submit a workload. Re-sending the same body with the same ``Idempotency-Key`` returns
        the original (200) instead of creating another; a different body under a used key is 409."""
        job, created = services.jobs.submit(document, kind=kind, idempotency_key=idempotency_key)
        if not created:
            response.status_code = 200
        return job

    @router.get("", response_model=Page[JobView], response_model_by_alias=True)
    def list_workloads(services: ServicesDep, team: str | None = None,
                       status: Annotated[str | None, Query(description="comma-separated statuses")] = None,
                       queue: str | None = None, cursor: str | None = None,
                       limit: Annotated[int | None, Query(ge=1)] = None) -> Page[JobView]:
        statuses = [s.strip() for s in status.split(",") if s.strip()] if status else None
        return services.jobs.list(kind=kind, team=team, statuses=statuses, queue=queue, cursor=cursor,
                                  limit=limit)

    @router.put("/{team}/{name}", response_model=ApplyResult, response_model_by_alias=True)
    def apply(team: str, name: str, document: Document, services: ServicesDep,
              response: Response) -> ApplyResult:
        """Create the workload if absent; unchanged if identical; 409 if it differs (specs are immutable)."""
        result = services.jobs.apply(document, kind=kind, team=team, name=name)
        if result.outcome == "created":
            response.status_code = 201
        return result

    @router.get("/{ref}", response_model=JobView, response_model_by_alias=True)
    def get(ref: str, services: ServicesDep, team: TeamQuery = None) -> JobView:
        """One workload by uid, or by name within ``team``."""
        return services.jobs.get(kind=kind, ref=ref, team=team)

    @router.get("/{ref}/logs", response_model=LogChunk, response_model_by_alias=True)
    def logs(ref: str, services: ServicesDep, team: TeamQuery = None,
             rank: Annotated[int, Query(ge=0)] = 0, attempt: Annotated[int | None, Query(ge=1)] = None,
             offset: Annotated[int, Query(ge=0)] = 0, tail: Annotated[int | None, Query(ge=1)] = None) -> LogChunk:
        """A rank's output from byte ``offset`` (follow by asking again from ``nextOffset``)."""
        return services.logs.read(kind=kind, ref=ref, team=team, rank=rank, attempt=attempt, offset=offset,
                                  tail=tail)

    @router.post("/{ref}:cancel", response_model=JobView, response_model_by_alias=True)
    def cancel(ref: str, services: ServicesDep, team: TeamQuery = None,
               body: Annotated[dict[str, Any] | None, Body()] = None) -> JobView:
        """Cancel: a waiting job ends at once; a running one goes CANCELLING until its attempt stops."""
        reason = (body or {}).get("reason")
        return services.jobs.cancel(kind=kind, ref=ref, team=team,
                                    reason=str(reason) if reason is not None else None)

    return router
