"""Local stand-ins for the clouds' metadata services, speaking each one's protocol exactly.

Tests and ``make demo`` point the notice sources (``EndpointOptions(base_url=server.base_url)``)
at one of these servers and inject a preemption with a method call (``server.preempt()``) or,
from another process, with ``POST /__fake__/<command>`` and a JSON object of arguments.

- ``FakeAwsImds``: IMDSv2 only. ``PUT /latest/api/token`` needs
  ``X-aws-ec2-metadata-token-ttl-seconds`` in 1..21600 (else 400; ``X-Forwarded-For`` → 403);
  every ``GET`` needs a live ``X-aws-ec2-metadata-token`` (else 401).
  ``/latest/meta-data/spot/instance-action``, ``.../spot/termination-time`` and
  ``.../events/recommendations/rebalance`` answer 404 until a notice is injected.
- ``FakeGcpMetadata``: ``/computeMetadata/v1/...`` needs ``Metadata-Flavor: Google`` (else 403)
  and answers with that header and an ``ETag``; ``instance/preempted`` is ``FALSE`` until
  ``preempt()``; ``?wait_for_change=true`` blocks until the value changes (at once when
  ``last_etag`` is stale) or ``timeout_sec`` passes.
- ``FakeAzureScheduledEvents``: ``/metadata/scheduledevents`` needs ``Metadata: true`` and a
  supported ``api-version`` (else 400 with a JSON error); ``schedule()`` adds an event,
  ``POST`` ``{"StartRequests": [{"EventId": ...}]}`` acknowledges it (it turns ``Started``).

Every server can also misbehave on purpose: ``malformed_body`` (the notice endpoint returns that
body with HTTP 200), ``delay_s`` (every answer waits that long: client timeouts),
``fail_next(n, status)`` (the next ``n`` requests get a server error), and records each request
in ``requests``. ``python -m controlplane.spot.fake_metadata aws|gcp|azure --port N`` runs one
in the foreground.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from controlplane.spot.common import format_http_date, format_iso_utc

CONTROL_PREFIX = "/__fake__/"


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: str


@dataclass(slots=True)
class Reply:
    status: int
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/plain"


class FakeMetadataServer:
    """A threaded HTTP server on 127.0.0.1 with an injectable clock; subclasses speak a protocol."""

    cloud = "fake"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.requests: list[RecordedRequest] = []
        self.malformed_body: str | None = None
        self.delay_s = 0.0
        self._host, self._port = host, port
        self._state = threading.Condition()
        self._stopping = threading.Event()
        self._failures: list[int] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        self._stopping.clear()
        server = ThreadingHTTPServer((self._host, self._port), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"fake-{self.cloud}-metadata", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._state:
            self._state.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake metadata server is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- misbehaviour ------------------------------------------------------------------------

    def fail_next(self, count: int = 1, status: int = 500) -> None:
        """The next ``count`` requests get HTTP ``status`` (a server error by default)."""
        with self._state:
            self._failures.extend([status] * count)

    def requests_to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        with self._state:
            return [r for r in self.requests if r.path == path and (method is None or r.method == method)]

    # -- dispatch ----------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str],
               body: str) -> Reply:
        with self._state:
            self.requests.append(RecordedRequest(method, path, dict(query), dict(headers), body))
            failure = self._failures.pop(0) if self._failures else None
        if path.startswith(CONTROL_PREFIX) and method == "POST":
            return self._control(path[len(CONTROL_PREFIX):], body)
        if self.delay_s > 0 and self._stopping.wait(self.delay_s):
            return Reply(503, "shutting down")
        if failure is not None:
            return Reply(failure, "injected failure")
        return self.respond(method, path, query, headers, body)

    def respond(self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str],
                body: str) -> Reply:
        raise NotImplementedError

    def commands(self) -> dict[str, Callable[..., Any]]:
        """Commands reachable through ``POST /__fake__/<name>``."""
        return {}

    def _control(self, name: str, body: str) -> Reply:
        command = self.commands().get(name)
        if command is None:
            return Reply(404, json.dumps({"error": f"no command {name!r}", "commands": sorted(self.commands())}),
                         content_type="application/json")
        try:
            arguments = json.loads(body) if body.strip() else {}
            result = command(**arguments)
        except (TypeError, ValueError) as exc:
            return Reply(400, json.dumps({"error": str(exc)}), content_type="application/json")
        return Reply(200, json.dumps({"ok": True, "result": result}), content_type="application/json")

    def _changed(self) -> None:
        """Call with ``self._state`` held after changing what the endpoints say."""
        self._state.notify_all()


def _handler_for(fake: FakeMetadataServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "SuanliFakeMetadata/1"

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            query = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
            headers = {key: value for key, value in self.headers.items()}
            reply = fake.handle(self.command, parts.path, query, headers, body)
            payload = reply.body.encode("utf-8")
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(payload)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                self.close_connection = True

        do_GET = do_PUT = do_POST = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    return next((value for key, value in headers.items() if key.lower() == lowered), None)


# -- AWS ----------------------------------------------------------------------------------------

class FakeAwsImds(FakeMetadataServer):
    """AWS instance metadata, IMDSv2 required (see the module docstring)."""

    cloud = "aws"

    def __init__(self, *, instance_id: str = "i-0fa1ce5ba7c0ffee0", **options: Any) -> None:
        super().__init__(**options)
        self.instance_id = instance_id
        self._tokens: dict[str, float] = {}
        self._instance_action: dict[str, str] | None = None
        self._rebalance: dict[str, str] | None = None

    def preempt(self, action: str = "terminate", warning_s: float = 120.0) -> str:
        """Mark the instance for interruption ``warning_s`` from now; returns the notice time."""
        with self._state:
            notice_time = format_iso_utc(int(self.clock() + warning_s))
            self._instance_action = {"action": action, "time": notice_time}
            self._changed()
        return notice_time

    def recommend_rebalance(self) -> str:
        with self._state:
            notice_time = format_iso_utc(int(self.clock()))
            self._rebalance = {"noticeTime": notice_time}
            self._changed()
        return notice_time

    def clear(self) -> None:
        with self._state:
            self._instance_action = self._rebalance = None
            self._changed()

    def expire_tokens(self) -> None:
        """Every issued token is refused from now on (as after its TTL)."""
        with self._state:
            self._tokens.clear()

    def commands(self) -> dict[str, Callable[..., Any]]:
        return {"preempt": self.preempt, "rebalance": self.recommend_rebalance, "clear": self.clear,
                "expire-tokens": self.expire_tokens}

    def respond(self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str],
                body: str) -> Reply:
        if _header(headers, "X-Forwarded-For") is not None:
            return Reply(403, "Forbidden")
        if path == "/latest/api/token":
            return self._issue_token(method, headers) if method == "PUT" else Reply(405, "Method Not Allowed")
        if method != "GET":
            return Reply(405, "Method Not Allowed")
        if not self._token_valid(_header(headers, "X-aws-ec2-metadata-token")):
            return Reply(401, "Unauthorized")
        with self._state:
            action, rebalance = self._instance_action, self._rebalance
        not_found = Reply(404, "404 - Not Found")
        if path == "/latest/meta-data/spot/instance-action":
            if self.malformed_body is not None:
                return Reply(200, self.malformed_body)
            return not_found if action is None else Reply(200, json.dumps(action))
        if path == "/latest/meta-data/spot/termination-time":
            return not_found if action is None or action["action"] != "terminate" else Reply(200, action["time"])
        if path == "/latest/meta-data/events/recommendations/rebalance":
            return not_found if rebalance is None else Reply(200, json.dumps(rebalance))
        if path == "/latest/meta-data/instance-id":
            return Reply(200, self.instance_id)
        if path == "/latest/meta-data/instance-life-cycle":
            return Reply(200, "spot")
        return not_found

    def _issue_token(self, method: str, headers: Mapping[str, str]) -> Reply:
        ttl_text = _header(headers, "X-aws-ec2-metadata-token-ttl-seconds")
        if ttl_text is None or not ttl_text.strip().isdigit() or not 1 <= int(ttl_text) <= 21600:
            return Reply(400, "Bad Request")
        token = secrets.token_urlsafe(40)
        with self._state:
            self._tokens[token] = self.clock() + int(ttl_text)
        return Reply(200, token, headers={"X-aws-ec2-metadata-token-ttl-seconds": ttl_text.strip()})

    def _token_valid(self, token: str | None) -> bool:
        with self._state:
            expires_at = self._tokens.get(token or "")
        return expires_at is not None and self.clock() < expires_at


# -- GCP ----------------------------------------------------------------------------------------

class FakeGcpMetadata(FakeMetadataServer):
    """GCP Compute Engine metadata (see the module docstring)."""

    cloud = "gcp"
    PREFIX = "/computeMetadata/v1/"

    def __init__(self, *, instance_name: str = "suanli-worker-0", **options: Any) -> None:
        super().__init__(**options)
        self.instance_name = instance_name
        self._preempted = False
        self._maintenance_event = "NONE"

    def preempt(self) -> None:
        with self._state:
            self._preempted = True
            self._changed()

    def schedule_maintenance(self, event: str = "TERMINATE_ON_HOST_MAINTENANCE") -> None:
        with self._state:
            self._maintenance_event = event
            self._changed()

    def clear(self) -> None:
        with self._state:
            self._preempted = False
            self._maintenance_event = "NONE"
            self._changed()

    def commands(self) -> dict[str, Callable[..., Any]]:
        return {"preempt": self.preempt, "maintenance": self.schedule_maintenance, "clear": self.clear}

    def _value(self, path: str) -> str | None:
        values = {"instance/preempted": "TRUE" if self._preempted else "FALSE",
                  "instance/maintenance-event": self._maintenance_event,
                  "instance/name": self.instance_name,
                  "instance/scheduling/preemptible": "TRUE"}
        return values.get(path[len(self.PREFIX):])

    def respond(self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str],
                body: str) -> Reply:
        if _header(headers, "X-Forwarded-For") is not None:
            return Reply(403, "Forbidden: X-Forwarded-For is not allowed.")
        if not path.startswith(self.PREFIX):
            return Reply(404, "Not Found")
        if _header(headers, "Metadata-Flavor") != "Google":
            return Reply(403, "Missing Metadata-Flavor:Google header.")
        if method != "GET":
            return Reply(405, "Method Not Allowed")
        with self._state:
            value = self._value(path)
            if value is None:
                return Reply(404, "Not Found", headers={"Metadata-Flavor": "Google"})
            if query.get("wait_for_change", "").lower() == "true":
                value = self._wait_for_change(path, value, query)
        if self.malformed_body is not None and path.endswith("/preempted"):
            return Reply(200, self.malformed_body, headers={"Metadata-Flavor": "Google"})
        return Reply(200, value, headers={"Metadata-Flavor": "Google", "ETag": _etag(value)},
                     content_type="application/text")

    def _wait_for_change(self, path: str, value: str, query: Mapping[str, str]) -> str:
        """Called with the state lock held: block until the value's ETag differs from ``last_etag``."""
        baseline = query.get("last_etag") or _etag(value)
        try:
            timeout = float(query.get("timeout_sec", "3600"))
        except ValueError:
            timeout = 3600.0
        deadline = time.monotonic() + timeout
        while _etag(value) == baseline and not self._stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._state.wait(remaining)
            value = self._value(path) or value
        return value


