"""Notice agents as small Ray actors, one pinned to each node, drained by the driver.

``NoticeAgentActor`` is a plain class (Ray wraps it): it builds its sources from
``SourceSpec``s, runs a ``NoticeAgent`` whose sink is an in-actor ``NoticeBoard``, and serves
``drain``/``health``/``acknowledge_all`` from other threads. ``RayNoticeAgents`` starts one
actor per node with a hard node affinity and zero CPUs, and is itself a ``NoticeSource``: pass
it to ``RayRuntime(notice_sources=[agents])`` and every ``observe`` drains every agent. An
agent whose node died is skipped (its notices, if any, already arrived, or the loss is hard).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from controlplane.runtime.notices import NoticeBoard
from controlplane.runtime.types import Notice
from controlplane.spot.agent import DEFAULT_INTERVAL_S, NoticeAgent, SourceSpec, build_source
from controlplane.spot.common import Advisory

LOGGER = logging.getLogger("controlplane.spot.ray_agents")
DRAIN_TIMEOUT_S = 5.0


class NoticeAgentActor:
    """Runs a ``NoticeAgent`` for one node inside a Ray actor."""

    def __init__(self, specs: Sequence[SourceSpec], interval_s: float = DEFAULT_INTERVAL_S) -> None:
        self._board = NoticeBoard()
        self._advisories: list[Advisory] = []
        self._agent = NoticeAgent([build_source(spec) for spec in specs], self._board.post, interval_s=interval_s,
                                  advisory_sink=self._advisories.append,
                                  name=f"notice-agent-{'+'.join(sorted({spec.node for spec in specs}))}")
        self._agent.start()

    def drain(self) -> list[Notice]:
        return list(self._board.poll())

    def drain_advisories(self) -> list[Advisory]:
        pending, self._advisories = self._advisories, []
        return pending

    def health(self) -> dict[str, dict[str, object]]:
        return self._agent.health()

    def acknowledge_all(self) -> list[str]:
        return self._agent.acknowledge_all()

    def stop(self) -> None:
        self._agent.stop()


class RayNoticeAgents:
    """One ``NoticeAgentActor`` per node; a ``NoticeSource`` that drains them all."""

    def __init__(self, actors: Mapping[str, Any]) -> None:
        self.actors = dict(actors)

    @classmethod
    def start(cls, nodes: Mapping[str, str], specs_for: Callable[[str], Sequence[SourceSpec]], *,
              interval_s: float = DEFAULT_INTERVAL_S) -> RayNoticeAgents:
        """``nodes`` maps each Suanli node name to its Ray node id; ``specs_for(name)`` says what to poll there."""
        remote_class: Any = ray.remote(NoticeAgentActor)
        actors = {}
        for name, ray_node_id in nodes.items():
            actors[name] = remote_class.options(
                num_cpus=0, max_concurrency=4, name=None,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=ray_node_id, soft=False),
            ).remote(list(specs_for(name)), interval_s)
        return cls(actors)

    def poll(self) -> list[Notice]:
        notices: list[Notice] = []
        for name, actor in self.actors.items():
            try:
                notices.extend(ray.get(actor.drain.remote(), timeout=DRAIN_TIMEOUT_S))
            except Exception as exc:  # a dead node's agent: nothing more will come from it
                LOGGER.warning("notice agent on %s did not answer: %s", name, exc)
        return notices

    def health(self) -> dict[str, dict[str, dict[str, object]]]:
        report: dict[str, dict[str, dict[str, object]]] = {}
        for name, actor in self.actors.items():
            try:
                report[name] = ray.get(actor.health.remote(), timeout=DRAIN_TIMEOUT_S)
            except Exception as exc:
                report[name] = {"agent": {"last_error": str(exc)}}
        return report

    def stop(self) -> None:
        for actor in self.actors.values():
            with contextlib.suppress(Exception):  # the actor's node may be gone already
                ray.get(actor.stop.remote(), timeout=DRAIN_TIMEOUT_S)
            ray.kill(actor)
        self.actors.clear()
