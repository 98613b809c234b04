"""The local cloud: per-node cloud metadata endpoints, and the cloud's hand that takes nodes away.

``suanli up`` (the stack) runs one ``LocalCloud`` next to the local Ray cluster. For every node
whose provider is ``aws``, ``gcp`` or ``azure`` it serves a fake metadata endpoint of that cloud
on a free loopback port (``controlplane.spot.fake_metadata``), which the controller's notice
agents poll exactly as they would poll 169.254.169.254 or metadata.google.internal. It then
plays the cloud:

* ``preempt(node, in_s, action)`` makes the node's endpoint announce the interruption (AWS:
  ``spot/instance-action`` with the action and time; GCP: ``instance/preempted`` = ``TRUE``;
  Azure: a ``Preempt`` scheduled event with ``NotBefore``) and records the deadline; when the
  deadline passes, ``tick`` reclaims the node: the injected ``remove_node`` kills it at once,
  as a cloud terminates an instance (the stack passes ``LocalRayCluster.remove_node(name,
  graceful=False)``);
* ``remove(node)`` is a hard loss: the node goes now, without notice (any node, on-prem too);
* ``restore(node)`` gives the capacity back: ``restore_node`` starts a node with the same name
  and labels, and its endpoint is clean again (a new instance).

The policy (states, deadlines, reclaiming) takes the clock and both node callables as
arguments, so it runs without Ray. ``start`` adds the side effects: the metadata servers, a
ticker thread and a small JSON control server on loopback, which the CLI (``suanli local``)
drives. Control API (errors are ``{"code", "message", "hint", "details"}`` with 400 for bad
input or a node without a cloud endpoint, 404 for an unknown node, 409 for a node in the wrong
state):

* ``GET /nodes`` → ``{"now": <epoch s>, "nodes": [<node>, ...]}``;
* ``GET /nodes/<name>`` → ``<node>``;
* ``POST /nodes/<name>/preempt`` with ``{"inSeconds": 120, "action": "terminate"}`` (both
  optional: the cloud's usual notice, terminate) → ``<node>`` plus ``"message"``;
* ``POST /nodes/<name>/remove`` and ``POST /nodes/<name>/restore`` → ``<node>`` plus ``"message"``.

A ``<node>`` is ``{"name", "provider", "cloud" (null on-prem), "metadataUrl", "state" ("up",
"preempting", "removed"), "action", "deadline" (epoch s), "deadlineUtc", "removedAt", "reason"}``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, Self
from urllib.parse import unquote, urlsplit

from controlplane.domain.errors import ConflictError, DomainError, InvalidInputError, NotFoundError
from controlplane.spot.aws import AWS_NOTICE_S
from controlplane.spot.azure import AZURE_NOTICE_S
from controlplane.spot.common import format_iso_utc
from controlplane.spot.fake_metadata import (
    FakeAwsImds,
    FakeAzureScheduledEvents,
    FakeGcpMetadata,
    FakeMetadataServer,
)
from controlplane.spot.gcp import GCP_NOTICE_S

log = logging.getLogger("controlplane.local.cloud")

Clock = Callable[[], float]
NodeAction = Callable[[str], None]
NodeState = Literal["up", "preempting", "removed"]

CLOUDS = ("aws", "gcp", "azure")
ACTIONS = ("terminate", "stop", "hibernate")
NOTICE_S: Mapping[str, float] = {"aws": AWS_NOTICE_S, "gcp": GCP_NOTICE_S, "azure": AZURE_NOTICE_S}
"""How far ahead each cloud usually announces a spot interruption (the default ``in_s``)."""
CLOUD_TITLES: Mapping[str, str] = {"aws": "AWS", "gcp": "GCP", "azure": "Azure"}
TICK_S = 0.25
MAX_NOTICE_S = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class CloudNode:
    """A node as the cloud knows it: its name and its provider label."""

    name: str
    provider: str

    @property
    def cloud(self) -> str | None:
        """The cloud whose metadata endpoint this node has (None on-prem)."""
        return self.provider if self.provider in CLOUDS else None


@dataclass(slots=True)
class _Record:
    node: CloudNode
    server: FakeMetadataServer | None
    state: NodeState = "up"
    action: str | None = None
    deadline: float | None = None
    removed_at: float | None = None
    reason: str | None = None


def fake_server_for(node: CloudNode, clock: Clock) -> FakeMetadataServer | None:
    """A (not yet started) metadata endpoint of the node's cloud, speaking on ``clock``."""
    if node.cloud == "aws":
        return FakeAwsImds(clock=clock, instance_id=_instance_id(node.name))
    if node.cloud == "gcp":
        return FakeGcpMetadata(clock=clock, instance_name=node.name)
    if node.cloud == "azure":
        return FakeAzureScheduledEvents(clock=clock, vm_name=node.name)
    return None


