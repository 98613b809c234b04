"""Notices from Kubernetes node objects: taints and conditions set by termination handlers.

When Suanli runs under its operator, cloud notices often reach the cluster first through a
termination handler that taints the node. ``read_node`` (pure) turns one node object, as the
API returns it (a dict: ``metadata``, ``spec.taints``, ``status.conditions``), into notices and
advisories; ``KubernetesNodeNotices`` is the ``NoticeSource`` the operator feeds with every
node event it sees.

Signals understood (``DEFAULT_SIGNALS``; each has a kind and a default window, overridable):

============================================================ ============ ===========
taint or condition                                           kind         window (s)
============================================================ ============ ===========
``aws-node-termination-handler/spot-itn``                    preemption   120
``aws-node-termination-handler/asg-lifecycle-termination``   termination  120
``aws-node-termination-handler/scheduled-maintenance``       maintenance  600
``aws-node-termination-handler/rebalance-recommendation``    advisory     —
``cloud.google.com/impending-node-termination`` (GKE)        preemption   30
``ToBeDeletedByClusterAutoscaler``                           termination  600
``karpenter.sh/disrupted``                                   termination  600
``node.kubernetes.io/out-of-service``                        termination  0
``Ready=False`` "node is shutting down" (graceful shutdown)   termination  30
============================================================ ============ ===========

A window counts from when the signal started: the taint's ``timeAdded`` when the API set one
(NoExecute taints), the Unix time the cluster autoscaler writes as its taint's value, else when
this reader first saw it (``first_seen``). The node's Suanli name is its ``suanli.dev/node``
label, else ``metadata.name``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from controlplane.runtime.cluster_definition import NODE_LABEL
from controlplane.runtime.types import Notice, NoticeKind
from controlplane.spot.common import LOGGER, Advisory, Clock, SpotSourceError, parse_iso_utc

SOURCE = "kubernetes"
SHUTDOWN_MESSAGE = "node is shutting down"
SHUTDOWN_SIGNAL = "condition/Ready=False:shutting-down"
REBALANCE_TAINT = "aws-node-termination-handler/rebalance-recommendation"
AUTOSCALER_TAINT = "ToBeDeletedByClusterAutoscaler"


@dataclass(frozen=True, slots=True)
class Signal:
    kind: NoticeKind
    window_s: float


DEFAULT_SIGNALS: Mapping[str, Signal] = {
    "aws-node-termination-handler/spot-itn": Signal("preemption", 120.0),
    "aws-node-termination-handler/asg-lifecycle-termination": Signal("termination", 120.0),
    "aws-node-termination-handler/scheduled-maintenance": Signal("maintenance", 600.0),
    "cloud.google.com/impending-node-termination": Signal("preemption", 30.0),
    AUTOSCALER_TAINT: Signal("termination", 600.0),
    "karpenter.sh/disrupted": Signal("termination", 600.0),
    "node.kubernetes.io/out-of-service": Signal("termination", 0.0),
    SHUTDOWN_SIGNAL: Signal("termination", 30.0),
}


@dataclass(frozen=True, slots=True)
class NodeSignals:
    """What one node object says: its notices, advisories, and what could not be read."""

    node: str
    notices: tuple[Notice, ...] = ()
    advisories: tuple[Advisory, ...] = ()
    problems: tuple[str, ...] = ()
    started: Mapping[str, float] = field(default_factory=dict)
    """When each active signal started (feed it back as ``first_seen``)."""


def node_name(node: Mapping[str, Any]) -> str:
    """The Suanli name of a node object; raises ``SpotSourceError`` when it has none."""
    metadata = node.get("metadata")
    if not isinstance(metadata, Mapping):
        raise SpotSourceError(SOURCE, "node object has no metadata")
    labels = metadata.get("labels") or {}
    if isinstance(labels, Mapping) and isinstance(labels.get(NODE_LABEL), str) and labels[NODE_LABEL]:
        return str(labels[NODE_LABEL])
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        raise SpotSourceError(SOURCE, "node object has no metadata.name")
    return name


def read_node(node: Mapping[str, Any], *, now: float, signals: Mapping[str, Signal] = DEFAULT_SIGNALS,
              first_seen: Mapping[str, float] | None = None) -> NodeSignals:
    """Notices and advisories of one node object at ``now`` (pure; bad entries become ``problems``)."""
    name = node_name(node)
    first_seen = first_seen or {}
    problems: list[str] = []
    active: dict[str, float | None] = {}
    advisories: list[Advisory] = []
    spec = node.get("spec") or {}
    taints = (spec.get("taints") or []) if isinstance(spec, Mapping) else []
    if not isinstance(taints, list):
        problems.append("spec.taints is not a list")
        taints = []
    for index, taint in enumerate(taints):
        if not isinstance(taint, Mapping) or not isinstance(taint.get("key"), str):
            problems.append(f"spec.taints[{index}] has no key")
            continue
        key = taint["key"]
        if key == REBALANCE_TAINT:
            advisories.append(Advisory(name, "rebalance-recommendation", first_seen.get(key, now),
                                       f"{SOURCE}:taint/{key}"))
        elif key in signals:
            active[key] = _taint_start(taint, problems, index)
    if _shutting_down(node, problems) and SHUTDOWN_SIGNAL in signals:
        active[SHUTDOWN_SIGNAL] = None
    notices: list[Notice] = []
    started: dict[str, float] = {}
    for key, declared_start in active.items():
        start = declared_start if declared_start is not None else first_seen.get(key, now)
        started[key] = start
        signal = signals[key]
        label = key if key.startswith("condition/") else f"taint/{key}"
        notices.append(Notice(name, signal.kind, start + signal.window_s, f"{SOURCE}:{label}"))
    for advisory in advisories:
        started[REBALANCE_TAINT] = advisory.noticed_at
    return NodeSignals(name, tuple(notices), tuple(advisories), tuple(problems), started)


def _taint_start(taint: Mapping[str, Any], problems: list[str], index: int) -> float | None:
    added = taint.get("timeAdded")
    if added:
        try:
            return parse_iso_utc(added, source=SOURCE, what=f"spec.taints[{index}].timeAdded")
        except SpotSourceError as exc:
            problems.append(str(exc))
    if taint.get("key") == AUTOSCALER_TAINT:
        value = str(taint.get("value") or "")
        if value.isdigit():
            return float(value)
        problems.append(f"spec.taints[{index}] ({AUTOSCALER_TAINT}) value {value!r} is not a Unix time")
    return None


def _shutting_down(node: Mapping[str, Any], problems: list[str]) -> bool:
    status = node.get("status") or {}
    conditions = (status.get("conditions") or []) if isinstance(status, Mapping) else []
    if not isinstance(conditions, list):
        problems.append("status.conditions is not a list")
        return False
    return any(isinstance(c, Mapping) and c.get("type") == "Ready" and c.get("status") == "False"
               and SHUTDOWN_MESSAGE in str(c.get("message") or "").lower() for c in conditions)


class KubernetesNodeNotices:
    """A ``NoticeSource`` fed with node objects (by the operator's node watch)."""

    def __init__(self, *, signals: Mapping[str, Signal] = DEFAULT_SIGNALS, clock: Clock = time.time) -> None:
        self._signals = signals
        self._clock = clock
        self._first_seen: dict[str, dict[str, float]] = {}
        self._reported: dict[str, set[str]] = {}
        self._pending_notices: list[Notice] = []
        self._pending_advisories: list[Advisory] = []

    def observe(self, node: Mapping[str, Any]) -> None:
        """Take one node object (an ADDED/MODIFIED watch event); malformed parts are logged and skipped."""
        try:
            signals = read_node(node, now=self._clock(), signals=self._signals,
                                first_seen=self._first_seen.get(_safe_name(node), {}))
        except SpotSourceError as exc:
            LOGGER.warning("spot notice source %s: node object ignored: %s", SOURCE, exc)
            return
        for problem in signals.problems:
            LOGGER.warning("spot notice source %s: node %s: %s", SOURCE, signals.node, problem)
        self._first_seen[signals.node] = dict(signals.started)
        reported = self._reported.setdefault(signals.node, set())
        current = {notice.source for notice in signals.notices} | {a.source for a in signals.advisories}
        self._pending_notices.extend(n for n in signals.notices if n.source not in reported)
        self._pending_advisories.extend(a for a in signals.advisories if a.source not in reported)
        self._reported[signals.node] = current

    def forget(self, node: str) -> None:
        """The node object was deleted."""
        self._first_seen.pop(node, None)
        self._reported.pop(node, None)

    def poll(self) -> list[Notice]:
        pending, self._pending_notices = self._pending_notices, []
        return pending

    def poll_advisories(self) -> list[Advisory]:
        pending, self._pending_advisories = self._pending_advisories, []
        return pending


def _safe_name(node: Mapping[str, Any]) -> str:
    try:
        return node_name(node)
    except SpotSourceError:
        return ""
