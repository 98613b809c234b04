"""The API under test: a real app over a fresh SQLite file, driven in-process through ASGI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from controlplane.api.app import create_app
from controlplane.services import Services
from controlplane.services.validation import CatalogValidator
from controlplane.settings import Settings


@pytest.fixture(scope="session")
def catalog_validator() -> CatalogValidator:
    return CatalogValidator.default()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path / 'state.db'}", page_size_default=50,
                    log_dir=tmp_path / "logs")


@pytest.fixture
def api(settings: Settings, catalog_validator: CatalogValidator) -> Iterator[TestClient]:
    services = Services.from_settings(settings, validator=catalog_validator)
    with TestClient(create_app(settings, services=services), raise_server_exceptions=False) as client:
        yield client
