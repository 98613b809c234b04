"""FastAPI dependencies: hand each router the services built by ``create_app``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from controlplane.services import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
