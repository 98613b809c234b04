"""AWS spot interruption notices from the instance metadata service (IMDSv2).

Protocol (AWS EC2 user guide, "Instance metadata service version 2" and "Spot Instance
interruption notices"):

- a session token comes from ``PUT /latest/api/token`` with the header
  ``X-aws-ec2-metadata-token-ttl-seconds: <1..21600>``; every read then carries
  ``X-aws-ec2-metadata-token: <token>``. A missing, unknown or expired token gets HTTP 401, so
  the source reuses its token until shortly before its TTL ends and fetches a new one once on a 401;
- ``GET /latest/meta-data/spot/instance-action`` answers ``{"action": "terminate"|"stop"|"hibernate",
  "time": "2017-09-18T08:22:00Z"}`` once the instance is marked for interruption (about two
  minutes ahead of ``time``) and 404 otherwise;
- ``GET /latest/meta-data/events/recommendations/rebalance`` answers ``{"noticeTime": "..."}``
  when the instance is at elevated risk of interruption (an *advisory*, not a notice) and 404
  otherwise.

Every notice becomes ``Notice(node, "preemption", deadline=<time>, source="aws-imds:<action>")``;
the deadline is the epoch time AWS gave, as seen on ``clock`` (wall-clock seconds by default).
"""

from __future__ import annotations

import json
import time

import httpx

from controlplane.runtime.types import Notice
from controlplane.spot.common import (
    LOGGER,
    Advisory,
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
    parse_iso_utc,
)

AWS_METADATA_URL = "http://169.254.169.254"
TOKEN_PATH = "/latest/api/token"
INSTANCE_ACTION_PATH = "/latest/meta-data/spot/instance-action"
REBALANCE_PATH = "/latest/meta-data/events/recommendations/rebalance"
TOKEN_TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
SPOT_ACTIONS = ("terminate", "stop", "hibernate")
MAX_TOKEN_TTL_S = 21600
AWS_NOTICE_S = 120.0
"""How far ahead AWS warns of a spot interruption."""

SOURCE = "aws-imds"


class AwsSpotNotices:
    """Polls IMDSv2 for this node's spot interruption notice (a ``NoticeSource``)."""

    def __init__(self, node: str, endpoint: EndpointOptions | None = None, *, token_ttl_s: int = MAX_TOKEN_TTL_S,
                 token_refresh_margin_s: float = 60.0, watch_rebalance: bool = True, clock: Clock = time.time,
                 sleep: Sleep = time.sleep, transport: httpx.BaseTransport | None = None) -> None:
        if not 1 <= token_ttl_s <= MAX_TOKEN_TTL_S:
            raise ValueError(f"token_ttl_s must be between 1 and {MAX_TOKEN_TTL_S} (got {token_ttl_s})")
        self.node = node
        self.endpoint = endpoint or EndpointOptions(AWS_METADATA_URL)
        self.health = SourceHealth()
        self._token_ttl_s = token_ttl_s
        self._refresh_margin_s = min(token_refresh_margin_s, token_ttl_s / 2)
        self._watch_rebalance = watch_rebalance
        self._clock = clock
        self._http = MetadataHttp(SOURCE, self.endpoint, sleep=sleep, transport=transport)
        self._token: str | None = None
        self._token_expires_at = 0.0
        self._notices = NoticeTracker()
        self._advisories_seen: set[float] = set()
        self.tokens_fetched = 0
        self.advisory_errors = 0

    # -- NoticeSource ----------------------------------------------------------------------

    def poll(self) -> list[Notice]:
        """Notices not reported before; protocol trouble is logged and recorded in ``health``."""
        return list(self.poll_reading().notices)

    def poll_reading(self) -> SourceReading:
        """New notices and new advisories since the last poll (never raises ``SpotSourceError``)."""
        reading = guarded_poll(SOURCE, self.read, self.health, self._clock)
        if reading is None:
            return SourceReading()
        notices = self._notices.fresh((f"{n.source}@{n.deadline}", n) for n in reading.notices)
        advisories = [a for a in reading.advisories if a.noticed_at not in self._advisories_seen]
        self._advisories_seen.update(a.noticed_at for a in reading.advisories)
        return SourceReading(tuple(notices), tuple(advisories))

    # -- reading the endpoint --------------------------------------------------------------

    def read(self) -> SourceReading:
        """What IMDS says now; raises ``SpotSourceError`` when it cannot be read or parsed."""
        notices: tuple[Notice, ...] = ()
        action = self._get(INSTANCE_ACTION_PATH)
        if action is not None:
            notices = (self._parse_instance_action(action),)
        advisories: tuple[Advisory, ...] = ()
        if self._watch_rebalance:
            try:
                rebalance = self._get(REBALANCE_PATH)
                if rebalance is not None:
                    advisories = (self._parse_rebalance(rebalance),)
            except SpotSourceError as exc:  # an unreadable advisory must not hide the notice
                self.advisory_errors += 1
                LOGGER.warning("spot notice source %s: rebalance recommendation ignored: %s", SOURCE, exc)
        return SourceReading(notices, advisories)

    def close(self) -> None:
        self._http.close()

    def _get(self, path: str) -> httpx.Response | None:
        """The 200 response for ``path``, or None on 404; refreshes the token once on 401."""
        for attempt in range(2):
            response = self._http.request("GET", path, headers={TOKEN_HEADER: self._session_token()})
            if response.status_code == 401 and attempt == 0:
                self._token = None
                continue
            if response.status_code == 404:
                return None
            if response.status_code != 200:
                raise self._http.unexpected(response, f"GET {path}")
            return response
        raise MalformedResponseError(SOURCE, "a fresh IMDSv2 token was refused (HTTP 401)", url=path, status=401)

    def _session_token(self) -> str:
        now = self._clock()
        if self._token is not None and now < self._token_expires_at - self._refresh_margin_s:
            return self._token
        response = self._http.request("PUT", TOKEN_PATH, headers={TOKEN_TTL_HEADER: str(self._token_ttl_s)})
        token = response.text.strip()
        if response.status_code != 200 or not token:
            raise self._http.unexpected(response, f"PUT {TOKEN_PATH} (IMDSv2 session token)")
        self._token = token
        self._token_expires_at = now + self._token_ttl_s
        self.tokens_fetched += 1
        return token

    def _parse_instance_action(self, response: httpx.Response) -> Notice:
        document = _json_object(response, "spot/instance-action")
        action = document.get("action")
        if action not in SPOT_ACTIONS:
            raise MalformedResponseError(SOURCE, f"spot/instance-action has action {action!r}, expected one of "
                                                 f"{', '.join(SPOT_ACTIONS)}", body=response.text)
        deadline = parse_iso_utc(document.get("time"), source=SOURCE, what="spot/instance-action time")
        return Notice(self.node, "preemption", deadline, f"{SOURCE}:{action}")

    def _parse_rebalance(self, response: httpx.Response) -> Advisory:
        document = _json_object(response, "events/recommendations/rebalance")
        noticed_at = parse_iso_utc(document.get("noticeTime"), source=SOURCE, what="rebalance noticeTime")
        return Advisory(self.node, "rebalance-recommendation", noticed_at, f"{SOURCE}:rebalance")


def _json_object(response: httpx.Response, what: str) -> dict[str, object]:
    try:
        document = json.loads(response.text)
    except ValueError:
        raise MalformedResponseError(SOURCE, f"{what} is not JSON", body=response.text) from None
    if not isinstance(document, dict):
        raise MalformedResponseError(SOURCE, f"{what} is not a JSON object", body=response.text)
    return document
