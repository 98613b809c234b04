"""The one settings object of a control-plane process.

Built once at start-up (``Settings()`` reads ``SUANLI_*`` environment variables) and passed down
explicitly; nothing else in the code base reads the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    ray_address: str | None = Field(default=None,
                                    description="Ray cluster to attach to (host:port or ray://...); None: "
                                                "`suanli up` starts the local cluster of cluster_file")
    ray_namespace: str = Field(default="suanli",
                               description="Ray namespace of this control plane's attempts (one per control plane "
                                           "sharing a cluster)")
    cluster_file: Path = Field(default_factory=lambda: _default_cluster_file(),
                               description="the LocalCluster definition `suanli up` starts")
    controller_interval_s: float = Field(default=1.0, gt=0, description="seconds between reconcile ticks")
    lease_ttl_s: float = Field(default=15.0, gt=0,
                               description="the controller lease lapses this long after its holder stops "
                                           "renewing it (a killed controller's successor waits this long)")
    state_dir: Path = Field(default_factory=lambda: data_dir() / "run",
                            description="`suanli up` keeps its state file (up.json) and process logs here")
    local_object_store: bool = Field(default=True,
                                     description="`suanli up` also runs a local S3 server (SeaweedFS) for checkpoints "
                                                 "when it starts the local cluster and `weed` is installed")
    checkpoint_storage_options: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="fsspec options per URL scheme for checkpoint storage, e.g. "
                                          '{"s3": {"key": ..., "client_kwargs": {"endpoint_url": ...}}} (JSON in '
                                          "SUANLI_CHECKPOINT_STORAGE_OPTIONS)")
    notice_sources: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="cloud metadata endpoints the controller's notice agents poll, by node: "
                                          '{"aws-h100-0": {"cloud": "aws", "baseUrl": "http://..."}} (JSON in '
                                          "SUANLI_NOTICE_SOURCES)")


def _default_cluster_file() -> Path:
    from controlplane.runtime.cluster_definition import DEFAULT_CLUSTER_FILE

    return DEFAULT_CLUSTER_FILE
