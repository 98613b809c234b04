"""``/healthz``: liveness plus a database round trip."""

from __future__ import annotations

from fastapi import APIRouter

from controlplane.api.deps import ServicesDep
from controlplane.wire import HealthView

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthView, response_model_by_alias=True)
def healthz(services: ServicesDep) -> HealthView:
    return services.health()