class LocalCloud:
    """The local cloud of one cluster; see the module docstring."""

    def __init__(self, nodes: Iterable[CloudNode], *, remove_node: NodeAction, restore_node: NodeAction,
                 clock: Clock = time.time,
                 servers: Callable[[CloudNode, Clock], FakeMetadataServer | None] = fake_server_for) -> None:
        self._clock = clock
        self._remove_node = remove_node
        self._restore_node = restore_node
        self._records = {node.name: _Record(node, servers(node, clock)) for node in nodes}
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._ticker: threading.Thread | None = None
        self._control: ThreadingHTTPServer | None = None
        self._control_thread: threading.Thread | None = None
        self._hand: ThreadPoolExecutor | None = None

    # -- the policy ------------------------------------------------------------------------

    def preempt(self, name: str, in_s: float | None = None, action: str = "terminate") -> dict[str, Any]:
        """Announce the node's interruption on its metadata endpoint; it is reclaimed ``in_s`` from now."""
        if action not in ACTIONS:
            raise InvalidInputError(f"unknown action {action!r}", field="action",
                                    hint=f"use one of {', '.join(ACTIONS)}")
        with self._lock:
            record = self._record(name)
            cloud = record.node.cloud
            if cloud is None or record.server is None:
                raise InvalidInputError(
                    f"{name}'s provider is {record.node.provider}: no cloud metadata endpoint announces a "
                    f"preemption there", field="node",
                    hint=f"`suanli local remove-node {name}` takes it away without notice")
            notice_s = NOTICE_S[cloud] if in_s is None else in_s
            if not math.isfinite(notice_s) or not 0 <= notice_s <= MAX_NOTICE_S:
                raise InvalidInputError(f"the notice must be between 0 and {MAX_NOTICE_S:.0f} seconds "
                                        f"(got {notice_s})", field="inSeconds", hint="e.g. 2m, 30s or 90")
            self._require(record, "up", "preempt")
            now = self._clock()
            deadline = float(math.floor(now + notice_s))  # the clouds state whole seconds
            _announce(record.server, cloud, action, warning_s=deadline - now)
            record.state, record.action, record.deadline = "preempting", action, deadline
            view = self._view(record)
        announcement = _announcement(cloud, action, deadline)
        view["message"] = f"{name}: {announcement}; the node is reclaimed then"
        log.info("local cloud: %s", view["message"])
        return view

    def remove(self, name: str) -> dict[str, Any]:
        """Take the node away now, without notice (a hard loss)."""
        with self._lock:
            record = self._record(name)
            if record.state == "removed":
                raise ConflictError(f"{name} is already removed ({record.reason})",
                                    hint=f"`suanli local restore-node {name}` brings it back")
            self._on_the_hand(self._remove_node, name)
            self._mark_removed(record, "lost without notice")
            view = self._view(record)
        view["message"] = f"{name}: removed without notice (a hard loss)"
        log.info("local cloud: %s", view["message"])
        return view

    def restore(self, name: str) -> dict[str, Any]:
        """Give a removed node's capacity back: same name and labels, a clean metadata endpoint."""
        with self._lock:
            record = self._record(name)
            self._require(record, "removed", "restore")
            self._on_the_hand(self._restore_node, name)
            if record.server is not None:
                _clear(record.server)
            record.state, record.action, record.deadline = "up", None, None
            record.removed_at = record.reason = None
            view = self._view(record)
        view["message"] = f"{name}: restored (a new instance with the same name and labels)"
        log.info("local cloud: %s", view["message"])
        return view

    def tick(self) -> list[str]:
        """Reclaim every node whose preemption deadline has passed; returns their names."""
        reclaimed: list[str] = []
        with self._lock:
            now = self._clock()
            for record in self._records.values():
                if record.state != "preempting" or record.deadline is None or record.deadline > now:
                    continue
                name = record.node.name
                try:
                    self._on_the_hand(self._remove_node, name)
                except Exception:  # it is gone either way: the cloud does not retry a termination
                    log.exception("local cloud: removing %s failed; counting it as reclaimed", name)
                self._mark_removed(record, f"reclaimed after the {record.action} notice")
                reclaimed.append(name)
                log.info("local cloud: %s reclaimed (%s notice, deadline %s)", name, record.action,
                         format_iso_utc(record.deadline))
        return reclaimed

    def now(self) -> float:
        return self._clock()

    def nodes(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._view(record) for record in self._records.values()]

    def node(self, name: str) -> dict[str, Any]:
        with self._lock:
            return self._view(self._record(name))

    # -- what the stack publishes ----------------------------------------------------------

    def metadata(self) -> dict[str, dict[str, str]]:
        """``{node: {"cloud", "url"}}`` for every node with a (started) metadata endpoint."""
        return {name: {"cloud": cloud, "url": url} for name, (cloud, url) in self._endpoints().items()}

    def notice_sources(self) -> dict[str, dict[str, str]]:
        """``{node: {"cloud", "baseUrl"}}``: the controller's ``notice_sources`` setting."""
        return {name: {"cloud": cloud, "baseUrl": url} for name, (cloud, url) in self._endpoints().items()}

    @property
    def control_url(self) -> str:
        if self._control is None:
            raise RuntimeError("the local cloud is not started")
        host, port = self._control.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- side effects ----------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> Self:
        """Start the metadata servers, the reclaiming ticker and the control server."""
        self._stopping.clear()
        self._hand = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-cloud-hand")
        try:
            for record in self._records.values():
                if record.server is not None:
                    record.server.start()
            control = ThreadingHTTPServer((host, port), _control_handler(self))
            control.daemon_threads = True
            self._control = control
            self._control_thread = threading.Thread(target=control.serve_forever, kwargs={"poll_interval": 0.1},
                                                    name="local-cloud-control", daemon=True)
            self._control_thread.start()
            self._ticker = threading.Thread(target=self._tick_forever, name="local-cloud-ticker", daemon=True)
            self._ticker.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._ticker is not None:
            self._ticker.join(timeout=10)
            self._ticker = None
        if self._control is not None:
            self._control.shutdown()
            self._control.server_close()
            self._control = None
        if self._control_thread is not None:
            self._control_thread.join(timeout=5)
            self._control_thread = None
        for record in self._records.values():
            if record.server is not None:
                with contextlib.suppress(Exception):
                    record.server.stop()
        if self._hand is not None:
            self._hand.shutdown(wait=True)
            self._hand = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _tick_forever(self) -> None:
        while not self._stopping.wait(TICK_S):
            try:
                self.tick()
            except Exception:
                log.exception("local cloud: tick failed")

    def _on_the_hand(self, action: NodeAction, name: str) -> None:
        """Run a node call on the cloud's own long-lived thread once started (directly before).

        A Ray node started from a short-lived thread (an HTTP request's) would die with it: Ray
        starts a node's processes with ``PR_SET_PDEATHSIG``, which fires when the *thread* that
        started them ends. Callers hold ``_lock``, so node calls run one at a time either way.
        """
        hand = self._hand
        if hand is None:
            action(name)
            return
        hand.submit(action, name).result()

    # -- helpers ---------------------------------------------------------------------------

    def _record(self, name: str) -> _Record:
        record = self._records.get(name)
        if record is None:
            known = list(self._records)
            raise NotFoundError(f"no node named {name!r} in the local cluster", field="node",
                                hint=f"nodes: {', '.join(known)}", details={"nodes": known})
        return record

    @staticmethod
    def _require(record: _Record, state: NodeState, doing: str) -> None:
        if record.state == state:
            return
        name = record.node.name
        if record.state == "preempting" and record.deadline is not None:
            where = f"is being preempted ({record.action} at {_clock_time(record.deadline)})"
            hint = f"wait until it is reclaimed, or `suanli local remove-node {name}` takes it now"
        elif record.state == "removed":
            where = f"is removed ({record.reason})"
            hint = f"`suanli local restore-node {name}` brings it back"
        else:
            where, hint = "is up", f"`suanli local preempt {name}` or `suanli local remove-node {name}` first"
        raise ConflictError(f"cannot {doing} {name}: it {where}", field="node", hint=hint)

    def _mark_removed(self, record: _Record, reason: str) -> None:
        record.state, record.removed_at, record.reason = "removed", self._clock(), reason

    def _endpoints(self) -> dict[str, tuple[str, str]]:
        found: dict[str, tuple[str, str]] = {}
        for name, record in self._records.items():
            if record.server is not None and record.node.cloud is not None:
                with contextlib.suppress(RuntimeError):  # not started
                    found[name] = (record.node.cloud, record.server.base_url)
        return found

    def _view(self, record: _Record) -> dict[str, Any]:
        url = None
        if record.server is not None:
            with contextlib.suppress(RuntimeError):
                url = record.server.base_url
        return {"name": record.node.name, "provider": record.node.provider, "cloud": record.node.cloud,
                "metadataUrl": url, "state": record.state, "action": record.action, "deadline": record.deadline,
                "deadlineUtc": format_iso_utc(record.deadline) if record.deadline is not None else None,
                "removedAt": record.removed_at, "reason": record.reason}


