"""The state file of a running embedded control plane: ``<state dir>/up.json``.

The stack process writes it (atomically) once it is healthy: the API answers and its controller
holds the lease. It rewrites it when the controller is restarted and removes it on a clean
exit. The CLI reads it to tell whether a stack is up (``suanli up`` says so, ``suanli down``
signals the pid; ``suanli local`` finds the local cloud and the object store there). Plain JSON,
camelCase top-level keys (nested values are kept as written); no dependency beyond the standard
library, so the CLI can read it without importing the control plane. Readers ignore keys they do
not know, and keys added later have defaults, so older and newer files both load.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATE_FILE_NAME = "up.json"
STACK_LOG_NAME = "stack.log"
CONTROLLER_LOG_NAME = "controller.log"
STACK_MODULE = "controlplane.local.stack"
CONTROLLER_MODULE = "controlplane.local.controller_main"


def state_file(state_dir: Path) -> Path:
    return Path(state_dir) / STATE_FILE_NAME


@dataclass(frozen=True)
class ClusterNode:
    name: str
    pool: str
    accelerator: str
    devices: int
    provider: str | None = None
    """``aws``, ``gcp``, ``azure``, ``on-prem``, ... (None in state files written before it was kept)."""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClusterNode:
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in data.items() if key in known})


@dataclass(frozen=True)
class StackState:
    """What ``up.json`` holds."""

    pid: int
    url: str
    ray_address: str
    ray_namespace: str
    owns_cluster: bool
    database_url: str
    controller_pid: int | None
    controller_holder: str | None
    controller_restarts: int
    stack_log: str
    controller_log: str
    rank_log_dir: str
    started_at: str
    cluster_name: str | None = None
    ray_temp_dir: str | None = None
    ray_environment: dict[str, str] = field(default_factory=dict)
    """Environment a process needs to attach to the cluster (the local cluster's light settings)."""
    nodes: tuple[ClusterNode, ...] = field(default_factory=tuple)
    object_store: dict[str, Any] | None = None
    """The local S3 server for checkpoints: ``{"endpoint", "bucket", "url", "storageOptions", "dataDir"}``
    (``storageOptions`` are the s3fs options the controller hands to the ranks); None without one."""
    cloud_url: str | None = None
    """The local cloud's control server (``controlplane.local.cloud``); None without a local cloud."""
    metadata: dict[str, dict[str, str]] = field(default_factory=dict)
    """Each cloud node's metadata endpoint: ``{node: {"cloud": "aws", "url": "http://127.0.0.1:port"}}``."""

    @property
    def pools(self) -> list[str]:
        return list(dict.fromkeys(node.pool for node in self.nodes))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["nodes"] = [asdict(node) for node in self.nodes]
        return {_camel(key): value for key, value in data.items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StackState:
        values = {_snake(key): value for key, value in data.items()}
        values["nodes"] = tuple(ClusterNode.from_json(node) for node in values.get("nodes") or ())
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in values.items() if key in known})


def write_state(path: Path, state: StackState) -> None:
    """Replace the state file atomically (readers never see half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(".json.tmp")
    scratch.write_text(json.dumps(state.to_json(), indent=2) + "\n", encoding="utf-8")
    os.replace(scratch, path)


def read_state(path: Path) -> StackState | None:
    """The state in ``path``; ``None`` if there is none (or it is unreadable)."""
    try:
        return StackState.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def remove_state(path: Path, *, pid: int | None = None) -> None:
    """Remove the state file (only if it names ``pid``, when given)."""
    if pid is not None:
        current = read_state(path)
        if current is not None and current.pid != pid:
            return
    path.unlink(missing_ok=True)


def process_alive(pid: int, *, command_contains: str | None = None) -> bool:
    """Whether ``pid`` runs (not a zombie) and, if given, its command line contains the text
    (a guard against a recycled pid)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path("/proc") / str(pid)
    if not proc.exists():
        return True  # no procfs: trust the signal check
    try:
        status = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (OSError, IndexError):
        return False
    if status == "Z":
        return False
    return command_contains is None or command_contains in command


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _snake(name: str) -> str:
    return "".join(f"_{char.lower()}" if char.isupper() else char for char in name)
