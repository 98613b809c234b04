"""``RayRuntime``: the ``Runtime`` contract on a real Ray cluster (local, KubeRay, ``ray://``).

An attempt is one gang placement group with one bundle per rank, each bundle pinned by label
selector to the node the placement chose (``suanli.dev/node``, or Ray's node id on nodes
without it) and holding the rank's CPUs and its ``accelerator:<TYPE>`` devices; plus one
``RankHost`` actor per rank in its bundle. Feasibility is checked before anything is submitted
(Ray would leave an infeasible group pending without a word); a group still pending after
``launch_timeout_s`` fails the attempt with Ray's scheduling state as the reason.

Progress is level-triggered: every ``observe`` scans ``ray.nodes()``, collects which ranks
started (``RankHost.where``) and finished (``RankHost.result``), decides the attempt's state,
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
records the verdict at the hub, then kills its actors and removes its placement group.

Attempts outlive the controller process
---------------------------------------
The placement group (``suanli-<attempt>``), the rank actors (``suanli-<attempt>-rank-<r>``) and
the ``Hub`` are named and detached in the runtime's Ray namespace (one namespace per control
plane), and each rank runs on a thread of its own from the moment its actor exists. The hub
registers an attempt before anything is created for it and keeps its verdict once it ends
(see ``hub``). A ``RayRuntime`` in a new process therefore **adopts** every attempt of its
namespace on its first ``observe`` or ``launch``: it finds the group and the actors by name,
creates whatever a killed predecessor had not created yet (a rank host claims its rank at the
hub first, so no rank runs twice), finishes tearing down attempts that already had a verdict,
and goes on observing. A ``launch`` under a request id the hub knows, live or forgotten, is a
no-op in any process. ``close`` stops every attempt (the protocol's contract); ``disconnect``
leaves them running for the next controller to adopt.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError
from ray.util.placement_group import placement_group, placement_group_table, remove_placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from controlplane.domain.errors import ConflictError, NotFoundError
from controlplane.domain.logfiles import rank_log_path
from controlplane.runtime.cluster_definition import DEFAULT_CLUSTER_FILE, ClusterDefinition, accelerator_resource
from controlplane.runtime.events import EventLog
from controlplane.runtime.nodes import observe_labelled_node
from controlplane.runtime.notices import NoticeBoard, NoticeSource
from controlplane.runtime.ray.actors import RankHost, RankOutcome, RankPayload, RankWhereabouts
from controlplane.runtime.ray.hub import HUB_NAME, AttemptEntry, Hub, Lookup, Verdict
from controlplane.runtime.ray.local_cluster import LocalRayCluster
from controlplane.runtime.ray.scan import ClusterScan, scan_cluster
from controlplane.runtime.ray.tracking import (
    AttemptTrack,
    RankTrack,
    attempt_observation,
    first_line,
    group_name,
    host_name,
    hub_placement,
    named_group,
    restore_verdict,
)
from controlplane.runtime.types import (
    TERMINAL_STATES,
    AttemptState,
    Cursor,
    LaunchSpec,
    NodeObservation,
    Notice,
    NoticeKind,
    Observation,
)
from controlplane.runtime.validation import check_placement, check_spec_shape, is_repeat_launch
from controlplane.topology import labels as label_keys

KEPT_LOG_LINES = 2_000
FINAL_LOGS_TIMEOUT_S = 1.0
HUB_TIMEOUT_S = 30.0
RESULT_WAIT_S = 30.0
"""How long one ``RankHost.result`` call waits before answering "still running" (it is then asked again)."""


class RayRuntime:
    """Runs attempts on the Ray cluster at ``address``; see the module docstring.

    ``address`` is anything ``ray.init`` accepts (``"10.0.0.1:6379"``, ``"ray://head:10001"``,
    ``"auto"``); ``RayRuntime.start_local()`` starts a local cluster first. If this process is
    already connected to Ray, that connection (and its namespace) is used and left open by
    ``close``. ``namespace`` identifies the control plane on the cluster: attempts and the hub
    live there, and a runtime adopts every attempt of its namespace. ``devices_as_gpus`` also
    requests each rank's devices as Ray GPUs, so Ray sets ``CUDA_VISIBLE_DEVICES`` on clusters
    with real NVIDIA or AMD accelerators. Each rank writes its whole output to
    ``log_dir/<attempt>/rank-<r>.log`` on its node (default: ``suanli-logs`` in the temporary
    directory).
    """

    def __init__(self, address: str = "auto", *, namespace: str = "suanli", rank_cpus: float = 0.25,
                 devices_as_gpus: bool = False, launch_timeout_s: float = 120.0, node_loss_grace_s: float = 15.0,
                 log_dir: str | Path | None = None, notice_sources: Sequence[NoticeSource] = ()) -> None:
        self._owns_connection = not ray.is_initialized()
        if self._owns_connection:
            ray.init(address=address, namespace=namespace, log_to_driver=False)
        self._namespace = str(ray.get_runtime_context().namespace)
        self._local_cluster: LocalRayCluster | None = None
        self._rank_cpus = rank_cpus
        self._devices_as_gpus = devices_as_gpus
        self._launch_timeout_s = launch_timeout_s
        self._node_loss_grace_s = node_loss_grace_s
        self._log_dir = Path(log_dir) if log_dir is not None else Path(tempfile.gettempdir()) / "suanli-logs"
        self._board = NoticeBoard()
        self._notice_sources: list[NoticeSource] = [self._board, *notice_sources]
        self._attempts: dict[str, AttemptTrack] = {}
        self._by_request: dict[str, LaunchSpec] = {}
        self._by_attempt: dict[str, LaunchSpec] = {}
        self._events = EventLog()
        hub_class: Any = ray.remote(Hub)
        self._hub: Any = hub_class.options(
            name=HUB_NAME, namespace=self._namespace, lifetime="detached", get_if_exists=True, num_cpus=0,
            scheduling_strategy=hub_placement(),
        ).remote()
        self._cordoned: set[str] = set(self._call_hub(self._hub.cordoned.remote()))
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

    @property
    def namespace(self) -> str:
        """The Ray namespace of this control plane's attempts and hub."""
        return self._namespace

    # -- the Runtime protocol -------------------------------------------------------------

    def now(self) -> float:
        return time.time()

    def observe(self, since: Cursor | None = None) -> Observation:
        scan = scan_cluster()
        self._adopt(scan)
        for attempt in list(self._attempts.values()):
            if attempt.state not in TERMINAL_STATES:
                self._poll(attempt, scan)
        self._events.extend(self._call_hub(self._hub.drain.remote()))
        for source in self._notice_sources:
            self._events.extend(list(source.poll()))
        batch = self._events.read(since)
        return Observation(time=self.now(), nodes=self._node_observations(scan),
                           attempts=tuple(attempt_observation(a) for a in self._attempts.values()),
                           step_reports=batch.step_reports, checkpoint_commits=batch.checkpoint_commits,
                           notices=batch.notices, cursor=batch.cursor)

    def launch(self, spec: LaunchSpec) -> None:
        check_spec_shape(spec)
        if is_repeat_launch(spec, self._by_request, self._by_attempt):
            return
        scan = scan_cluster()
        if self._repeats_a_registered_launch(spec, self._call_hub(self._hub.lookup.remote(spec.request_id,
                                                                                            spec.attempt_id)), scan):
            return
        nodes = {node.name: node for node in self._node_observations(scan)}
        check_placement(spec, nodes)
        launched_at = self.now()
        known: Lookup = self._call_hub(self._hub.register.remote(spec, launched_at))
        if self._repeats_a_registered_launch(spec, known, scan):
            return  # another process registered it between our lookup and now
        self._take_over(AttemptEntry(spec=spec, launched_at=launched_at), scan, fresh=True)

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
        self._hub.request_stop.remote(attempt_id, deadline)
        for host, rank in zip(attempt.hosts, attempt.ranks, strict=True):
            if host is not None and not rank.done:
                host.request_stop.remote()

    def request_checkpoint(self, attempt_id: str) -> None:
        attempt = self._attempts.get(attempt_id)
        if attempt is None or attempt.state in TERMINAL_STATES:
            return
        for host, rank in zip(attempt.hosts, attempt.ranks, strict=True):
            if host is not None and not rank.done:
                host.request_checkpoint.remote()

    def cordon(self, node: str) -> None:
        self._require_node(node)
        self._cordoned.add(node)
        self._hub.cordon.remote(node)

    def uncordon(self, node: str) -> None:
        self._require_node(node)
        self._cordoned.discard(node)
        self._hub.uncordon.remote(node)

    def forget(self, attempt_id: str) -> None:
        attempt = self._attempts.get(attempt_id)
        if attempt is not None and attempt.state in TERMINAL_STATES:
            del self._attempts[attempt_id]
            self._hub.forget.remote(attempt_id)

    def logs(self, attempt_id: str, rank: int) -> list[str]:
        attempt = self._attempts.get(attempt_id)
        if attempt is None or not 0 <= rank < len(attempt.ranks):
            raise NotFoundError(f"no rank {rank} of attempt {attempt_id!r}")
        state = attempt.ranks[rank]
        host = attempt.hosts[rank]
        if state.done or attempt.state in TERMINAL_STATES or host is None:
            return list(state.log)
        try:
            lines: list[str] = ray.get(host.logs.remote(), timeout=10)
        except (RayActorError, GetTimeoutError):
            return list(state.log)
        return lines

    def post_notice(self, node: str, *, deadline: float, kind: NoticeKind = "preemption",
                    source: str = "manual") -> None:
        """Publish a notice through the runtime (the next ``observe`` delivers it)."""
        self._board.post(Notice(node, kind, deadline, source))

    def add_notice_source(self, source: NoticeSource) -> None:
        """Poll ``source`` on every ``observe`` from now on (e.g. per-node agents started later)."""
        self._notice_sources.append(source)

    def remove_notice_source(self, source: NoticeSource) -> None:
        if source in self._notice_sources and source is not self._board:
            self._notice_sources.remove(source)

    def close(self) -> None:
        """Stop every attempt now (adopted ones too), remove the hub, disconnect."""
        with contextlib.suppress(RayActorError, GetTimeoutError):  # without a hub, stop what this runtime knows
            self._adopt(scan_cluster())
        for attempt in self._attempts.values():
            if attempt.state not in TERMINAL_STATES:
                self._finish(attempt, "stopped", "runtime closed", fetch_logs=False)
        ray.kill(self._hub)
        self._release_connection()

    def disconnect(self) -> None:
        """Leave every attempt running (a restarted controller adopts them) and disconnect.

        A local cluster this runtime started (``start_local``) is shut down all the same."""
        self._release_connection()

    def _release_connection(self) -> None:
        if self._owns_connection:
            ray.shutdown()
        if self._local_cluster is not None:
            self._local_cluster.shutdown()
            self._local_cluster = None

    # -- launching and adopting -------------------------------------------------------------

    def _repeats_a_registered_launch(self, spec: LaunchSpec, known: Lookup, scan: ClusterScan) -> bool:
        """Whether the hub already knows this launch (then adopt it); ``ConflictError`` on a clash."""
        if not known.known:
            return False
        by_request = {spec.request_id: known.by_request} if known.by_request is not None else {}
        by_attempt = {spec.attempt_id: known.by_attempt} if known.by_attempt is not None else {}
        repeat = is_repeat_launch(spec, by_request, by_attempt)
        if known.entry is not None and known.entry.spec.attempt_id not in self._attempts:
            self._take_over(known.entry, scan, fresh=False)
        self._by_request.setdefault(spec.request_id, spec)
        self._by_attempt.setdefault(spec.attempt_id, spec)
        return repeat

    def _adopt(self, scan: ClusterScan) -> None:
        """Take over every attempt of the namespace this runtime does not track yet."""
        entries: list[AttemptEntry] = self._call_hub(self._hub.entries.remote(list(self._attempts)))
        for entry in entries:
            self._take_over(entry, scan, fresh=False)

    def _take_over(self, entry: AttemptEntry, scan: ClusterScan, *, fresh: bool) -> None:
        """Track the attempt of ``entry``: create what it lacks (all of it, for a ``fresh``
        launch), or finish tearing it down if it already has a verdict."""
        spec = entry.spec
        attempt = AttemptTrack(spec=spec, group=None, hosts=[None] * spec.world_size, launched_at=entry.launched_at,
                               ranks=[RankTrack(planned_node=rank.node, node=rank.node) for rank in spec.ranks],
                               started_at=entry.started_at, stop_requested=entry.stop_requested,
                               stop_deadline=entry.stop_deadline)
        if entry.started_at is not None:
            attempt.state = "stopping" if entry.stop_deadline is not None else "running"
        self._attempts[spec.attempt_id] = attempt
        self._by_request[spec.request_id] = spec
        self._by_attempt[spec.attempt_id] = spec
        if entry.verdict is not None:
            restore_verdict(attempt, entry.verdict)
            self._tear_down(attempt)
            return
        claimed: set[int] = set() if fresh else set(self._call_hub(self._hub.claimed.remote(spec.attempt_id)))
        attempt.group = None if fresh else named_group(group_name(spec.attempt_id))
        hosts = [None] * spec.world_size if fresh else [self._named_host(spec.attempt_id, i)
                                                         for i in range(spec.world_size)]
        bundles = self._bundles(spec, scan)
        if attempt.group is None:
            if bundles is None:
                return  # a planned node is gone: the next poll finds the attempt lost
            attempt.group = placement_group(
                bundles, strategy="PACK", name=group_name(spec.attempt_id), lifetime="detached",
                bundle_label_selector=[scan.nodes[rank.node].selector for rank in spec.ranks])
        for index, rank in enumerate(attempt.ranks):
            host = hosts[index]
            if host is None and (index in claimed or bundles is None):
                rank.started = index in claimed
                rank.died_at = self.now()
                rank.error = "worker process died while no controller was connected"
                continue
            if host is None:
                assert bundles is not None
                host = self._create_host(attempt, index, bundles[index])
            attempt.hosts[index] = host
            attempt.where_refs[host.where.remote()] = index
            attempt.result_refs[host.result.remote(RESULT_WAIT_S)] = index

    def _bundles(self, spec: LaunchSpec, scan: ClusterScan) -> list[dict[str, float]] | None:
        """One bundle per rank (its CPUs and devices); ``None`` if a planned node is unknown."""
        bundles: list[dict[str, float]] = []
        for rank in spec.ranks:
            node = scan.nodes.get(rank.node)
            if node is None:
                return None
            bundle = {"CPU": self._rank_cpus}
            if rank.devices:
                bundle[accelerator_resource(node.labels[label_keys.ACCELERATOR])] = float(rank.devices)
                if self._devices_as_gpus:
                    bundle["GPU"] = float(rank.devices)
            bundles.append(bundle)
        return bundles

    def _create_host(self, attempt: AttemptTrack, index: int, bundle: dict[str, float]) -> Any:
        spec = attempt.spec
        assert attempt.group is not None
        resources = {name: amount for name, amount in bundle.items() if name not in ("CPU", "GPU")}
        payload = RankPayload(spec=spec, rank=index, log_path=str(self.log_file(spec.attempt_id, index)),
                              rendezvous_timeout_s=self._launch_timeout_s, kept_log_lines=KEPT_LOG_LINES)
        return self._host_class.options(
            name=host_name(spec.attempt_id, index), namespace=self._namespace, lifetime="detached",
            get_if_exists=True, num_cpus=self._rank_cpus, num_gpus=bundle.get("GPU", 0), resources=resources,
            max_concurrency=8, max_restarts=0,
            scheduling_strategy=PlacementGroupSchedulingStrategy(attempt.group, placement_group_bundle_index=index),
        ).remote(self._hub, payload)

    def _named_host(self, attempt_id: str, rank: int) -> Any | None:
        try:
            return ray.get_actor(host_name(attempt_id, rank), namespace=self._namespace)
        except ValueError:
            return None

    def _call_hub(self, reference: Any) -> Any:
        return ray.get(reference, timeout=HUB_TIMEOUT_S)

    # -- deciding an attempt's state -------------------------------------------------------

    def _poll(self, attempt: AttemptTrack, scan: ClusterScan) -> None:
        now = self.now()
        self._collect_whereabouts(attempt, scan)
        self._collect_outcomes(attempt, now)
        if attempt.state == "launching" and all(rank.started for rank in attempt.ranks):
            attempt.state = "running"
            attempt.started_at = now
            self._hub.mark_running.remote(attempt.spec.attempt_id, now)
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

    def _collect_whereabouts(self, attempt: AttemptTrack, scan: ClusterScan) -> None:
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
                rank.error = rank.error or first_line(error)
                continue
            rank.started = True
            rank.ray_node_id = where.ray_node_id
            rank.node = scan.names_by_id.get(where.ray_node_id, where.node_name)

    def _collect_outcomes(self, attempt: AttemptTrack, now: float) -> None:
        if not attempt.result_refs:
            return
        ready, _ = ray.wait(list(attempt.result_refs), num_returns=len(attempt.result_refs), timeout=0)
        for reference in ready:
            index = attempt.result_refs.pop(reference)
            rank = attempt.ranks[index]
            try:
                outcome: RankOutcome | None = ray.get(reference)
            except RayActorError as error:
                rank.died_at = rank.died_at or now
                rank.error = f"worker process died: {first_line(error)}"
                continue
            except Exception as error:  # a bug in the host itself; fail the rank, keep the runtime alive
                outcome = RankOutcome(1, f"rank host error: {first_line(error)}", (), now)
            if outcome is None:  # still running: ask again
                attempt.result_refs[attempt.hosts[index].result.remote(RESULT_WAIT_S)] = index
                continue
            rank.done = True
            rank.started = True
            rank.exit_code = outcome.exit_code
            rank.error = outcome.error
            rank.log = outcome.log
            rank.finished_at = outcome.finished_at

    def _lost_node(self, attempt: AttemptTrack, scan: ClusterScan) -> str | None:
        for rank in attempt.ranks:
            if rank.done:
                continue
            if rank.ray_node_id is not None:
                if rank.ray_node_id not in scan.alive_ids:
                    return rank.node
            elif not scan.node_alive(rank.planned_node):
                return rank.planned_node
        return None

    def _group_state(self, attempt: AttemptTrack) -> str:
        try:
            table = placement_group_table(attempt.group)
        except Exception:  # the group may be gone already; the reason is then unknown
            return "state unknown"
        scheduling = (table.get("stats") or {}).get("scheduling_state", "")
        return f"{table.get('state', 'UNKNOWN')} {scheduling}".strip()

    def _finish(self, attempt: AttemptTrack, state: AttemptState, reason: str | None, *,
                fetch_logs: bool = True) -> None:
        attempt.state = state
        attempt.reason = reason
        attempt.ended_at = self.now()
        unfinished = [index for index, rank in enumerate(attempt.ranks) if not rank.done]
        if fetch_logs and unfinished:
            self._fetch_final_logs(attempt, unfinished)
        verdict = Verdict(state=state, reason=reason, ended_at=attempt.ended_at,
                          ranks=attempt_observation(attempt).ranks)
        try:
            self._call_hub(self._hub.end.remote(attempt.spec.attempt_id, verdict))
        finally:  # even without a hub (the cluster is going away), the attempt's actors go
            self._tear_down(attempt)

    def _tear_down(self, attempt: AttemptTrack) -> None:
        """Kill the attempt's actors and remove its group (those a predecessor left too)."""
        attempt_id = attempt.spec.attempt_id
        for index, host in enumerate(attempt.hosts):
            host = host if host is not None else self._named_host(attempt_id, index)
            if host is not None:
                ray.kill(host, no_restart=True)
        group = attempt.group if attempt.group is not None else named_group(group_name(attempt_id))
        if group is not None:
            with contextlib.suppress(Exception):  # already removed (before a crash, or by another runtime)
                remove_placement_group(group)
        attempt.where_refs.clear()
        attempt.result_refs.clear()

    def _fetch_final_logs(self, attempt: AttemptTrack, ranks: list[int]) -> None:
        references = {attempt.hosts[index].wind_down.remote(): index for index in ranks
                      if attempt.hosts[index] is not None and attempt.ranks[index].started
                      and attempt.ranks[index].died_at is None}
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

    def log_file(self, attempt_id: str, rank: int) -> Path:
        """Where the rank writes its whole output, on the rank's node (``logs`` keeps the tail)."""
        return rank_log_path(self._log_dir, attempt_id, rank)
