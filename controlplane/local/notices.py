"""The controller's notice agents: one ``NoticeAgentActor`` per node that has a cloud metadata endpoint.

The ``notice_sources`` setting (``SUANLI_NOTICE_SOURCES``, written by the stack from its local
cloud) names, per node, the cloud and the base URL of its metadata endpoint::

    {"aws-h100-0": {"cloud": "aws", "baseUrl": "http://127.0.0.1:41234"}, ...}

``NodeNoticeAgents`` is a ``NoticeSource`` for ``RayRuntime(notice_sources=[...])``. It needs
no Ray connection to build: on its first ``poll`` (inside ``observe``, so Ray is initialised and
only the leading controller starts agents) and every ``refresh_s`` after, it matches the listed
nodes against the live Ray nodes (label ``suanli.dev/node``) and keeps exactly one agent on each
(``RayNoticeAgents.start``: zero CPUs, hard node affinity). An agent whose node is gone is
dropped; a node that came back (a new Ray node id) gets a new agent. Drains are asynchronous: an
agent that does not answer within ``drain_wait_s`` is asked again on the next poll, so a dead or
starting agent never holds up a controller tick for long.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, cast

from controlplane.domain.errors import InvalidInputError
from controlplane.runtime.types import Notice
from controlplane.spot.agent import DEFAULT_BASE_URLS, CloudName, SourceSpec

log = logging.getLogger("controlplane.local.notices")

AGENT_INTERVAL_S = 1.0
REFRESH_S = 2.0
DRAIN_WAIT_S = 0.5


def source_specs(setting: Mapping[str, Mapping[str, str]]) -> dict[str, list[SourceSpec]]:
    """The ``notice_sources`` setting as ``SourceSpec``s per node; a bad entry names itself."""
    specs: dict[str, list[SourceSpec]] = {}
    for node, entry in setting.items():
        cloud, base_url = entry.get("cloud"), entry.get("baseUrl")
        if cloud not in DEFAULT_BASE_URLS:
            raise InvalidInputError(f"node {node!r} has cloud {cloud!r}", field=f"notice_sources.{node}.cloud",
                                    hint=f"use one of {', '.join(DEFAULT_BASE_URLS)}")
        if base_url is not None and not base_url.startswith(("http://", "https://")):
            raise InvalidInputError(f"node {node!r} has baseUrl {base_url!r}", field=f"notice_sources.{node}.baseUrl",
                                    hint="an http:// URL of the metadata endpoint, or leave it out for the cloud's")
        specs[node] = [SourceSpec(cast(CloudName, cloud), node, base_url=base_url)]
    return specs


def plan_agents(running: Mapping[str, str], alive: Mapping[str, str],
                wanted: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """Which agents to start (node → Ray node id) and which to drop (nodes).

    ``running`` and ``alive`` map node names to Ray node ids: where an agent runs now, and the
    live Ray node of that name. An agent is dropped when its Ray node is no longer the live one
    (the node died, or came back as a new Ray node); one is started where a wanted node is alive
    without an agent on it.
    """
    start: dict[str, str] = {}
    drop: list[str] = []
    for name in wanted:
        current, live = running.get(name), alive.get(name)
        if current is not None and current != live:
            drop.append(name)
        if live is not None and current != live:
            start[name] = live
    return start, drop


class NodeNoticeAgents:
    """A ``NoticeSource`` that keeps one notice agent on each listed node and drains them."""

    def __init__(self, specs: Mapping[str, Sequence[SourceSpec]], *, interval_s: float = AGENT_INTERVAL_S,
                 refresh_s: float = REFRESH_S, drain_wait_s: float = DRAIN_WAIT_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._specs = {name: list(value) for name, value in specs.items()}
        self._interval_s = interval_s
        self._refresh_s = refresh_s
        self._drain_wait_s = drain_wait_s
        self._clock = clock
        self._agents: dict[str, tuple[str, Any]] = {}
        """node → (Ray node id, actor handle)"""
        self._pending: dict[str, Any] = {}
        """node → the drain call in flight"""
        self._refreshed_at: float | None = None

    @property
    def nodes(self) -> dict[str, str]:
        """The nodes with an agent now, and the Ray node id each runs on."""
        return {name: node_id for name, (node_id, _) in self._agents.items()}

    def poll(self) -> list[Notice]:
        import ray

        now = self._clock()
        if self._refreshed_at is None or now - self._refreshed_at >= self._refresh_s:
            try:
                self.refresh()
            except Exception:  # the cluster did not answer: drain the agents we have, try again later
                log.exception("notice agents: refreshing the agents failed; trying again in %.0fs", self._refresh_s)
        for name, (_, actor) in self._agents.items():
            if name not in self._pending:
                self._pending[name] = actor.drain.remote()
        if not self._pending:
            return []
        ready, _ = ray.wait(list(self._pending.values()), num_returns=len(self._pending), timeout=self._drain_wait_s)
        done = set(ready)
        notices: list[Notice] = []
        for name, ref in list(self._pending.items()):
            if ref not in done:
                continue
            del self._pending[name]
            try:
                notices.extend(ray.get(ref))
            except Exception as error:  # its node died: the next refresh drops it (or restarts it)
                log.warning("notice agent on %s did not answer: %s", name, error)
                self._refreshed_at = None
        return notices

    def refresh(self) -> None:
        """Start agents on listed nodes that are alive without one; drop those whose node is gone."""
        from controlplane.runtime.ray.scan import scan_cluster
        from controlplane.spot.ray_agents import RayNoticeAgents

        self._refreshed_at = self._clock()
        alive = {name: node.ray_node_id for name, node in scan_cluster().nodes.items() if node.alive}
        start, drop = plan_agents(self.nodes, alive, self._specs)
        for name in drop:
            _, actor = self._agents.pop(name)
            self._pending.pop(name, None)
            _kill(actor)
            log.info("notice agent on %s dropped: its node is gone", name)
        if not start:
            return
        started = RayNoticeAgents.start(start, lambda name: self._specs[name], interval_s=self._interval_s)
        for name, actor in started.actors.items():
            self._agents[name] = (start[name], actor)
            log.info("notice agent started on %s (Ray node %s) polling %s", name, start[name][:12],
                     ", ".join(f"{spec.cloud} {spec.base_url or 'default'}" for spec in self._specs[name]))

    def stop(self) -> None:
        """Stop and kill every agent (each stops polling first, when its node still answers)."""
        from controlplane.spot.ray_agents import RayNoticeAgents

        actors = {name: actor for name, (_, actor) in self._agents.items()}
        self._agents.clear()
        self._pending.clear()
        if actors:
            with contextlib.suppress(Exception):
                RayNoticeAgents(actors).stop()


def _kill(actor: Any) -> None:
    import ray

    with contextlib.suppress(Exception):
        ray.kill(actor)
