"""``create_app(settings)``: the composition root of the API process.

Builds the engine, migrates the schema to head, wires the services and mounts the routers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from controlplane import __version__
from controlplane.api.errors import install_error_handlers
from controlplane.api.routers import checkpoints, events, health, pools, queues
from controlplane.api.routers.workloads import workload_router
from controlplane.services import Services
from controlplane.settings import Settings


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> FastAPI:
    """Build the app. ``services`` may be injected (tests); otherwise they are built from ``settings``."""
    settings = settings or Settings()
    built = services or Services.from_settings(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        built.close()

    app = FastAPI(title="Suanli control plane", version=__version__, lifespan=lifespan,
                  description="Schedule training jobs and inference services across heterogeneous "
                              "accelerator pools.")
    app.state.services = built
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(workload_router(prefix="/v1/jobs", kind="TrainingJob", tag="jobs"))
    app.include_router(workload_router(prefix="/v1/inference-services", kind="InferenceService",
                                       tag="inference-services"))
    app.include_router(pools.router)
    app.include_router(queues.router)
    app.include_router(events.router)
    app.include_router(checkpoints.router)
    return app