def _announce(server: FakeMetadataServer, cloud: str, action: str, *, warning_s: float) -> None:
    if isinstance(server, FakeAwsImds):
        server.preempt(action=action, warning_s=warning_s)
    elif isinstance(server, FakeAzureScheduledEvents):
        server.preempt(warning_s=warning_s)
    elif isinstance(server, FakeGcpMetadata):
        server.preempt()
    else:  # pragma: no cover - an injected server of another kind
        raise InvalidInputError(f"no way to announce a preemption on a {cloud} endpoint")


def _clear(server: FakeMetadataServer) -> None:
    clear = getattr(server, "clear", None)
    if callable(clear):
        clear()


def _announcement(cloud: str, action: str, deadline: float) -> str:
    at = _clock_time(deadline)
    if cloud == "aws":
        return f"the AWS metadata endpoint now announces {action} at {at}"
    if cloud == "gcp":
        return (f"the GCP metadata endpoint now answers preempted=TRUE (it carries no time; notice agents assume "
                f"{GCP_NOTICE_S:.0f}s), {action} at {at}")
    return f"Azure Scheduled Events now list a Preempt event with NotBefore {at} ({action})"


def _clock_time(epoch_s: float) -> str:
    """``12:01:30Z``: a UTC time of day."""
    return datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%H:%M:%SZ")


