"""``Hub``: the one detached actor per control plane (Ray namespace); it outlives controllers.

It holds what the controller process must not be the only one to know, so that a restarted
controller *adopts* the attempts its predecessor launched instead of orphaning them:

* the **registry**: every attempt launched in the namespace, with its spec, launch and start
  times, stop request and, once it ended, its ``Verdict`` (final state, reason, ranks). An
  attempt is registered *before* anything is created for it and its verdict is recorded *before*
  its actors are killed, so a driver killed at any point leaves a registry from which the next
  one can finish what it was doing. Forgetting an attempt keeps a tombstone (its spec, by
  request id): a repeated launch stays a no-op across processes, as the protocol promises.
* **rank claims**: a rank host claims ``(attempt, rank)`` before running user code and only the
  first claimant wins, so a rank never runs twice, even if its actor were created twice.
* cordoned nodes, rendezvous addresses (``MASTER_ADDR:PORT`` per attempt) and the queue of
  reports from every rank (reports wait here while no controller is connected).

Pure Python, no Ray: ``RayRuntime`` runs it as a named, detached actor (``HUB_NAME``); its
methods run one at a time, which makes ``register`` and ``claim_rank`` atomic.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from controlplane.runtime.types import AttemptState, CheckpointCommit, LaunchSpec, RankObservation, StepReport

HUB_NAME = "suanli-hub"


@dataclass(frozen=True, slots=True)
class Verdict:
    """How an attempt ended, as the runtime that ended it observed it."""

    state: AttemptState
    reason: str | None
    ended_at: float
    ranks: tuple[RankObservation, ...]


@dataclass(frozen=True, slots=True)
class AttemptEntry:
    """What the hub remembers of one attempt."""

    spec: LaunchSpec
    launched_at: float
    started_at: float | None = None
    stop_requested: bool = False
    stop_deadline: float | None = None
    verdict: Verdict | None = None


@dataclass(frozen=True, slots=True)
class Lookup:
    """What is known under a request id and an attempt id (live or forgotten)."""

    by_request: LaunchSpec | None = None
    by_attempt: LaunchSpec | None = None
    entry: AttemptEntry | None = None
    """The live (not forgotten) entry of the attempt ``by_request`` names, if any."""

    @property
    def known(self) -> bool:
        return self.by_request is not None or self.by_attempt is not None


class Hub:
    """The registry, claims, cordons, rendezvous and report queue; see the module docstring."""

    def __init__(self) -> None:
        self._entries: dict[str, AttemptEntry] = {}
        self._forgotten_requests: dict[str, LaunchSpec] = {}
        self._forgotten_attempts: dict[str, LaunchSpec] = {}
        self._claims: dict[tuple[str, int], str] = {}
        self._cordoned: set[str] = set()
        self._events: list[StepReport | CheckpointCommit] = []
        self._masters: dict[str, tuple[str, int]] = {}

    # -- the registry -----------------------------------------------------------------------

    def lookup(self, request_id: str, attempt_id: str) -> Lookup:
        by_request = self._forgotten_requests.get(request_id)
        entry = next((e for e in self._entries.values() if e.spec.request_id == request_id), None)
        if entry is not None:
            by_request = entry.spec
        live = self._entries.get(attempt_id)
        by_attempt = live.spec if live is not None else self._forgotten_attempts.get(attempt_id)
        return Lookup(by_request=by_request, by_attempt=by_attempt, entry=entry)

    def register(self, spec: LaunchSpec, launched_at: float) -> Lookup:
        """Register ``spec`` unless its request or attempt id is known; return what was known."""
        known = self.lookup(spec.request_id, spec.attempt_id)
        if not known.known:
            self._entries[spec.attempt_id] = AttemptEntry(spec=spec, launched_at=launched_at)
        return known

    def entries(self, excluding: list[str] | None = None) -> list[AttemptEntry]:
        """The attempts not forgotten, except those named in ``excluding``."""
        skip = set(excluding or ())
        return [entry for attempt_id, entry in self._entries.items() if attempt_id not in skip]

    def mark_running(self, attempt_id: str, started_at: float) -> None:
        self._update(attempt_id, started_at=started_at)

    def request_stop(self, attempt_id: str, deadline: float | None) -> None:
        self._update(attempt_id, stop_requested=True, stop_deadline=deadline)

    def end(self, attempt_id: str, verdict: Verdict) -> None:
        """Record the verdict (once: the first verdict stands)."""
        entry = self._entries.get(attempt_id)
        if entry is not None and entry.verdict is None:
            self._entries[attempt_id] = dataclasses.replace(entry, verdict=verdict)

    def forget(self, attempt_id: str) -> None:
        """Drop an ended attempt, keeping a tombstone of its spec."""
        entry = self._entries.get(attempt_id)
        if entry is None or entry.verdict is None:
            return
        del self._entries[attempt_id]
        self._forgotten_requests[entry.spec.request_id] = entry.spec
        self._forgotten_attempts[attempt_id] = entry.spec
        self._masters.pop(attempt_id, None)
        for rank in range(entry.spec.world_size):
            self._claims.pop((attempt_id, rank), None)

    def _update(self, attempt_id: str, **changes: Any) -> None:
        entry = self._entries.get(attempt_id)
        if entry is not None and entry.verdict is None:
            self._entries[attempt_id] = dataclasses.replace(entry, **changes)

    # -- ranks --------------------------------------------------------------------------------

    def claim_rank(self, attempt_id: str, rank: int, claimant: str) -> bool:
        """True for the first claimant of ``(attempt, rank)`` (and again for the same one)."""
        entry = self._entries.get(attempt_id)
        if entry is None or entry.verdict is not None:
            return False
        holder = self._claims.setdefault((attempt_id, rank), claimant)
        return holder == claimant

    def claimed(self, attempt_id: str) -> list[int]:
        return sorted(rank for (attempt, rank) in self._claims if attempt == attempt_id)

    # -- cordons --------------------------------------------------------------------------------

    def cordon(self, node: str) -> None:
        self._cordoned.add(node)

    def uncordon(self, node: str) -> None:
        self._cordoned.discard(node)

    def cordoned(self) -> list[str]:
        return sorted(self._cordoned)

    # -- reports and rendezvous -----------------------------------------------------------------

    def push(self, events: list[StepReport | CheckpointCommit]) -> None:
        self._events.extend(events)

    def drain(self) -> list[StepReport | CheckpointCommit]:
        events, self._events = self._events, []
        return events

    def publish_master(self, attempt_id: str, address: str, port: int) -> None:
        self._masters[attempt_id] = (address, port)

    def master(self, attempt_id: str) -> tuple[str, int] | None:
        return self._masters.get(attempt_id)
