"""``Controller``: the reconcile loop and its leader lease.

One tick, only while this process holds the ``controller`` lease:

1. **sync** — ``runtime.observe()``; write nodes, progress and attempt ends to the store.
2. **recover** — apply intents a previous leader recorded but did not finish.
3. **respond** — notices of coming node loss (spot preemption warnings): cordon, checkpoint and
   stop the hit attempt in the window, re-plan (``notices.NoticeResponder``); jobs waiting after a
   re-plan, or over their preemption limit, carry that into the plan (``world.JobOverride``).
4. **plan** — build an immutable ``ClusterSnapshot`` (``world.build_world``) and call the pure
   scheduler.
5. **apply** — record each decision as an intent and carry it out through the runtime
   (``actions.Applier``); cancelled jobs get their attempts stopped.

A second controller started against the same database waits: its ticks do nothing until the
lease expires. Kill either at any point; the survivor (or the restarted one) resumes from the
store, and the runtime's idempotency by request id makes re-applied intents harmless.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from controlplane.catalog.accelerators import get_accelerator
from controlplane.catalog.prices import PriceCatalog
from controlplane.controller.actions import Applier
from controlplane.controller.lease import CONTROLLER_LEASE
from controlplane.controller.notices import NoticeResponder
from controlplane.controller.sync import sync
from controlplane.controller.world import build_world
from controlplane.domain.errors import FencedOutError
from controlplane.domain.statuses import ACTIVE_ATTEMPT_STATUSES, JobStatus
from controlplane.resilience.spot_response import ResponseSettings
from controlplane.runtime.protocol import Runtime
from controlplane.runtime.types import Cursor
from controlplane.scheduling import ModeledRates, Scheduler
from controlplane.scheduling.snapshot import Estimator
from controlplane.store.engine import session_scope
from controlplane.store.records import LeaseRecord
from controlplane.store.repositories import (
    AttemptRepository,
    JobRepository,
    LeaseRepository,
    PoolRepository,
    QueueRepository,
)

log = logging.getLogger(__name__)

LEASE_NAME = CONTROLLER_LEASE
LIVE_JOB_STATUSES = (JobStatus.PENDING, JobStatus.SCHEDULED, JobStatus.RUNNING, JobStatus.CANCELLING)


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class TickReport:
    leader: bool
    admitted: int = 0
    waiting: int = 0
    stopped: int = 0
    ended: int = 0
    noticed: int = 0


class Controller:
    """Reconciles the store with a runtime. Construct once per process (the composition root
    passes the session factory, the runtime and the scheduler)."""

    def __init__(self, session_factory: sessionmaker[Session], runtime: Runtime, *,
                 scheduler: Scheduler | None = None, estimator: Estimator | None = None,
                 prices: PriceCatalog | None = None, holder: str | None = None, lease_ttl_s: float = 15.0,
                 wall_clock: Callable[[], float] | None = None,
                 storage_options: Mapping[str, Mapping[str, Any]] | None = None,
                 shared_filesystem: bool = False, response_settings: ResponseSettings | None = None) -> None:
        self._sessions = session_factory
        self._runtime = runtime
        self._scheduler = scheduler or Scheduler("suanli")
        self._estimator = estimator or ModeledRates(lookup=get_accelerator)
        self._prices = prices or PriceCatalog.load_default()
        self.holder = holder or default_holder()
        self._lease_ttl_s = lease_ttl_s
        self._applier = Applier(session_factory, runtime, storage_options=storage_options)
        self._responder = NoticeResponder(session_factory, shared_filesystem=shared_filesystem,
                                          settings=response_settings)
        self._cursor: Cursor | None = None
        self._lease: LeaseRecord | None = None
        self._wall_clock = wall_clock

    @property
    def lease(self) -> LeaseRecord | None:
        return self._lease

    def tick(self) -> TickReport:
        """One reconcile round; returns what it did (nothing unless this process leads).

        A write fenced out mid-tick (another controller took the lease meanwhile) ends the tick
        and this process's term: nothing more is written under the old token."""
        if not self._hold_lease():
            return TickReport(leader=False)
        try:
            return self._lead_one_tick()
        except FencedOutError as error:
            log.warning("fenced out mid-tick, standing by: %s", error)
            self._lease = None
            return TickReport(leader=False)

    def _lead_one_tick(self) -> TickReport:
        assert self._lease is not None
        token = self._lease.token
        observation = self._runtime.observe(self._cursor)
        offset = self._clock_offset(observation.time)
        with session_scope(self._sessions) as session:
            ended = sync(session, observation, clock_offset=offset)
        for attempt_id in ended:
            self._runtime.forget(attempt_id)
        self._cursor = observation.cursor
        self._applier.apply_pending()
        self._applier.stop_cancelled_jobs(lease_token=token)
        with session_scope(self._sessions) as session:
            jobs = JobRepository(session).in_queue_order(LIVE_JOB_STATUSES)
            active = {a.job_id: a for a in AttemptRepository(session).list_by_status(ACTIVE_ATTEMPT_STATUSES)}
            pools = PoolRepository(session).list()
            queues = QueueRepository(session).list()
        responder = self._responder
        responder.refresh_history(now=observation.time, clock_offset=offset)
        if responder.release_cordons(observation.nodes, now=observation.time, lease_token=token):
            self._applier.apply_pending()
        overrides = responder.overrides({job.id: job for job in jobs}, now=observation.time, clock_offset=offset)
        world = build_world(now=observation.time + offset, jobs=jobs, active_attempts=active, pools=pools,
                            queues=queues, nodes=observation.nodes, estimator=self._estimator,
                            prices=self._prices, overrides=overrides,
                            pool_preemption_rates=responder.pool_preemption_rates(observation.nodes))
        report = TickReport(leader=True, ended=len(ended))
        if observation.notices:
            outcome = responder.respond(observation.notices, world, now=observation.time, clock_offset=offset,
                                        lease_token=token)
            report.noticed = len(outcome.cordoned)
            self._applier.apply_pending()  # cordon and stop before anything else is placed
        if responder.regrow(world, now=observation.time, lease_token=token):
            self._applier.apply_pending()
        if world.snapshot is None:
            with session_scope(self._sessions) as session:
                for job_id, why in world.unschedulable.items():
                    JobRepository(session).set_message(job_id, why)
            return report
        result = self._scheduler.plan(world.snapshot)
        self._applier.apply_round(world, result, lease_token=token)
        report.admitted = result.stats.admitted
        report.waiting = result.stats.waiting
        report.stopped = result.stats.preempted + result.stats.migrated
        return report

    def run(self, stop: threading.Event, *, interval_s: float = 1.0) -> None:
        """Tick until ``stop`` is set; a failing tick is logged and retried on the next one."""
        while not stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("controller tick failed; retrying")
            stop.wait(interval_s)
        self.release()

    def release(self) -> None:
        """Give the lease up at once (clean shutdown), so a standby can take over."""
        with session_scope(self._sessions) as session:
            LeaseRepository(session).release(LEASE_NAME, self.holder)
        self._lease = None

    def _hold_lease(self) -> bool:
        with session_scope(self._sessions) as session:
            lease = LeaseRepository(session).try_acquire(LEASE_NAME, self.holder, ttl_s=self._lease_ttl_s)
        if lease is None:
            if self._lease is not None:
                log.warning("lost the controller lease; standing by")
            self._lease = None
            return False
        if self._lease is None or self._lease.token != lease.token:
            log.info("leading the control plane (lease token %d)", lease.token)
            self._cursor = None  # a new term re-reads everything the runtime retains
        self._lease = lease
        return True

    def _clock_offset(self, runtime_time: float) -> float:
        """Seconds to add to runtime times to get wall-clock epoch seconds (0 for real runtimes)."""
        if self._wall_clock is None:
            return 0.0
        return self._wall_clock() - runtime_time
