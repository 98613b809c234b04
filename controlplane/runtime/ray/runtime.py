"""``RayRuntime``: the ``Runtime`` contract on a real Ray cluster (local, KubeRay, ``ray://``).

An attempt is one gang placement group with one bundle per rank, each bundle pinned by label
selector to the node the placement chose (``suanli.dev/node``, or Ray's node id on nodes
without it) and holding the rank's CPUs and its ``accelerator:<TYPE>`` devices; plus one
``RankHost`` actor per rank in its bundle. Feasibility is checked before anything is submitted
(Ray would leave an infeasible group pending without a word); a group still pending after
``launch_timeout_s`` fails the attempt with Ray's scheduling state as the reason.

Progress is level-triggered: every ``observe`` scans ``ray.nodes()``, collects which ranks
started (``RankHost.where``) and finished (``RankHost.run``), decides the attempt's state,
drains the hub's reports and polls the notice sources. Verdicts:

* a rank whose node is dead (or whose planned node vanished before it started) → ``lost``,
  reason ``"node lost: <node>"``;
* a rank that returned non-zero → ``failed``, reason ``"rank R failed: <error>"`` naming the rank
  that finished first among the failed ones (in a collective, the others fail after it);
* a rank whose actor died while its node stayed alive for ``node_loss_grace_s`` → ``failed``
  (the worker process crashed);
* all ranks returned 0 → ``succeeded`` (``stopped`` if a stop had been requested);
* a stop's grace period over → ``stopped``.

Ending an attempt collects the unfinished ranks' last reports and logs (for at most a second),
kills its actors and removes its placement group. Actors and the hub are owned by this driver:
if the controller process dies, its attempts die with it and the next controller sees them gone.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError
from ray.util.placement_group import PlacementGroup, placement_group, placement_group_table, remove_placement_group
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy, PlacementGroupSchedulingStrategy

from controlplane.domain.errors import ConflictError, NotFoundError
from controlplane.domain.logfiles import rank_log_path
from controlplane.runtime.cluster_definition import DEFAULT_CLUSTER_FILE, ClusterDefinition, accelerator_resource
from controlplane.runtime.events import EventLog
from controlplane.runtime.nodes import observe_labelled_node
from controlplane.runtime.notices import NoticeBoard, NoticeSource
from controlplane.runtime.ray.actors import Hub, RankHost, RankOutcome, RankPayload, RankWhereabouts
from controlplane.runtime.ray.local_cluster import LocalRayCluster
from controlplane.runtime.ray.scan import ClusterScan, scan_cluster
from controlplane.runtime.types import (
    TERMINAL_STATES,
    AttemptObservation,
    AttemptState,
    Cursor,
    LaunchSpec,
    NodeObservation,
    Notice,
    NoticeKind,
    Observation,
    RankObservation,
)
from controlplane.runtime.validation import check_placement, check_spec_shape, is_repeat_launch

LOG_TAIL_LINES = 20
KEPT_LOG_LINES = 2_000
FINAL_LOGS_TIMEOUT_S = 1.0
HUB_TIMEOUT_S = 30.0


@dataclass(slots=True)
class _Rank:
    planned_node: str
    node: str
    ray_node_id: str | None = None
    started: bool = False
    done: bool = False
    exit_code: int | None = None
    error: str | None = None
    log: tuple[str, ...] = ()
    finished_at: float | None = None
    died_at: float | None = None


@dataclass(slots=True)
class _Attempt:
    spec: LaunchSpec
    group: PlacementGroup
    hosts: list[Any]
    ranks: list[_Rank]
    launched_at: float
    where_refs: dict[Any, int] = field(default_factory=dict)
    run_refs: dict[Any, int] = field(default_factory=dict)
    state: AttemptState = "launching"
    started_at: float | None = None
    ended_at: float | None = None
    reason: str | None = None
    stop_requested: bool = False
    stop_deadline: float | None = None


class RayRuntime:
    """Runs attempts on the Ray cluster at ``address``; see the module docstring.

    ``address`` is anything ``ray.init`` accepts (``"10.0.0.1:6379"``, ``"ray://head:10001"``,
    ``"auto"``); ``RayRuntime.start_local()`` starts a local cluster first. If this process is
    already connected to Ray, that connection is used and left open by ``close``.
    ``devices_as_gpus`` also requests each rank's devices as Ray GPUs, so Ray sets
    ``CUDA_VISIBLE_DEVICES`` on clusters with real NVIDIA or AMD accelerators. Each rank writes
    its whole output to ``log_dir/<attempt>/rank-<r>.log`` on its node (default: ``suanli-logs``
    in the temporary directory).
    """

    def __init__(self, address: str = "auto", *, namespace: str = "suanli", rank_cpus: float = 0.25,
                 devices_as_gpus: bool = False, launch_timeout_s: float = 120.0, node_loss_grace_s: float = 15.0,
                 log_dir: str | Path | None = None, notice_sources: Sequence[NoticeSource] = ()) -> None:
        self._owns_connection = not ray.is_initialized()
        if self._owns_connection:
            ray.init(address=address, namespace=namespace, log_to_driver=False)
        self._local_cluster: LocalRayCluster | None = None
        self._rank_cpus = rank_cpus
        self._devices_as_gpus = devices_as_gpus
        self._launch_timeout_s = launch_timeout_s
        self._node_loss_grace_s = node_loss_grace_s
        self._log_dir = Path(log_dir) if log_dir is not None else Path(tempfile.gettempdir()) / "suanli-logs"
        self._board = NoticeBoard()
        self._notice_sources: list[NoticeSource] = [self._board, *notice_sources]
        self._attempts: dict[str, _Attempt] = {}
        self._by_request: dict[str, LaunchSpec] = {}
        self._by_attempt: dict[str, LaunchSpec] = {}
        self._cordoned: set[str] = set()
        self._events = EventLog()
        driver_node = ray.get_runtime_context().get_node_id()
        self._hub: Any = ray.remote(Hub).options(
            num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=driver_node, soft=True),
        ).remote()
        self._host_class: Any = ray.remote(RankHost)

    @classmethod
    def start_local(cls, definition: ClusterDefinition | str | Path = DEFAULT_CLUSTER_FILE,
                    **options: Any) -> RayRuntime:
        """Start a ``LocalRayCluster`` from ``definition`` and a runtime on it; ``close`` stops both."""
        if ray.is_initialized():
            raise ConflictError("this process is already connected to a Ray cluster",
                                hint="close the other runtime first, or use RayRuntime(address=...)")
        cluster = LocalRayCluster.start(definition)
        try:
            runtime = cls(address=cluster.address, **options)
        except BaseException:
            cluster.shutdown()
            raise
        runtime._local_cluster = cluster
        return runtime

    @property
    def local_cluster(self) -> LocalRayCluster | None:
        """The local cluster ``start_local`` started, if any."""
        return self._local_cluster

    # -- the Runtime protocol -------------------------------------------------------------

    def now(self) -> float:
        return time.time()

    def observe(self, since: Cursor | None = None) -> Observation:
        scan = scan_cluster()
        for attempt in self._attempts.values():
            if attempt.state not in TERMINAL_STATES:
                self._poll(attempt, scan)
        self._events.extend(ray.get(self._hub.drain.remote(), timeout=HUB_TIMEOUT_S))
        for source in self._notice_sources:
            self._events.extend(list(source.poll()))
        batch = self._events.read(since)
        return Observation(time=self.now(), nodes=self._node_observations(scan),
                           attempts=tuple(self._attempt_observation(a) for a in self._attempts.values()),
                           step_reports=batch.step_reports, checkpoint_commits=batch.checkpoint_commits,
                           notices=batch.notices, cursor=batch.cursor)

    def launch(self, spec: LaunchSpec) -> None:
        check_spec_shape(spec)
        if is_repeat_launch(spec, self._by_request, self._by_attempt):
            return
        scan = scan_cluster()
        nodes = {node.name: node for node in self._node_observations(scan)}
        check_placement(spec, nodes)
        bundles: list[dict[str, float]] = []
        for rank in spec.ranks:
            bundle = {"CPU": self._rank_cpus}
            if rank.devices:
                bundle[accelerator_resource(nodes[rank.node].accelerator)] = float(rank.devices)
                if self._devices_as_gpus:
                    bundle["GPU"] = float(rank.devices)
            bundles.append(bundle)
        group = placement_group(bundles, strategy="PACK", name=f"suanli-{spec.attempt_id}",
                                bundle_label_selector=[scan.nodes[rank.node].selector for rank in spec.ranks])
        attempt = _Attempt(spec=spec, group=group, hosts=[], launched_at=self.now(),
                           ranks=[_Rank(planned_node=rank.node, node=rank.node) for rank in spec.ranks])
        for index, bundle in enumerate(bundles):
            resources = {name: amount for name, amount in bundle.items() if name not in ("CPU", "GPU")}
            host = self._host_class.options(
                num_cpus=self._rank_cpus, num_gpus=bundle.get("GPU", 0), resources=resources, max_concurrency=8,
                max_restarts=0,
                scheduling_strategy=PlacementGroupSchedulingStrategy(group, placement_group_bundle_index=index),
            ).remote(self._hub)
            attempt.hosts.append(host)
            attempt.where_refs[host.where.remote()] = index
            payload = RankPayload(spec=spec, rank=index, log_path=str(self.log_file(spec.attempt_id, index)),
                                  rendezvous_timeout_s=self._launch_timeout_s, kept_log_lines=KEPT_LOG_LINES)
            attempt.run_refs[host.run.remote(payload)] = index
        self._attempts[spec.attempt_id] = attempt
        self._by_request[spec.request_id] = spec
        self._by_attempt[spec.attempt_id] = spec

    def stop(self, attempt_id: str, *, grace_s: float | None = None) -> None:
        attempt = self._attempts.get(attempt_id)
        if attempt is None or attempt.state in TERMINAL_STATES:
            return
        attempt.stop_requested = True
        if grace_s is None or attempt.state == "launching":
            self._finish(attempt, "stopped", "stopped on request")
            return
        deadline = self.now() + max(0.0, grace_s)
        if attempt.stop_deadline is not None and attempt.stop_deadline <= deadline:
            return
        attempt.stop_deadline = deadline
        attempt.state = "stopping"
        for host, rank in zip(attempt.hosts, attempt.ranks, strict=True):
            if not rank.done:
                host.request_stop.remote()

    def request_checkpoint(self, attempt_id: str) -> None:
        attempt = self._attempts.get(attempt_id)
        if attempt is None or attempt.state in TERMINAL_STATES:
            return
        for host, rank in zip(attempt.hosts, attempt.ranks, strict=True):
            if not rank.done:
                host.request_checkpoint.remote()

    def cordon(self, node: str) -> None:
        self._require_node(node)
        self._cordoned.add(node)

    def uncordon(self, node: str) -> None:
        self._require_node(node)
        self._cordoned.discard(node)

    def forget(self, attempt_id: str) -> None:
        attempt = self._attempts.get(attempt_id)
        if attempt is not None and attempt.state in TERMINAL_STATES:
            del self._attempts[attempt_id]

    def logs(self, attempt_id: str, rank: int) -> list[str]:
        attempt = self._attempts.get(attempt_id)
        if attempt is None or not 0 <= rank < len(attempt.ranks):
            raise NotFoundError(f"no rank {rank} of attempt {attempt_id!r}")
        state = attempt.ranks[rank]
        if state.done or attempt.state in TERMINAL_STATES:
            return list(state.log)
        try:
            lines: list[str] = ray.get(attempt.hosts[rank].logs.remote(), timeout=10)
        except (RayActorError, GetTimeoutError):
            return list(state.log)
        return lines

    def post_notice(self, node: str, *, deadline: float, kind: NoticeKind = "preemption",
                    source: str = "manual") -> None:
        """Publish a notice through the runtime (the next ``observe`` delivers it)."""
        self._board.post(Notice(node, kind, deadline, source))

    def close(self) -> None:
        for attempt in self._attempts.values():
            if attempt.state not in TERMINAL_STATES:
                self._finish(attempt, "stopped", "runtime closed", fetch_logs=False)
        ray.kill(self._hub)
        if self._owns_connection:
            ray.shutdown()
        if self._local_cluster is not None:
            self._local_cluster.shutdown()
            self._local_cluster = None

    # -- deciding an attempt's state -------------------------------------------------------

    def _poll(self, attempt: _Attempt, scan: ClusterScan) -> None:
        now = self.now()
        self._collect_whereabouts(attempt, scan)
        self._collect_outcomes(attempt, now)
        if attempt.state == "launching" and all(rank.started for rank in attempt.ranks):
            attempt.state = "running"
            attempt.started_at = now
        lost = self._lost_node(attempt, scan)
        if lost is not None:
            self._finish(attempt, "lost", f"node lost: {lost}")
            return
        failed = [(rank.finished_at or now, index) for index, rank in enumerate(attempt.ranks)
                  if rank.done and rank.exit_code != 0]
        crashed = [index for index, rank in enumerate(attempt.ranks)
                   if rank.died_at is not None and now - rank.died_at >= self._node_loss_grace_s]
        if failed:
            first = attempt.ranks[min(failed)[1]]
            self._finish(attempt, "failed", f"rank {min(failed)[1]} failed: {first.error or 'non-zero exit'}")
        elif crashed:
            self._finish(attempt, "failed", f"rank {crashed[0]} failed: {attempt.ranks[crashed[0]].error}")
        elif all(rank.done for rank in attempt.ranks):
            self._finish(attempt, "stopped" if attempt.stop_requested else "succeeded",
                         "stopped on request" if attempt.stop_requested else None)
        elif attempt.stop_deadline is not None and now >= attempt.stop_deadline:
            self._finish(attempt, "stopped", "stopped on request (grace period over)")
        elif attempt.state == "launching" and now - attempt.launched_at > self._launch_timeout_s:
            self._finish(attempt, "failed", f"not placed within {self._launch_timeout_s:.0f}s "
                                            f"(placement group {self._group_state(attempt)})")

    def _collect_whereabouts(self, attempt: _Attempt, scan: ClusterScan) -> None:
        if not attempt.where_refs:
            return
        ready, _ = ray.wait(list(attempt.where_refs), num_returns=len(attempt.where_refs), timeout=0)
        for reference in ready:
            index = attempt.where_refs.pop(reference)
            rank = attempt.ranks[index]
            try:
                where: RankWhereabouts = ray.get(reference)
            except RayActorError as error:
                rank.died_at = rank.died_at or self.now()
                rank.error = rank.error or _first_line(error)
                continue
            rank.started = True
            rank.ray_node_id = where.ray_node_id
            rank.node = scan.names_by_id.get(where.ray_node_id, where.node_name)

    def _collect_outcomes(self, attempt: _Attempt, now: float) -> None:
        if not attempt.run_refs:
            return
        ready, _ = ray.wait(list(attempt.run_refs), num_returns=len(attempt.run_refs), timeout=0)
        for reference in ready:
            index = attempt.run_refs.pop(reference)
            rank = attempt.ranks[index]
            try:
                outcome: RankOutcome = ray.get(reference)
            except RayActorError as error:
                rank.died_at = rank.died_at or now
                rank.error = f"worker process died: {_first_line(error)}"
                continue
            except Exception as error:  # a bug in the host itself; fail the rank, keep the runtime alive
                outcome = RankOutcome(1, f"rank host error: {_first_line(error)}", (), now)
            rank.done = True
            rank.started = True
            rank.exit_code = outcome.exit_code
            rank.error = outcome.error
            rank.log = outcome.log
            rank.finished_at = outcome.finished_at

    def _lost_node(self, attempt: _Attempt, scan: ClusterScan) -> str | None:
        for rank in attempt.ranks:
            if rank.done:
                continue
            if rank.ray_node_id is not None:
                if rank.ray_node_id not in scan.alive_ids:
                    return rank.node
            elif not scan.node_alive(rank.planned_node):
                return rank.planned_node
        return None

    def _group_state(self, attempt: _Attempt) -> str:
        try:
            table = placement_group_table(attempt.group)
        except Exception:  # the group may be gone already; the reason is then unknown
            return "state unknown"
        scheduling = (table.get("stats") or {}).get("scheduling_state", "")
        return f"{table.get('state', 'UNKNOWN')} {scheduling}".strip()

    def _finish(self, attempt: _Attempt, state: AttemptState, reason: str | None, *, fetch_logs: bool = True) -> None:
        attempt.state = state
        attempt.reason = reason
        attempt.ended_at = self.now()
        unfinished = [index for index, rank in enumerate(attempt.ranks) if not rank.done]
        if fetch_logs and unfinished:
            self._fetch_final_logs(attempt, unfinished)
        for host in attempt.hosts:
            ray.kill(host, no_restart=True)
        remove_placement_group(attempt.group)
        self._hub.forget.remote(attempt.spec.attempt_id)
        attempt.where_refs.clear()
        attempt.run_refs.clear()

    def _fetch_final_logs(self, attempt: _Attempt, ranks: list[int]) -> None:
        references = {attempt.hosts[index].wind_down.remote(): index for index in ranks
                      if attempt.ranks[index].started and attempt.ranks[index].died_at is None}
        if not references:
            return
        ready, _ = ray.wait(list(references), num_returns=len(references), timeout=FINAL_LOGS_TIMEOUT_S)
        for reference in ready:
            try:
                attempt.ranks[references[reference]].log = tuple(ray.get(reference)[-KEPT_LOG_LINES:])
            except RayActorError:
                continue

    # -- observations ----------------------------------------------------------------------

    def _require_node(self, node: str) -> None:
        names = scan_cluster().nodes
        if node not in names:
            raise NotFoundError(f"no node named {node!r}", hint=f"nodes: {', '.join(sorted(names))}")

    def _devices_in_use(self) -> dict[str, int]:
        in_use: dict[str, int] = {}
        for attempt in self._attempts.values():
            if attempt.state in TERMINAL_STATES:
                continue
            for node, devices in attempt.spec.devices_by_node().items():
                in_use[node] = in_use.get(node, 0) + devices
        return in_use

    def _node_observations(self, scan: ClusterScan) -> tuple[NodeObservation, ...]:
        in_use = self._devices_in_use()
        return tuple(observe_labelled_node(node.labels, fallback_name=node.ray_node_id, devices=node.devices,
                                           alive=node.alive, cordoned=name in self._cordoned,
                                           devices_in_use=in_use.get(name, 0))
                     for name, node in sorted(scan.nodes.items()))

    def _attempt_observation(self, attempt: _Attempt) -> AttemptObservation:
        terminal = attempt.state in TERMINAL_STATES
        ranks = tuple(RankObservation(rank=index, node=rank.node,
                                      alive=rank.started and not rank.done and rank.died_at is None and not terminal,
                                      exit_code=rank.exit_code, error=rank.error,
                                      log_tail=rank.log[-LOG_TAIL_LINES:])
                      for index, rank in enumerate(attempt.ranks))
        return AttemptObservation(attempt_id=attempt.spec.attempt_id, request_id=attempt.spec.request_id,
                                  job_id=attempt.spec.job_id, state=attempt.state, ranks=ranks,
                                  reason=attempt.reason, started_at=attempt.started_at, ended_at=attempt.ended_at)

    def log_file(self, attempt_id: str, rank: int) -> Path:
        """Where the rank writes its whole output, on the rank's node (``logs`` keeps the tail)."""
        return rank_log_path(self._log_dir, attempt_id, rank)


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
