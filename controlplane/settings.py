"""The one settings object of a control-plane process.

Built once at start-up (``Settings()`` reads ``SUANLI_*`` environment variables) and passed down
explicitly; nothing else in the code base reads the environment.
"""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_data_dir
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def data_dir() -> Path:
    """``<user data dir>/suanli``: where the embedded control plane keeps its state."""
    return Path(user_data_dir("suanli", appauthor=False))


def default_database_url() -> str:
    """``sqlite:///<user data dir>/suanli/state.db``: the embedded default store."""
    return f"sqlite:///{data_dir() / 'state.db'}"


class Settings(BaseSettings):
    """Configuration of the server and controller processes."""

    model_config = SettingsConfigDict(env_prefix="SUANLI_", extra="ignore")

    database_url: str = Field(default_factory=default_database_url,
                              description="SQLAlchemy URL; postgresql+psycopg://... in production")
    host: str = "127.0.0.1"
    port: int = 8080
    page_size_default: int = 50
    page_size_max: int = 500
    log_level: str = "info"
    log_dir: Path = Field(default_factory=lambda: data_dir() / "logs",
                          description="where ranks write their output: <log_dir>/<attempt>/rank-<r>.log")
