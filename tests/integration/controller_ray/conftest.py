"""The controller on a real Ray cluster: the session's local cluster (``tests/ray_cluster.py``,
the five virtual nodes of ``deploy/local/cluster.yaml``), a fresh SQLite store per test with
the local pools applied, and helpers to submit jobs and read back what happened.

In-process tests drive a ``Controller`` on the session's ``RayRuntime``; the crash tests run
``controlplane.local.controller_main`` as real processes attached to the same cluster in a
namespace of their own (see ``ControllerProcess``). Every module here is slow (Ray)."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from controlplane.controller.loop import LEASE_NAME
from controlplane.services import Services
from controlplane.services.validation import CatalogValidator
from controlplane.settings import Settings
from controlplane.store import session_scope
from controlplane.store.records import AttemptRecord, IntentRecord, LeaseRecord
from controlplane.store.repositories import AttemptRepository, IntentRepository, JobRepository, LeaseRepository
from controlplane.wire import JobView
from tests.ray_cluster import RaySession, local_ray  # noqa: F401 - the session cluster fixture

REPOSITORY = Path(__file__).resolve().parents[3]
TINY_JOB = REPOSITORY / "jobspecs" / "examples" / "tiny-cpu.yaml"
LOCAL_POOLS = REPOSITORY / "deploy" / "local" / "pools.yaml"
MARKED_TINY_TRAIN = "tests.integration.controller_ray.marked_tiny_train:main"
PROBE = "controlplane.examples.probes:probe"


@pytest.fixture(scope="session")
def validator() -> CatalogValidator:
    return CatalogValidator.default()


@dataclass
class Store:
    """A fresh control-plane store with the local pools applied, and ways to read it."""

    services: Services
    database_url: str
    workdir: Path

    @property
    def sessions(self) -> Any:
        return self.services.context.session_factory

    def submit(self, name: str, *, entrypoint: str = MARKED_TINY_TRAIN, steps: int = 20, devices: int = 4,
               env: dict[str, str] | None = None, max_restarts: int = 3, types: list[str] | None = None,
               checkpoint_tiers: list[str] | None = None, min_data: int | None = None) -> str:
        """Submit the tiny job (by default through the start-marking wrapper), adjusted."""
        document = copy.deepcopy(yaml.safe_load(TINY_JOB.read_text()))
        document["metadata"]["name"] = name
        spec = document["spec"]
        spec["entrypoint"] = {"function": entrypoint, "workingDir": str(REPOSITORY),
                              "env": {"MARKER_DIR": str(self.markers), **(env or {})}}
        spec["totalSteps"] = steps
        spec["maxRestarts"] = max_restarts
        spec["resources"]["accelerators"]["count"] = devices
        spec["parallelism"]["data"] = devices
        spec["checkpoint"]["tiers"] = checkpoint_tiers or ["memory://", f"file://{self.workdir / 'checkpoints' / name}"]
        if types is not None:
            spec["resources"]["accelerators"]["types"] = types
        if min_data is not None:
            spec["parallelism"]["minData"] = min_data
        job, _ = self.services.jobs.submit(document, kind="TrainingJob")
        assert job.metadata.uid is not None
        return job.metadata.uid

    @property
    def markers(self) -> Path:
        return self.workdir / "markers"

    def job(self, uid: str) -> JobView:
        return self.services.jobs.get(kind="TrainingJob", ref=uid, team=None)

    def phase(self, uid: str) -> str:
        with session_scope(self.sessions) as session:
            return JobRepository(session).get(uid).status.value

    def attempts(self, uid: str) -> list[AttemptRecord]:
        with session_scope(self.sessions) as session:
            return AttemptRepository(session).list_for_job(uid)

    def intents(self, uid: str) -> list[IntentRecord]:
        with session_scope(self.sessions) as session:
            return IntentRepository(session).for_job(uid)

    def lease(self) -> LeaseRecord | None:
        with session_scope(self.sessions) as session:
            return LeaseRepository(session).current(LEASE_NAME)

    def step(self, uid: str) -> int:
        attempts = self.attempts(uid)
        return int(attempts[-1].progress.get("step", 0)) if attempts else 0

    def rank_starts(self) -> dict[str, dict[int, list[str]]]:
        """Attempt id -> rank -> one line per start of that rank's process."""
        starts: dict[str, dict[int, list[str]]] = {}
        for marker in sorted(self.markers.glob("*/rank-*")):
            rank = int(marker.name.removeprefix("rank-"))
            starts.setdefault(marker.parent.name, {})[rank] = marker.read_text().splitlines()
        return starts


