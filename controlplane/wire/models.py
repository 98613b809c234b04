"""Pydantic models of every object the REST API returns, and of its error body."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

API_VERSION = "suanli.dev/v1alpha1"

T = TypeVar("T")


class WireModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class ObjectMeta(WireModel):
    name: str
    team: str | None = None
    labels: dict[str, str] = {}
    uid: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class AttemptView(WireModel):
    id: str
    number: int
    status: str
    pool: str | None = None
    accelerator: str | None = None
    placement: dict[str, Any] | None = None
    created_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    exit_reason: str | None = None
    progress: dict[str, Any] = {}
    cost_dollars: float = 0.0
    device_hours: float = 0.0


class CostView(WireModel):
    """What a job has cost so far: devices x hours x the pool's price, per pool."""

    dollars: float = 0.0
    device_hours: float = 0.0
    by_pool: dict[str, float] = {}


class TimelineEntry(WireModel):
    at: datetime
    offset_s: float
    """Seconds after the disruption began (the notice, or the attempt's end without one)."""
    what: str


class DisruptionView(WireModel):
    """One time an attempt ended before the job did, and how the job came back."""

    attempt: int
    cause: str
    """``preemption-notice``, ``node-lost``, ``failure``, ``regrow`` or ``stopped``."""
    pool: str | None = None
    nodes: list[str] = []
    began_at: datetime
    notice_deadline: datetime | None = None
    last_step: int | None = None
    """The last step the attempt trained."""
    checkpoint_step: int | None = None
    """The newest checkpoint committed on a tier that outlives the attempt when it ended."""
    next_attempt: int | None = None
    next_pool: str | None = None
    resumed_from_step: int | None = None
    resumed_after_s: float | None = None
    steps_lost: int | None = None
    plan: str | None = None
    """The re-plan the control plane chose (after a notice)."""
    timeline: list[TimelineEntry] = []


class JobStatusView(WireModel):
    phase: str
    message: str | None = None
    queue: str
    priority_class: str
    priority: int
    restarts: int = 0
    attempts: list[AttemptView] = []
    finished_at: datetime | None = None
    cost: CostView = CostView()
    disruptions: list[DisruptionView] = []


class JobView(WireModel):
    api_version: str = API_VERSION
    kind: str
    metadata: ObjectMeta
    spec: dict[str, Any]
    status: JobStatusView


class PoolStatusView(WireModel):
    nodes: int = 0
    ready_nodes: int = 0
    devices: int = 0
    price_per_device_hour: float | None = None
    price_source: str | None = None


class PoolView(WireModel):
    api_version: str = API_VERSION
    kind: str = "AcceleratorPool"
    metadata: ObjectMeta
    spec: dict[str, Any]
    status: PoolStatusView = PoolStatusView()


class QueueView(WireModel):
    api_version: str = API_VERSION
    kind: str = "Queue"
    metadata: ObjectMeta
    spec: dict[str, Any]


class EventView(WireModel):
    seq: int
    time: datetime
    type: str
    entity: str
    entity_id: str
    job_id: str | None = None
    team: str | None = None
    message: str
    data: dict[str, Any] = {}


class Page(WireModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class ApplyOutcome(StrEnum):
    created = "created"
    configured = "configured"
    unchanged = "unchanged"


class ApplyResult(WireModel):
    outcome: ApplyOutcome
    kind: str
    name: str
    team: str | None = None
    object: dict[str, Any]


class HealthView(WireModel):
    status: str
    version: str
    database: str


class ErrorIssue(WireModel):
    path: str | None = None
    message: str
    hint: str | None = None
    file: str | None = None
    line: int | None = None


class ErrorDetail(WireModel):
    code: str
    message: str
    field: str | None = None
    hint: str | None = None
    issues: list[ErrorIssue] = []
    details: dict[str, Any] = {}


class ErrorBody(WireModel):
    error: ErrorDetail


class LogChunk(WireModel):
    """Part of a rank's output: ``lines`` from byte ``offset`` up to ``next_offset``."""

    attempt: int
    rank: int
    lines: list[str]
    offset: int
    next_offset: int
    finished: bool
    """The attempt has ended: no more lines will come."""