def _etag(value: str) -> str:
    return hashlib.sha1(value.encode("utf-8")).hexdigest()[:16]


# -- Azure --------------------------------------------------------------------------------------

AZURE_API_VERSIONS = ("2017-11-01", "2019-01-01", "2019-08-01", "2020-07-01")


class FakeAzureScheduledEvents(FakeMetadataServer):
    """Azure Scheduled Events (see the module docstring)."""

    cloud = "azure"
    PATH = "/metadata/scheduledevents"

    def __init__(self, *, vm_name: str = "suanli-worker-0", **options: Any) -> None:
        super().__init__(**options)
        self.vm_name = vm_name
        self.acknowledged: list[str] = []
        self._events: dict[str, dict[str, Any]] = {}
        self._incarnation = 1

    def schedule(self, event_type: str = "Preempt", warning_s: float = 30.0,
                 resources: list[str] | None = None) -> str:
        """Add an event starting ``warning_s`` from now; returns its ``EventId``."""
        event_id = str(uuid.uuid4()).upper()
        with self._state:
            self._events[event_id] = {
                "EventId": event_id, "EventType": event_type, "ResourceType": "VirtualMachine",
                "Resources": list(resources) if resources is not None else [self.vm_name],
                "EventStatus": "Scheduled", "NotBefore": format_http_date(int(self.clock() + warning_s)),
                "Description": "Virtual machine is being evicted from Azure Spot capacity." if event_type == "Preempt"
                else f"Scheduled {event_type.lower()}.",
                "EventSource": "Platform", "DurationInSeconds": -1,
            }
            self._incarnation += 1
            self._changed()
        return event_id

    def preempt(self, warning_s: float = 30.0) -> str:
        return self.schedule("Preempt", warning_s)

    def complete(self, event_id: str) -> None:
        """The event happened: it leaves the document."""
        with self._state:
            if self._events.pop(event_id, None) is not None:
                self._incarnation += 1
                self._changed()

    def clear(self) -> None:
        with self._state:
            self._events.clear()
            self._incarnation += 1
            self._changed()

    def commands(self) -> dict[str, Callable[..., Any]]:
        return {"preempt": self.preempt, "schedule": self.schedule, "complete": self.complete, "clear": self.clear}

    def document(self) -> dict[str, Any]:
        with self._state:
            return {"DocumentIncarnation": self._incarnation, "Events": [dict(e) for e in self._events.values()]}

    def respond(self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str],
                body: str) -> Reply:
        if _header(headers, "X-Forwarded-For") is not None:
            return _azure_error("Bad request. X-Forwarded-For header is not supported")
        if _header(headers, "Metadata") != "true":
            return _azure_error("Bad request. Required metadata header not specified")
        version = query.get("api-version")
        if version is None:
            return _azure_error("Bad request. api-version was not specified in the request")
        if version not in AZURE_API_VERSIONS:
            return Reply(400, json.dumps({"error": "Bad request. api-version is invalid or was not specified in the "
                                                   "request.", "newest-versions": list(AZURE_API_VERSIONS[::-1])}),
                         content_type="application/json")
        if path == "/metadata/instance/compute/name" and method == "GET":
            return Reply(200, self.vm_name)
        if path != self.PATH:
            return Reply(404, json.dumps({"error": "Not found"}), content_type="application/json")
        if method == "GET":
            if self.malformed_body is not None:
                return Reply(200, self.malformed_body, content_type="application/json")
            return Reply(200, json.dumps(self.document()), content_type="application/json")
        if method == "POST":
            return self._acknowledge(body)
        return Reply(405, json.dumps({"error": "Method not allowed"}), content_type="application/json")

    def _acknowledge(self, body: str) -> Reply:
        try:
            requests = json.loads(body)["StartRequests"]
            event_ids = [str(item["EventId"]) for item in requests]
        except (ValueError, KeyError, TypeError):
            return _azure_error("Bad request. The body must be {\"StartRequests\": [{\"EventId\": ...}]}")
        with self._state:
            for event_id in event_ids:
                event = self._events.get(event_id)
                if event is None:
                    continue
                event["EventStatus"], event["NotBefore"] = "Started", ""
                self.acknowledged.append(event_id)
            self._incarnation += 1
            self._changed()
        return Reply(200, "", content_type="application/json")


def _azure_error(message: str) -> Reply:
    return Reply(400, json.dumps({"error": message}), content_type="application/json")


FAKE_SERVERS: dict[str, type[FakeMetadataServer]] = {
    "aws": FakeAwsImds, "gcp": FakeGcpMetadata, "azure": FakeAzureScheduledEvents}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a fake cloud metadata endpoint on 127.0.0.1.")
    parser.add_argument("cloud", choices=sorted(FAKE_SERVERS))
    parser.add_argument("--port", type=int, default=0)
    arguments = parser.parse_args(argv)
    server = FAKE_SERVERS[arguments.cloud](port=arguments.port).start()
    print(f"{arguments.cloud} metadata at {server.base_url}; inject with: curl -X POST "
          f"{server.base_url}{CONTROL_PREFIX}preempt", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
