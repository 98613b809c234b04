"""What the contract suite needs from each runtime, behind one small interface.

A harness owns the observation cursor (so every event a test's attempts produce is collected
exactly once into ``reports``/``commits``/``notices``), knows how to wait (advance the
virtual clock, or poll the real cluster), how to lose and restore a node, and builds launch
specs for ``controlplane.examples.probes:probe``. ``SimHarness`` maps the same probe knobs onto
a ``SimWorkload``, so one test text drives both runtimes.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import replace

from controlplane.runtime import (
    AttemptObservation,
    CheckpointCommit,
    LaunchSpec,
    Notice,
    Observation,
    RankSpec,
    Runtime,
    StepReport,
)
from controlplane.runtime.cluster_definition import ClusterDefinition
from controlplane.runtime.ray import LocalRayCluster, RayRuntime
from controlplane.runtime.sim import SimFailure, SimRuntime, SimWorkload

PROBE = "controlplane.examples.probes:probe"
_counter = itertools.count()


def probe_workload(spec: LaunchSpec) -> SimWorkload:
    """The ``SimWorkload`` that behaves like ``probe`` with the spec's ``PROBE_*`` knobs."""
    env = spec.env
    steps = int(env.get("PROBE_STEPS", "3"))
    failure = None
    if "PROBE_FAIL_RANK" in env:
        rank, at_step = int(env["PROBE_FAIL_RANK"]), int(env.get("PROBE_FAIL_AT_STEP", "1"))
        failure = SimFailure(rank=rank, at_step=at_step,
                             message=f"RuntimeError: probe failure on rank {rank} at step {at_step}")
    return SimWorkload(step_seconds=float(env.get("PROBE_STEP_DELAY_S", "0.05")),
                       total_steps=steps or None, startup_seconds=0.5,
                       tokens_per_step=int(env.get("PROBE_TOKENS", "1024")), failure=failure,
                       honours_stop=env.get("PROBE_IGNORE_STOP") != "1")


class RuntimeHarness:
    """Common behaviour; subclasses provide the runtime, waiting and node loss."""

    name: str
    runtime: Runtime
    definition: ClusterDefinition
    timeout_s: float

    def __init__(self) -> None:
        self.cursor: int | None = None
        self.reports: list[StepReport] = []
        self.commits: list[CheckpointCommit] = []
        self.notices: list[Notice] = []
        self.launched: set[str] = set()

    # -- building specs --------------------------------------------------------------------

    def spec(self, nodes: list[str], *, steps: int = 3, delay_s: float = 0.05, fail_rank: int | None = None,
             fail_at_step: int = 1, ignore_stop: bool = False, devices: int = 1,
             attempt_id: str | None = None, request_id: str | None = None) -> LaunchSpec:
        """A probe attempt with rank ``i`` on ``nodes[i]``."""
        unique = f"{self.name}-{next(_counter)}-{uuid.uuid4().hex[:6]}"
        env = {"PROBE_STEPS": str(steps), "PROBE_STEP_DELAY_S": str(delay_s)}
        if fail_rank is not None:
            env.update(PROBE_FAIL_RANK=str(fail_rank), PROBE_FAIL_AT_STEP=str(fail_at_step))
        if ignore_stop:
            env["PROBE_IGNORE_STOP"] = "1"
        local_ranks: dict[str, int] = {}
        ranks = []
        for rank, node in enumerate(nodes):
            local_rank = local_ranks.get(node, 0)
            local_ranks[node] = local_rank + 1
            ranks.append(RankSpec(rank=rank, node=node, local_rank=local_rank, coordinates={"dp": rank},
                                  devices=devices))
        return LaunchSpec(attempt_id=attempt_id or f"attempt-{unique}", request_id=request_id or f"request-{unique}",
                          job_id="contract-job", entrypoint=PROBE, ranks=tuple(ranks), env=env,
                          checkpoint_uri=f"file:///tmp/suanli-contract/{unique}", parallelism={"dp": len(nodes)})

    def nodes_of_pool(self, pool: str) -> list[str]:
        return [node.name for node in self.definition.nodes if node.pool == pool]

    @property
    def two_pools(self) -> list[str]:
        """One node in each of two different pools."""
        return [self.definition.nodes[0].name,
                next(node.name for node in self.definition.nodes if node.pool != self.definition.nodes[0].pool)]

    # -- acting ----------------------------------------------------------------------------

    def launch(self, spec: LaunchSpec) -> None:
        self.runtime.launch(spec)
        self.launched.add(spec.attempt_id)

    def observe(self) -> Observation:
        observation = self.runtime.observe(self.cursor)
        self.cursor = observation.cursor
        self.reports.extend(report for report in observation.step_reports if report.attempt_id in self.launched)
        self.commits.extend(commit for commit in observation.checkpoint_commits if commit.attempt_id in self.launched)
        self.notices.extend(observation.notices)
        return observation

    def attempt(self, attempt_id: str) -> AttemptObservation:
        found = self.observe().attempt(attempt_id)
        assert found is not None, f"{attempt_id} is not observed"
        return found

    def wait_until(self, predicate: Callable[[Observation], bool], what: str) -> Observation:
        raise NotImplementedError

    def wait_for_state(self, attempt_id: str, *states: str) -> AttemptObservation:
        def reached(observation: Observation) -> bool:
            attempt = observation.attempt(attempt_id)
            return attempt is not None and attempt.state in states

        found = self.wait_until(reached, f"{attempt_id} to be {' or '.join(states)}").attempt(attempt_id)
        assert found is not None
        return found

    def wait_for_reports(self, attempt_id: str, count: int) -> None:
        self.wait_until(lambda _: sum(r.attempt_id == attempt_id for r in self.reports) >= count,
                        f"{count} step reports of {attempt_id}")

    def reports_of(self, attempt_id: str) -> list[StepReport]:
        return [report for report in self.reports if report.attempt_id == attempt_id]

    def lose_node(self, name: str) -> None:
        raise NotImplementedError

    def restore_node(self, name: str) -> None:
        raise NotImplementedError

    def post_notice(self, notice: Notice) -> None:
        raise NotImplementedError