def _instance_id(name: str) -> str:
    """A stable EC2-style instance id for a node name."""
    return f"i-{hashlib.sha1(name.encode()).hexdigest()[:17]}"


# -- the control server ---------------------------------------------------------------------

_NODE_PATH = re.compile(r"^/nodes/(?P<name>[^/]+)(?:/(?P<verb>preempt|remove|restore))?/?$")
_STATUS_OF = ((InvalidInputError, 400), (NotFoundError, 404), (ConflictError, 409))


def _control_handler(cloud: LocalCloud) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "SuanliLocalCloud/1"

        def _reply(self, status: int, document: Mapping[str, Any]) -> None:
            payload = json.dumps(document).encode("utf-8")
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
            try:
                status, document = _dispatch(cloud, self.command, urlsplit(self.path).path, body)
            except DomainError as error:
                status = next((code for kind, code in _STATUS_OF if isinstance(error, kind)), 400)
                status, document = status, error.to_dict()
            except Exception as error:  # a node that failed to start or stop: say so, keep serving
                log.exception("local cloud: %s %s failed", self.command, self.path)
                status, document = 500, {"code": "error", "message": f"{type(error).__name__}: {error}"}
            self._reply(status, document)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


def _dispatch(cloud: LocalCloud, method: str, path: str, body: str) -> tuple[int, dict[str, Any]]:
    if path.rstrip("/") == "/nodes":
        if method != "GET":
            return 405, {"code": "method", "message": f"{method} {path} is not allowed; use GET"}
        return 200, {"now": cloud.now(), "nodes": cloud.nodes()}
    match = _NODE_PATH.match(path)
    if match is None:
        return 404, {"code": "not_found", "message": f"no route {path}",
                     "hint": "GET /nodes, POST /nodes/<name>/preempt|remove|restore"}
    name, verb = unquote(match["name"]), match["verb"]
    if verb is None:
        return (200, cloud.node(name)) if method == "GET" else (405, {"code": "method", "message": "use GET"})
    if method != "POST":
        return 405, {"code": "method", "message": f"{method} {path} is not allowed; use POST"}
    if verb == "remove":
        return 200, cloud.remove(name)
    if verb == "restore":
        return 200, cloud.restore(name)
    arguments = _json_object(body)
    in_s = arguments.get("inSeconds")
    if in_s is not None and (isinstance(in_s, bool) or not isinstance(in_s, int | float)):
        raise InvalidInputError(f"inSeconds must be a number of seconds (got {in_s!r})", field="inSeconds")
    action = arguments.get("action", "terminate")
    if not isinstance(action, str):
        raise InvalidInputError(f"action must be a string (got {action!r})", field="action")
    return 200, cloud.preempt(name, None if in_s is None else float(in_s), action)


def _json_object(body: str) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        document = json.loads(body)
    except ValueError as error:
        raise InvalidInputError(f"the body is not JSON: {error}", hint='send {"inSeconds": 120}') from None
    if not isinstance(document, dict):
        raise InvalidInputError("the body must be a JSON object", hint='send {"inSeconds": 120}')
    return document
