"""Azure spot eviction notices from the Scheduled Events service of the instance metadata endpoint.

Protocol (Azure docs, "Azure Metadata Service: Scheduled Events for Linux VMs"):

- ``GET /metadata/scheduledevents?api-version=2020-07-01`` with the header ``Metadata: true``
  (without it, or without ``api-version``, the answer is HTTP 400) returns
  ``{"DocumentIncarnation": <int>, "Events": [...]}``; each event has ``EventId``, ``EventType``
  (``Freeze``, ``Reboot``, ``Redeploy``, ``Preempt``, ``Terminate``), ``ResourceType``,
  ``Resources`` (VM names), ``EventStatus`` (``Scheduled`` or ``Started``), ``NotBefore`` (an
  RFC 1123 date, empty once started), ``Description``, ``EventSource`` and ``DurationInSeconds``;
- a spot eviction is ``EventType: "Preempt"`` with at least 30 seconds between the event
  appearing and ``NotBefore``;
- ``POST`` to the same URL with ``{"StartRequests": [{"EventId": "..."}]}`` acknowledges an
  event: Azure may then proceed at once, so acknowledge only when the node is ready to go (after
  the checkpoint and the clean stop), through ``acknowledge``.

``Preempt`` becomes a ``preemption`` notice, ``Terminate`` a ``termination``, ``Reboot`` and
``Redeploy`` (which lose host memory) ``maintenance``; ``Freeze`` (a pause of seconds) is
ignored. With ``vm_name`` set, only events naming that VM in ``Resources`` count. A malformed
event is logged and skipped; a malformed document fails the read.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection
from dataclasses import dataclass

import httpx

from controlplane.runtime.types import Notice, NoticeKind
from controlplane.spot.common import (
    LOGGER,
    Clock,
    EndpointOptions,
    MalformedResponseError,
    MetadataHttp,
    NoticeTracker,
    Sleep,
    SourceHealth,
    SourceReading,
    SpotSourceError,
    guarded_poll,
    parse_http_date,
)

AZURE_METADATA_URL = "http://169.254.169.254"
SCHEDULED_EVENTS_PATH = "/metadata/scheduledevents"
API_VERSION = "2020-07-01"
METADATA_HEADER = "Metadata"
EVENT_KINDS: dict[str, NoticeKind] = {"Preempt": "preemption", "Terminate": "termination",
                                      "Reboot": "maintenance", "Redeploy": "maintenance"}
EVENT_STATUSES = ("Scheduled", "Started")
AZURE_NOTICE_S = 30.0
"""The least warning Azure gives before a spot eviction."""

SOURCE = "azure-scheduled-events"


@dataclass(frozen=True, slots=True)
class ScheduledEvent:
    event_id: str
    event_type: str
    status: str
    resources: tuple[str, ...]
    not_before: float | None
    """Epoch seconds; None once the event has started."""


class AzureScheduledEvents:
    """Polls Azure Scheduled Events for this VM's evictions (a ``NoticeSource``), and acknowledges them."""

    def __init__(self, node: str, endpoint: EndpointOptions | None = None, *, vm_name: str | None = None,
                 event_types: Collection[str] = tuple(EVENT_KINDS), api_version: str = API_VERSION,
                 clock: Clock = time.time, sleep: Sleep = time.sleep,
                 transport: httpx.BaseTransport | None = None) -> None:
        unknown = set(event_types) - set(EVENT_KINDS)
        if unknown:
            raise ValueError(f"unsupported event types {sorted(unknown)}; use some of {sorted(EVENT_KINDS)}")
        self.node = node
        self.vm_name = vm_name
        self.endpoint = endpoint or EndpointOptions(AZURE_METADATA_URL)
        self.health = SourceHealth()
        self.document_incarnation: int | None = None
        self.pending: dict[str, ScheduledEvent] = {}
        """Events of ours seen on the last read, by id (what ``acknowledge_all`` acknowledges)."""
        self._event_types = frozenset(event_types)
        self._api_version = api_version
        self._clock = clock
        self._http = MetadataHttp(SOURCE, self.endpoint, sleep=sleep, transport=transport)
        self._notices = NoticeTracker()
        self.skipped_events = 0

    def poll(self) -> list[Notice]:
        return list(self.poll_reading().notices)

    def poll_reading(self) -> SourceReading:
        reading = guarded_poll(SOURCE, self.read, self.health, self._clock)
        if reading is None:
            return SourceReading()
        return SourceReading(tuple(self._notices.fresh((n.source, n) for n in reading.notices)))

    def read(self) -> SourceReading:
        response = self._http.request("GET", SCHEDULED_EVENTS_PATH, headers={METADATA_HEADER: "true"},
                                      params={"api-version": self._api_version})
        if response.status_code != 200:
            raise self._http.unexpected(response, f"GET {SCHEDULED_EVENTS_PATH}")
        events = self._parse_document(response)
        now = self._clock()
        ours = [event for event in events if event.event_type in self._event_types
                and (self.vm_name is None or self.vm_name in event.resources)]
        self.pending = {event.event_id: event for event in ours}
        return SourceReading(tuple(
            Notice(self.node, EVENT_KINDS[event.event_type], now if event.not_before is None else event.not_before,
                   f"{SOURCE}:{event.event_type}:{event.event_id}")
            for event in ours))

    def acknowledge(self, event_id: str) -> None:
        """Tell Azure this VM is ready for the event (it may then proceed at once)."""
        response = self._http.request("POST", SCHEDULED_EVENTS_PATH, headers={METADATA_HEADER: "true"},
                                      params={"api-version": self._api_version},
                                      json={"StartRequests": [{"EventId": event_id}]})
        if response.status_code != 200:
            raise self._http.unexpected(response, f"POST {SCHEDULED_EVENTS_PATH} (acknowledge {event_id})")

    def acknowledge_all(self) -> list[str]:
        """Acknowledge every pending event of this VM; returns the ids acknowledged."""
        done: list[str] = []
        for event_id in list(self.pending):
            self.acknowledge(event_id)
            done.append(event_id)
        return done

    def close(self) -> None:
        self._http.close()

    def _parse_document(self, response: httpx.Response) -> list[ScheduledEvent]:
        try:
            document = json.loads(response.text)
        except ValueError:
            raise MalformedResponseError(SOURCE, "scheduled events are not JSON", body=response.text) from None
        if not isinstance(document, dict) or not isinstance(document.get("Events"), list):
            raise MalformedResponseError(SOURCE, "scheduled events document has no 'Events' list", body=response.text)
        incarnation = document.get("DocumentIncarnation")
        if not isinstance(incarnation, int) or isinstance(incarnation, bool):
            raise MalformedResponseError(SOURCE, f"DocumentIncarnation is {incarnation!r}, expected an integer",
                                         body=response.text)
        self.document_incarnation = incarnation
        events: list[ScheduledEvent] = []
        for index, raw in enumerate(document["Events"]):
            try:
                events.append(_parse_event(raw, index))
            except SpotSourceError as exc:
                self.skipped_events += 1
                LOGGER.warning("spot notice source %s: event skipped: %s", SOURCE, exc)
        return events


