"""Preemption-notice sources in each cloud's real protocol, the per-node agent, and a trace replayer.

- ``aws.AwsSpotNotices``: IMDSv2 ``spot/instance-action`` (+ rebalance recommendations).
- ``gcp.GcpSpotNotices``: metadata ``instance/preempted`` (optionally a ``wait_for_change`` long poll).
- ``azure.AzureScheduledEvents``: Scheduled Events ``Preempt`` (and acknowledgement).
- ``kubernetes.read_node`` / ``KubernetesNodeNotices``: taints and conditions of node objects.
- ``agent.NoticeAgent``: polls a node's sources every few seconds and pushes new notices to a
  sink; ``ray_agents.RayNoticeAgents`` runs one per node as a Ray actor (import it explicitly).
- ``replay``: spot traces as timed notices, removals and returns for ``SimRuntime``.
- ``fake_metadata``: local HTTP servers that speak each cloud's protocol, for tests and demos.

Every source is a ``controlplane.runtime.notices.NoticeSource``: ``poll()`` returns the notices
not reported before and never raises for protocol trouble (it logs it and counts it in
``health``); ``read()`` is the strict variant that raises ``SpotSourceError``.
"""

from controlplane.spot.agent import NoticeAgent, SourceSpec, build_source
from controlplane.spot.aws import AWS_NOTICE_S, AwsSpotNotices
from controlplane.spot.azure import AZURE_NOTICE_S, AzureScheduledEvents
from controlplane.spot.common import (
    Advisory,
    EndpointOptions,
    MalformedResponseError,
    MetadataUnavailableError,
    SourceHealth,
    SourceReading,
    SpotSourceError,
)
from controlplane.spot.gcp import GCP_NOTICE_S, GcpSpotNotices
from controlplane.spot.kubernetes import KubernetesNodeNotices, NodeSignals, read_node
from controlplane.spot.replay import (
    TraceEvent,
    TraceReplayer,
    plan_replay,
    read_count_trace,
    read_event_trace_slots,
)

__all__ = [
    "AWS_NOTICE_S",
    "AZURE_NOTICE_S",
    "GCP_NOTICE_S",
    "Advisory",
    "AwsSpotNotices",
    "AzureScheduledEvents",
    "EndpointOptions",
    "GcpSpotNotices",
    "KubernetesNodeNotices",
    "MalformedResponseError",
    "MetadataUnavailableError",
    "NodeSignals",
    "NoticeAgent",
    "SourceHealth",
    "SourceReading",
    "SourceSpec",
    "SpotSourceError",
    "TraceEvent",
    "TraceReplayer",
    "build_source",
    "plan_replay",
    "read_count_trace",
    "read_event_trace_slots",
    "read_node",
]