class SimHarness(RuntimeHarness):
    name = "sim"
    timeout_s = 600.0  # virtual seconds

    def __init__(self, definition: ClusterDefinition) -> None:
        super().__init__()
        self.definition = definition
        self.sim = SimRuntime(definition, workload=probe_workload, start_time=1_000.0)
        self.runtime = self.sim

    def wait_until(self, predicate: Callable[[Observation], bool], what: str) -> Observation:
        deadline = self.sim.now() + self.timeout_s
        while True:
            observation = self.observe()
            if predicate(observation):
                return observation
            if self.sim.now() >= deadline:
                raise AssertionError(f"timed out waiting for {what}")
            self.sim.advance(0.05)

    def lose_node(self, name: str) -> None:
        self.sim.lose_node(name)

    def restore_node(self, name: str) -> None:
        self.sim.restore_node(name)

    def post_notice(self, notice: Notice) -> None:
        self.sim.post_notice(notice.node, deadline=notice.deadline, kind=notice.kind, source=notice.source)


class RayHarness(RuntimeHarness):
    name = "ray"
    timeout_s = 60.0

    def __init__(self, cluster: LocalRayCluster, runtime: RayRuntime) -> None:
        super().__init__()
        self.definition = cluster.definition
        self.cluster = cluster
        self.ray = runtime
        self.runtime = runtime

    def wait_until(self, predicate: Callable[[Observation], bool], what: str) -> Observation:
        deadline = time.monotonic() + self.timeout_s
        while True:
            observation = self.observe()
            if predicate(observation):
                return observation
            if time.monotonic() >= deadline:
                raise AssertionError(f"timed out after {self.timeout_s:.0f}s waiting for {what}")
            time.sleep(0.1)

    def lose_node(self, name: str) -> None:
        self.cluster.remove_node(name)

    def restore_node(self, name: str) -> None:
        self.cluster.restore_node(name)

    def post_notice(self, notice: Notice) -> None:
        self.ray.post_notice(notice.node, deadline=notice.deadline, kind=notice.kind, source=notice.source)


def with_env(spec: LaunchSpec, **env: str) -> LaunchSpec:
    return replace(spec, env={**spec.env, **env})