@pytest.fixture
def store(tmp_path: Path, validator: CatalogValidator) -> Iterator[Store]:
    database_url = f"sqlite:///{tmp_path / 'state.db'}"
    services = Services.from_settings(Settings(database_url=database_url), validator=validator)
    for document in yaml.safe_load_all(LOCAL_POOLS.read_text()):
        services.pools.apply(document, name=document["metadata"]["name"])
    try:
        yield Store(services, database_url, tmp_path)
    finally:
        services.close()


def wait_for(condition: Callable[[], bool], *, what: str, timeout_s: float = 90.0, interval_s: float = 0.2,
             between: Callable[[], object] | None = None) -> None:
    """Poll ``condition`` (calling ``between`` before each poll) until it holds or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if between is not None:
            between()
        if condition():
            return
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


class ControllerProcess:
    """``python -m controlplane.local.controller_main`` attached to the session's cluster."""

    def __init__(self, environment: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        with open(log_path, "ab") as output:
            self.process = subprocess.Popen([sys.executable, "-m", "controlplane.local.controller_main"],
                                            env=environment, stdin=subprocess.DEVNULL, stdout=output,
                                            stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.process.pid

    def holds(self, lease: LeaseRecord | None) -> bool:
        return lease is not None and lease.holder.split(":")[-2] == str(self.pid)

    def kill(self) -> None:
        """SIGKILL: no chance to release the lease or anything else."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(timeout=timeout_s)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class ControllerFactory:
    environment: dict[str, str]
    directory: Path
    started: list[ControllerProcess]

    def start(self) -> ControllerProcess:
        controller = ControllerProcess(self.environment,
                                       self.directory / f"controller-{len(self.started) + 1}.log")
        self.started.append(controller)
        return controller


@pytest.fixture
def controllers(store: Store, local_ray: RaySession) -> Iterator[ControllerFactory]:  # noqa: F811
    """Starts controller processes on the session cluster, in a namespace of their own (so their
    attempts and hub are apart from the session runtime's); kills leftovers after the test and
    stops whatever attempts they left running."""
    namespace = f"suanli-test-{uuid.uuid4().hex[:8]}"
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", "SUANLI_DATABASE_URL": store.database_url,
                   "SUANLI_RAY_ADDRESS": local_ray.cluster.address, "SUANLI_RAY_NAMESPACE": namespace,
                   "SUANLI_LOG_DIR": str(store.workdir / "rank-logs"), "SUANLI_LEASE_TTL_S": "3",
                   "SUANLI_CONTROLLER_INTERVAL_S": "0.3"}
    factory = ControllerFactory(environment, store.workdir, [])
    try:
        yield factory
    finally:
        for controller in factory.started:
            if controller.process.poll() is None:
                controller.kill()
        _stop_namespace(local_ray.cluster.address, namespace)


def _stop_namespace(address: str, namespace: str) -> None:
    """End every attempt left in ``namespace`` (through a runtime in a short-lived process: this
    process's Ray connection belongs to the session runtime's namespace)."""
    script = ("import sys; from controlplane.runtime.ray import RayRuntime; "
              "RayRuntime(address=sys.argv[1], namespace=sys.argv[2]).close()")
    subprocess.run([sys.executable, "-c", script, address, namespace], check=False, timeout=120,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
