"""What every service needs, built once by the composition root and injected."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from controlplane.services.validation import CatalogValidator
from controlplane.settings import Settings


@dataclass(frozen=True)
class ServiceContext:
    settings: Settings
    session_factory: sessionmaker[Session]
    validator: CatalogValidator
