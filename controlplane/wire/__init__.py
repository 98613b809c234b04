"""Wire schemas: the REST representation shared by the API (responses), the services (views)
and the typed client (parsing).

Kubernetes-style objects: ``apiVersion``, ``kind``, ``metadata``, ``spec`` and a read-only
``status`` written by Suanli. JSON keys are camelCase; Python attributes snake_case. These are
not the ORM rows and not the jobspecs contract: explicit converters join them.
"""

from controlplane.wire.models import (
    API_VERSION,
    ApplyOutcome,
    ApplyResult,
    AttemptView,
    CostView,
    ErrorBody,
    ErrorDetail,
    ErrorIssue,
    EventView,
    HealthView,
    JobStatusView,
    JobView,
    LogChunk,
    ObjectMeta,
    Page,
    PoolStatusView,
    PoolView,
    QueueView,
)

__all__ = [
    "API_VERSION",
    "ApplyOutcome",
    "ApplyResult",
    "AttemptView",
    "CostView",
    "ErrorBody",
    "ErrorDetail",
    "ErrorIssue",
    "EventView",
    "HealthView",
    "JobStatusView",
    "JobView",
    "LogChunk",
    "ObjectMeta",
    "Page",
    "PoolStatusView",
    "PoolView",
    "QueueView",
]
