"""GCP spot/preemptible VM notices from the Compute Engine metadata server.

Protocol (Compute Engine docs, "Detect if a VM was preempted" and "About VM metadata"):

- ``GET /computeMetadata/v1/instance/preempted`` with the header ``Metadata-Flavor: Google``
  (without it the server answers 403) returns the text ``TRUE`` once the VM has been told to
  stop and ``FALSE`` before; every answer carries ``Metadata-Flavor: Google`` and an ``ETag``;
- ``?wait_for_change=true`` turns the request into a long poll that returns when the value
  changes (immediately when ``last_etag`` differs from the current ETag), or with the current
  value after ``timeout_sec`` seconds; the source reads once plainly to learn the ETag, then
  long-polls with ``last_etag`` so a change between two polls is never missed;
- a preempted VM gets about 30 seconds (the ACPI soft-off grace) before it stops, and the
  endpoint gives no time, so the deadline is *when this source first saw TRUE* plus
  ``preemption_notice_s``;
- optionally ``GET /computeMetadata/v1/instance/maintenance-event`` (``NONE``,
  ``MIGRATE_ON_HOST_MAINTENANCE`` or ``TERMINATE_ON_HOST_MAINTENANCE``): a terminating host
  maintenance becomes a ``maintenance`` notice ``maintenance_notice_s`` after it was seen
  (live migrations keep the VM and are ignored).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import httpx

from controlplane.runtime.types import Notice
from controlplane.spot.common import (
    Clock,
    EndpointOptions,
    MalformedResponseError,
    MetadataHttp,
    NoticeTracker,
    Sleep,
    SourceHealth,
    SourceReading,
    guarded_poll,
)

GCP_METADATA_URL = "http://metadata.google.internal"
PREEMPTED_PATH = "/computeMetadata/v1/instance/preempted"
MAINTENANCE_PATH = "/computeMetadata/v1/instance/maintenance-event"
FLAVOR_HEADER = "Metadata-Flavor"
FLAVOR = "Google"
GCP_NOTICE_S = 30.0
"""How long a preempted GCP VM keeps running after the notice."""
MAINTENANCE_EVENTS = ("NONE", "MIGRATE_ON_HOST_MAINTENANCE", "TERMINATE_ON_HOST_MAINTENANCE")

SOURCE = "gcp-metadata"


class GcpSpotNotices:
    """Polls (or long-polls) the GCP metadata server for this VM's preemption (a ``NoticeSource``).

    ``wait_for_change_s`` > 0 makes each ``read`` a ``wait_for_change`` long poll of up to that
    many seconds (the request timeout is the endpoint timeout plus this wait).
    """

    def __init__(self, node: str, endpoint: EndpointOptions | None = None, *, wait_for_change_s: float = 0.0,
                 preemption_notice_s: float = GCP_NOTICE_S, watch_maintenance: bool = False,
                 maintenance_notice_s: float = 60.0, clock: Clock = time.time, sleep: Sleep = time.sleep,
                 transport: httpx.BaseTransport | None = None) -> None:
        if wait_for_change_s < 0:
            raise ValueError(f"wait_for_change_s must not be negative (got {wait_for_change_s})")
        self.node = node
        self.endpoint = endpoint or EndpointOptions(GCP_METADATA_URL)
        self.health = SourceHealth()
        self._wait_s = wait_for_change_s
        self._notice_s = preemption_notice_s
        self._watch_maintenance = watch_maintenance
        self._maintenance_notice_s = maintenance_notice_s
        self._clock = clock
        self._http = MetadataHttp(SOURCE, self.endpoint, sleep=sleep, transport=transport)
        self._etag: str | None = None
        self._preempted_since: float | None = None
        self._maintenance_since: float | None = None
        self._notices = NoticeTracker()

    def poll(self) -> list[Notice]:
        return list(self.poll_reading().notices)

    def poll_reading(self) -> SourceReading:
        reading = guarded_poll(SOURCE, self.read, self.health, self._clock)
        if reading is None:
            return SourceReading()
        return SourceReading(tuple(self._notices.fresh((n.source, n) for n in reading.notices)))

    def read(self) -> SourceReading:
        """What the metadata server says now (after a long poll when configured)."""
        notices: list[Notice] = []
        if self._read_preempted():
            if self._preempted_since is None:
                self._preempted_since = self._clock()
            notices.append(Notice(self.node, "preemption", self._preempted_since + self._notice_s,
                                  f"{SOURCE}:preempted"))
        else:
            self._preempted_since = None
        if self._watch_maintenance:
            if self._read_maintenance() == "TERMINATE_ON_HOST_MAINTENANCE":
                if self._maintenance_since is None:
                    self._maintenance_since = self._clock()
                notices.append(Notice(self.node, "maintenance", self._maintenance_since + self._maintenance_notice_s,
                                      f"{SOURCE}:maintenance-event"))
            else:
                self._maintenance_since = None
        return SourceReading(tuple(notices))

    def close(self) -> None:
        self._http.close()

    def _read_preempted(self) -> bool:
        params: dict[str, str] = {}
        timeout: float | None = None
        if self._wait_s > 0 and self._etag is not None:  # the first read learns the current value and ETag
            params = {"wait_for_change": "true", "timeout_sec": str(max(1, round(self._wait_s)))}
            if self._etag is not None:
                params["last_etag"] = self._etag
            timeout = self.endpoint.timeout_s + self._wait_s
        response = self._get(PREEMPTED_PATH, params, timeout)
        value = response.text.strip()
        if value not in ("TRUE", "FALSE"):
            raise MalformedResponseError(SOURCE, f"instance/preempted is {value[:40]!r}, expected TRUE or FALSE",
                                         url=str(response.url), status=200, body=response.text)
        self._etag = response.headers.get("ETag") or self._etag
        return value == "TRUE"

    def _read_maintenance(self) -> str:
        response = self._get(MAINTENANCE_PATH, {}, None)
        value = response.text.strip()
        if value not in MAINTENANCE_EVENTS:
            raise MalformedResponseError(SOURCE, f"instance/maintenance-event is {value[:60]!r}",
                                         url=str(response.url), status=200, body=response.text)
        return value

    def _get(self, path: str, params: Mapping[str, str], timeout: float | None) -> httpx.Response:
        response = self._http.request("GET", path, headers={FLAVOR_HEADER: FLAVOR}, params=params, timeout_s=timeout)
        if response.status_code != 200:
            raise self._http.unexpected(response, f"GET {path}")
        if response.headers.get(FLAVOR_HEADER) != FLAVOR:
            raise MalformedResponseError(SOURCE, f"the answer to GET {path} lacks '{FLAVOR_HEADER}: {FLAVOR}': "
                                                 "not the metadata server", url=str(response.url), status=200,
                                         body=response.text)
        return response
