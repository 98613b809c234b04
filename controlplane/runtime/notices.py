"""Where notices come from: ``NoticeSource`` and the in-memory ``NoticeBoard``.

A runtime polls its sources on every ``observe`` and hands new notices to the controller
through the event cursor. Cloud-specific sources (AWS IMDS, GCP metadata, Azure Scheduled
Events, Kubernetes taints) live in ``controlplane.spot`` and implement the same protocol; the
board is for demos, tests and trace replay.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol

from controlplane.runtime.types import Notice


class NoticeSource(Protocol):
    def poll(self) -> Sequence[Notice]:
        """Notices that arrived since the last poll."""
        ...


class NoticeBoard:
    """Notices posted by hand; thread-safe, each delivered once."""

    def __init__(self) -> None:
        self._pending: list[Notice] = []
        self._lock = threading.Lock()

    def post(self, notice: Notice) -> None:
        with self._lock:
            self._pending.append(notice)

    def poll(self) -> Sequence[Notice]:
        with self._lock:
            pending, self._pending = self._pending, []
        return pending
