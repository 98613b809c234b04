"""The per-node notice agent: poll this node's notice sources every few seconds, push what is new.

``NoticeAgent`` runs one daemon thread per source (so a GCP long poll never delays the AWS
poll next to it) and hands every new notice to a *sink* — any callable taking a ``Notice``,
typically ``NoticeBoard.post`` of the runtime, or the board a Ray actor drains
(``controlplane.spot.ray_agents``). Advisories go to an optional second sink.

Guarantees:
- a source that raises (anything, not only ``SpotSourceError``) is logged and polled again
  next round; the agent never dies of it;
- a sink that raises keeps the notice for the next round, so nothing is dropped;
- the agent is independent of the training loop: a rank busy writing a checkpoint does not
  delay a notice (tests inject one mid-checkpoint);
- ``poll_once`` does one synchronous round over every source, for tests and simple loops.

``SourceSpec`` is a picklable description of one source and ``build_source`` makes it, so an
agent can be started inside another process (a Ray actor) from plain data.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, cast

from controlplane.runtime.notices import NoticeSource
from controlplane.runtime.types import Notice
from controlplane.spot.aws import AWS_METADATA_URL, AwsSpotNotices
from controlplane.spot.azure import AZURE_METADATA_URL, AzureScheduledEvents
from controlplane.spot.common import Advisory, EndpointOptions, SourceReading
from controlplane.spot.gcp import GCP_METADATA_URL, GcpSpotNotices

LOGGER = logging.getLogger("controlplane.spot.agent")

NoticeSink = Callable[[Notice], None]
AdvisorySink = Callable[[Advisory], None]
CloudName = Literal["aws", "gcp", "azure"]

DEFAULT_INTERVAL_S = 2.0
DEFAULT_BASE_URLS: Mapping[str, str] = {"aws": AWS_METADATA_URL, "gcp": GCP_METADATA_URL,
                                        "azure": AZURE_METADATA_URL}


class _ReadsAdvisories(Protocol):
    def poll_reading(self) -> SourceReading: ...


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """How to build one cloud notice source (plain data: it crosses process boundaries)."""

    cloud: CloudName
    node: str
    base_url: str | None = None
    timeout_s: float = 2.0
    retries: int = 2
    options: Mapping[str, Any] = field(default_factory=dict)
    """Keyword options of the source class (``wait_for_change_s``, ``vm_name``, ...)."""


def build_source(spec: SourceSpec) -> AwsSpotNotices | GcpSpotNotices | AzureScheduledEvents:
    if spec.cloud not in DEFAULT_BASE_URLS:
        raise ValueError(f"unknown cloud {spec.cloud!r}; use one of {', '.join(DEFAULT_BASE_URLS)}")
    endpoint = EndpointOptions(spec.base_url or DEFAULT_BASE_URLS[spec.cloud], timeout_s=spec.timeout_s,
                               retries=spec.retries)
    options = dict(spec.options)
    if spec.cloud == "aws":
        return AwsSpotNotices(spec.node, endpoint, **options)
    if spec.cloud == "gcp":
        return GcpSpotNotices(spec.node, endpoint, **options)
    return AzureScheduledEvents(spec.node, endpoint, **options)


class NoticeAgent:
    """Polls ``sources`` every ``interval_s`` seconds and pushes new notices to ``sink``."""

    def __init__(self, sources: Sequence[NoticeSource], sink: NoticeSink, *, interval_s: float = DEFAULT_INTERVAL_S,
                 advisory_sink: AdvisorySink | None = None, name: str = "suanli-notice-agent") -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive (got {interval_s})")
        self.sources = tuple(sources)
        self.interval_s = interval_s
        self.name = name
        self.delivered: list[Notice] = []
        self.source_errors = 0
        self._sink = sink
        self._advisory_sink = advisory_sink
        self._undelivered: list[Notice] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- one round -------------------------------------------------------------------------

    def poll_once(self) -> list[Notice]:
        """Poll every source once, deliver what is new; returns the notices delivered now."""
        delivered = self._deliver([])  # what the sink refused last round goes first
        for source in self.sources:
            delivered.extend(self._poll_source(source))
        return delivered

    def _poll_source(self, source: NoticeSource) -> list[Notice]:
        try:
            if hasattr(source, "poll_reading"):
                reading = _as_reader(source).poll_reading()
                notices, advisories = list(reading.notices), list(reading.advisories)
            else:
                notices, advisories = list(source.poll()), []
        except Exception:
            with self._lock:
                self.source_errors += 1
            LOGGER.exception("notice agent %s: source %s failed; polling again next round",
                             self.name, type(source).__name__)
            return []
        for advisory in advisories:
            self._push_advisory(advisory)
        return self._deliver(notices)

    def _deliver(self, notices: list[Notice]) -> list[Notice]:
        with self._lock:
            pending, self._undelivered = [*self._undelivered, *notices], []
            delivered: list[Notice] = []
            for index, notice in enumerate(pending):
                try:
                    self._sink(notice)
                except Exception:
                    LOGGER.exception("notice agent %s: sink refused a notice for %s; retrying next round",
                                     self.name, notice.node)
                    self._undelivered = pending[index:]
                    break
                delivered.append(notice)
                LOGGER.info("notice agent %s: %s notice for %s, deadline %.0f (%s)", self.name, notice.kind,
                            notice.node, notice.deadline, notice.source)
            self.delivered.extend(delivered)
            return delivered

    def _push_advisory(self, advisory: Advisory) -> None:
        if self._advisory_sink is None:
            return
        try:
            self._advisory_sink(advisory)
        except Exception:
            LOGGER.exception("notice agent %s: advisory sink failed", self.name)

    # -- the background threads ------------------------------------------------------------

    def start(self) -> NoticeAgent:
        if self._threads:
            raise RuntimeError(f"notice agent {self.name} is already running")
        self._stop.clear()
        for index, source in enumerate(self.sources):
            thread = threading.Thread(target=self._run, args=(source,), daemon=True,
                                      name=f"{self.name}-{index}-{type(source).__name__}")
            thread.start()
            self._threads.append(thread)
        return self

    def _run(self, source: NoticeSource) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            if self._undelivered:  # what the sink refused last round goes first
                self._deliver([])
            self._poll_source(source)
            self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - started)))

    def stop(self, timeout_s: float = 5.0, *, close_sources: bool = True) -> None:
        """Stop polling (a long poll in flight finishes first, up to ``timeout_s``)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=timeout_s)
        self._threads = []
        if close_sources:
            for source in self.sources:
                close = getattr(source, "close", None)
                if callable(close):
                    close()

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def __enter__(self) -> NoticeAgent:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- diagnostics and acknowledgement ---------------------------------------------------

    def health(self) -> dict[str, dict[str, object]]:
        """Per source (by class name and index): polls, failures, last error."""
        report: dict[str, dict[str, object]] = {}
        for index, source in enumerate(self.sources):
            health = getattr(source, "health", None)
            report[f"{index}:{type(source).__name__}"] = health.as_dict() if health is not None else {}
        return report

    def acknowledge_all(self) -> list[str]:
        """Acknowledge pending events on sources that need it (Azure); returns the event ids."""
        done: list[str] = []
        for source in self.sources:
            acknowledge = getattr(source, "acknowledge_all", None)
            if callable(acknowledge):
                done.extend(acknowledge())
        return done


def _as_reader(source: object) -> _ReadsAdvisories:
    return cast(_ReadsAdvisories, source)
