"""``/v1/pools``: accelerator pools (cluster-scoped)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response

from controlplane.api.deps import ServicesDep
from controlplane.wire import ApplyResult, Page, PoolView

router = APIRouter(prefix="/v1/pools", tags=["pools"])


@router.get("", response_model=Page[PoolView], response_model_by_alias=True)
def list_pools(services: ServicesDep) -> Page[PoolView]:
    return Page[PoolView](items=services.pools.list())


@router.get("/{name}", response_model=PoolView, response_model_by_alias=True)
def get_pool(name: str, services: ServicesDep) -> PoolView:
    return services.pools.get(name)


@router.put("/{name}", response_model=ApplyResult, response_model_by_alias=True)
def apply_pool(name: str, document: Annotated[dict[str, Any], Body()], services: ServicesDep,
               response: Response) -> ApplyResult:
    result = services.pools.apply(document, name=name)
    if result.outcome == "created":
        response.status_code = 201
    return result


@router.delete("/{name}", status_code=204)
def delete_pool(name: str, services: ServicesDep) -> Response:
    services.pools.delete(name)
    return Response(status_code=204)
