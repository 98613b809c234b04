"""A control plane over a fresh SQLite file, a simulated heterogeneous cluster (the nodes of
``deploy/local/cluster.yaml``), and controllers to drive them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from controlplane.controller.loop import Controller
from controlplane.runtime.cluster_definition import load_cluster_definition
from controlplane.runtime.sim import SimRuntime
from controlplane.runtime.sim.workload import SimFailure, SimWorkload
from controlplane.runtime.types import LaunchSpec
from controlplane.services import Services
from controlplane.services.validation import CatalogValidator
from controlplane.settings import Settings

REPOSITORY = Path(__file__).resolve().parents[3]
EXAMPLES = REPOSITORY / "jobspecs" / "examples"


@dataclass
class Workloads:
    """How simulated attempts behave; tests change it before ticking."""

    step_seconds: float = 1.0
    failures: dict[int, SimFailure] | None = None  # attempt number -> failure
    model: Callable[[LaunchSpec], SimWorkload] | None = None  # replaces the rules above when set

    def __call__(self, spec: LaunchSpec) -> SimWorkload:
        if self.model is not None:
            return self.model(spec)
        number = int(spec.request_id.rsplit("-", 1)[-1])
        failure = (self.failures or {}).get(number)
        return SimWorkload(step_seconds=self.step_seconds, total_steps=int(spec.env["SUANLI_TOTAL_STEPS"]),
                           tokens_per_step=256, failure=failure)


@dataclass
class ControlPlane:
    services: Services
    runtime: SimRuntime
    workloads: Workloads

    def controller(self, **kwargs: object) -> Controller:
        return Controller(self.services.context.session_factory, self.runtime, wall_clock=time.time,
                          **kwargs)  # type: ignore[arg-type]

    def submit(self, name: str = "tiny-cpu", **spec: object) -> str:
        document = yaml.safe_load((EXAMPLES / "tiny-cpu.yaml").read_text())
        document["metadata"]["name"] = name
        document["spec"].update(spec)
        job, _ = self.services.jobs.submit(document, kind="TrainingJob")
        assert job.metadata.uid is not None
        return job.metadata.uid

    def job(self, uid: str):
        return self.services.jobs.get(kind="TrainingJob", ref=uid, team=None)

    def events(self, uid: str) -> list[str]:
        return [e.type for e in self.services.events.list(job_id=uid, limit=500).items]


@pytest.fixture(scope="session")
def validator() -> CatalogValidator:
    return CatalogValidator.default()


@pytest.fixture
def control_plane(tmp_path: Path, validator: CatalogValidator) -> Iterator[ControlPlane]:
    services = Services.from_settings(Settings(database_url=f"sqlite:///{tmp_path / 'state.db'}"),
                                      validator=validator)
    for document in yaml.safe_load_all((REPOSITORY / "deploy" / "local" / "pools.yaml").read_text()):
        services.pools.apply(document, name=document["metadata"]["name"])
    workloads = Workloads()
    runtime = SimRuntime(load_cluster_definition(), workload=workloads)
    yield ControlPlane(services, runtime, workloads)
    runtime.close()
    services.close()


def run_until(controller: Controller, runtime: SimRuntime, done: Callable[[], bool], *, step_s: float = 1.0,
              max_ticks: int = 400) -> None:
    for _ in range(max_ticks):
        controller.tick()
        if done():
            return
        runtime.advance(step_s)
    raise AssertionError("condition not reached")
