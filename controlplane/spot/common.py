"""What every cloud notice source shares: endpoint options, HTTP with retries, errors, dedup, health.

Vocabulary:
- *endpoint*: the base URL of a metadata service (``http://169.254.169.254`` on AWS and Azure,
  ``http://metadata.google.internal`` on GCP) plus timeouts and retries (``EndpointOptions``).
  Every source takes one, so tests and ``make demo`` point it at a local fake server.
- *notice*: ``controlplane.runtime.types.Notice`` — a node goes away at ``deadline`` (seconds on
  the caller's clock, wall-clock epoch seconds by default).
- *advisory*: a signal with no deadline that raises the risk of a notice (an AWS rebalance
  recommendation). Sources report advisories separately; they never trigger a checkpoint by
  themselves.
- *current state* vs *new notices*: ``read()`` returns what the endpoint says now (raising
  ``SpotSourceError`` on anything unexpected); ``poll()`` returns only notices not reported
  before and never raises for protocol trouble — it logs it and records it in ``health``.

Errors: ``MetadataUnavailableError`` (connection refused, timeout, 5xx after the retries) and
``MalformedResponseError`` (the endpoint answered, but not in its documented format), both
``SpotSourceError``, carrying the source, the URL, the HTTP status and the offending body.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import httpx

from controlplane.runtime.types import Notice

LOGGER = logging.getLogger("controlplane.spot")

Clock = Callable[[], float]
Sleep = Callable[[float], None]

AdvisoryKind = Literal["rebalance-recommendation"]

_BODY_EXCERPT = 200


class SpotSourceError(Exception):
    """A notice source could not tell whether a notice is pending."""

    def __init__(self, source: str, message: str, *, url: str | None = None, status: int | None = None,
                 body: str | None = None) -> None:
        detail = message if url is None else f"{message} ({url}{'' if status is None else f' → HTTP {status}'})"
        super().__init__(f"{source}: {detail}")
        self.source = source
        self.url = url
        self.status = status
        self.body = None if body is None else body[:_BODY_EXCERPT]


class MetadataUnavailableError(SpotSourceError):
    """The metadata endpoint did not answer usefully: unreachable, timed out, or a server error."""


class MalformedResponseError(SpotSourceError):
    """The endpoint answered, but not in the format its cloud documents."""


@dataclass(frozen=True, slots=True)
class EndpointOptions:
    """Where a metadata service is and how patiently to ask it."""

    base_url: str
    timeout_s: float = 2.0
    """Per request (connect and read); long polls add their own wait on top."""
    retries: int = 2
    """Extra tries after a transport error or an HTTP 5xx, within one ``read``."""
    retry_backoff_s: float = 0.2
    """Pause before the first retry; doubles on each further one."""

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"metadata base URL must start with http:// or https:// (got {self.base_url!r})")
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive (got {self.timeout_s})")
        if self.retries < 0:
            raise ValueError(f"retries must not be negative (got {self.retries})")


@dataclass(frozen=True, slots=True)
class Advisory:
    """A risk signal without a deadline (e.g. an AWS rebalance recommendation)."""

    node: str
    kind: AdvisoryKind
    noticed_at: float
    source: str


@dataclass(slots=True)
class SourceHealth:
    """How a source has been doing, for diagnostics (``suanli`` shows it per node)."""

    polls: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    last_error: str | None = None
    last_error_kind: str | None = None
    last_success_at: float | None = None

    def succeeded(self, at: float) -> None:
        self.polls += 1
        self.consecutive_failures = 0
        self.last_success_at = at

    def failed(self, error: Exception) -> None:
        self.polls += 1
        self.failures += 1
        self.consecutive_failures += 1
        self.last_error = str(error)
        self.last_error_kind = type(error).__name__

    def as_dict(self) -> dict[str, object]:
        return {"polls": self.polls, "failures": self.failures, "consecutive_failures": self.consecutive_failures,
                "last_error": self.last_error, "last_error_kind": self.last_error_kind,
                "last_success_at": self.last_success_at}


@dataclass(frozen=True, slots=True)
class SourceReading:
    """What one read of a source found: the notices pending now and any advisories."""

    notices: tuple[Notice, ...] = ()
    advisories: tuple[Advisory, ...] = ()


@dataclass(slots=True)
class NoticeTracker:
    """Remembers which notices were already reported, so each is delivered once.

    A notice is identified by a source-specific key (the AWS action and time, an Azure event id
    and ``NotBefore``...). When a key disappears from the endpoint and comes back it is new again.
    """

    _reported: set[str] = field(default_factory=set)

    def fresh(self, keyed: Iterable[tuple[str, Notice]]) -> list[Notice]:
        pairs = list(keyed)
        new = [notice for key, notice in pairs if key not in self._reported]
        self._reported = {key for key, _ in pairs}
        return new


class MetadataHttp:
    """A thin httpx client for one metadata endpoint: retries on transport errors and 5xx."""

    def __init__(self, source: str, options: EndpointOptions, *, sleep: Sleep = time.sleep,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.source = source
        self.options = options
        self._sleep = sleep
        self._client = httpx.Client(base_url=options.base_url.rstrip("/"), timeout=options.timeout_s,
                                    transport=transport, trust_env=False, follow_redirects=False)

    def request(self, method: str, path: str, *, headers: Mapping[str, str] | None = None,
                params: Mapping[str, str] | None = None, json: object | None = None,
                content: str | None = None, timeout_s: float | None = None) -> httpx.Response:
        """One logical request; 4xx responses are returned to the caller, 5xx and transport errors retried."""
        url = f"{self.options.base_url.rstrip('/')}{path}"
        timeout = self.options.timeout_s if timeout_s is None else timeout_s
        last: SpotSourceError | None = None
        for attempt in range(self.options.retries + 1):
            if attempt:
                self._sleep(self.options.retry_backoff_s * 2 ** (attempt - 1))
            try:
                response = self._client.request(method, path, headers=dict(headers or {}),
                                                params=dict(params or {}), json=json, content=content,
                                                timeout=timeout)
            except httpx.TimeoutException as exc:
                last = MetadataUnavailableError(self.source, f"timed out after {timeout:g}s ({type(exc).__name__})",
                                                url=url)
                continue
            except httpx.HTTPError as exc:
                last = MetadataUnavailableError(self.source, f"unreachable ({type(exc).__name__}: {exc})", url=url)
                continue
            if response.status_code >= 500:
                last = MetadataUnavailableError(self.source, "server error", url=url, status=response.status_code,
                                                body=response.text)
                continue
            return response
        assert last is not None
        raise last

    def unexpected(self, response: httpx.Response, what: str) -> MalformedResponseError:
        return MalformedResponseError(self.source, f"unexpected answer to {what}", url=str(response.url),
                                      status=response.status_code, body=response.text)

    def close(self) -> None:
        self._client.close()


def parse_iso_utc(text: object, *, source: str, what: str) -> float:
    """Epoch seconds of an ISO 8601 UTC time such as ``2017-09-18T08:22:00Z``.

    A time without an offset is taken as UTC (the clouds always mean UTC); anything else that is
    not an ISO 8601 time raises ``MalformedResponseError``.
    """
    if not isinstance(text, str) or not text.strip():
        raise MalformedResponseError(source, f"{what} is not a time string: {text!r}")
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedResponseError(source, f"{what} is not an ISO 8601 time: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def parse_http_date(text: object, *, source: str, what: str) -> float:
    """Epoch seconds of an RFC 1123 date such as ``Mon, 19 Sep 2016 18:29:47 GMT``."""
    if not isinstance(text, str) or not text.strip():
        raise MalformedResponseError(source, f"{what} is not a date string: {text!r}")
    try:
        moment = email.utils.parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError):
        raise MalformedResponseError(source, f"{what} is not an RFC 1123 date: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def format_iso_utc(epoch_s: float) -> str:
    """``2017-09-18T08:22:00Z`` — the form AWS uses."""
    return datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_http_date(epoch_s: float) -> str:
    """``Mon, 19 Sep 2016 18:29:47 GMT`` — the form Azure uses."""
    return email.utils.format_datetime(datetime.fromtimestamp(epoch_s, tz=UTC), usegmt=True)


def guarded_poll(source: str, read: Callable[[], SourceReading], health: SourceHealth, clock: Clock
                 ) -> SourceReading | None:
    """Run ``read``; on a ``SpotSourceError`` log it, record it and return None (never raise)."""
    try:
        reading = read()
    except SpotSourceError as exc:
        health.failed(exc)
        LOGGER.warning("spot notice source unreadable: %s", exc)
        return None
    health.succeeded(clock())
    return reading