def _parse_event(raw: object, index: int) -> ScheduledEvent:
    where = f"Events[{index}]"
    if not isinstance(raw, dict):
        raise MalformedResponseError(SOURCE, f"{where} is not an object")
    event_id, event_type, status = raw.get("EventId"), raw.get("EventType"), raw.get("EventStatus")
    resources = raw.get("Resources")
    if not isinstance(event_id, str) or not event_id:
        raise MalformedResponseError(SOURCE, f"{where}.EventId is {event_id!r}")
    if not isinstance(event_type, str):
        raise MalformedResponseError(SOURCE, f"{where}.EventType is {event_type!r}")
    if status not in EVENT_STATUSES:
        raise MalformedResponseError(SOURCE, f"{where}.EventStatus is {status!r}, expected Scheduled or Started")
    if not isinstance(resources, list) or not all(isinstance(item, str) for item in resources):
        raise MalformedResponseError(SOURCE, f"{where}.Resources is not a list of VM names")
    not_before_text = raw.get("NotBefore")
    not_before: float | None
    if status == "Started" and not not_before_text:
        not_before = None
    else:
        not_before = parse_http_date(not_before_text, source=SOURCE, what=f"{where}.NotBefore")
    return ScheduledEvent(event_id, event_type, str(status), tuple(resources), not_before)
