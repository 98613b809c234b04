"""Suanli's public contract: the spec documents users write, and how to read and write them.

Four kinds share a Kubernetes-style envelope (``apiVersion: suanli.dev/v1alpha1``, ``kind``,
``metadata``, ``spec``, read-only ``status``): ``TrainingJob``, ``InferenceService``,
``AcceleratorPool`` and ``Queue``.  Models are pydantic v2, frozen, reject unknown fields, use
camelCase keys in YAML and snake_case attributes in Python.  This package depends only on
the standard library, pydantic and PyYAML.

Typical use::

    from jobspecs import SpecError, load_file

    try:
        resources = load_file("job.yaml")
    except SpecError as exc:
        print(exc)  # job.yaml:14: spec.parallelism: tensor(8) x pipeline(4) x ...
"""

from jobspecs.checkpoint import CheckpointPolicy, is_durable, tier_scheme
from jobspecs.common import (
    PRIORITY_CLASSES,
    PriorityClass,
    Scheduling,
    ServingScheduling,
    accepts_type,
    priority_rank,
)
from jobspecs.envelope import API_GROUP, API_VERSION, DEFAULT_TEAM, Metadata
from jobspecs.errors import SpecError, SpecIssue
from jobspecs.inference import (
    Autoscaling,
    AutoscalingMetric,
    InferenceService,
    InferenceServiceSpec,
    ReplicaParallelism,
    ReplicaRange,
    ServiceLevelObjective,
    ServingAccelerators,
    ServingResources,
    ServingSpotPolicy,
)
from jobspecs.kinds import KINDS, AnyResource, Kind, Resource, model_for
from jobspecs.loader import (
    dump_json,
    dump_yaml,
    load_file,
    load_text,
    parse_document,
    spec_hash,
    to_document,
)
from jobspecs.model import ModelSpec, MoESpec, Precision, ServingModelSpec
from jobspecs.pool import (
    AcceleratorPool,
    AcceleratorPoolSpec,
    CapacityType,
    NodeRange,
    PoolPrice,
    PoolTopology,
    Provider,
)
from jobspecs.queues import Borrowing, Queue, QueueSpec, Quotas
from jobspecs.schema import crd_manifest, crd_openapi_schema, json_schema
from jobspecs.training import (
    AcceleratorRequest,
    Entrypoint,
    Parallelism,
    Resources,
    SpotPolicy,
    TrainingJob,
    TrainingJobSpec,
)
from jobspecs.units import format_duration, format_quantity, parse_duration, parse_quantity

__all__ = [
    "API_GROUP",
    "API_VERSION",
    "DEFAULT_TEAM",
    "KINDS",
    "PRIORITY_CLASSES",
    "AcceleratorPool",
    "AcceleratorPoolSpec",
    "AcceleratorRequest",
    "AnyResource",
    "Autoscaling",
    "AutoscalingMetric",
    "Borrowing",
    "CapacityType",
    "CheckpointPolicy",
    "Entrypoint",
    "InferenceService",
    "InferenceServiceSpec",
    "Kind",
    "Metadata",
    "MoESpec",
    "ModelSpec",
    "NodeRange",
    "Parallelism",
    "PoolPrice",
    "PoolTopology",
    "Precision",
    "PriorityClass",
    "Provider",
    "Queue",
    "QueueSpec",
    "Quotas",
    "ReplicaParallelism",
    "ReplicaRange",
    "Resource",
    "Resources",
    "Scheduling",
    "ServiceLevelObjective",
    "ServingAccelerators",
    "ServingModelSpec",
    "ServingResources",
    "ServingScheduling",
    "ServingSpotPolicy",
    "SpecError",
    "SpecIssue",
    "SpotPolicy",
    "TrainingJob",
    "TrainingJobSpec",
    "accepts_type",
    "crd_manifest",
    "crd_openapi_schema",
    "dump_json",
    "dump_yaml",
    "format_duration",
    "format_quantity",
    "is_durable",
    "json_schema",
    "load_file",
    "load_text",
    "model_for",
    "parse_document",
    "parse_duration",
    "parse_quantity",
    "priority_rank",
    "spec_hash",
    "tier_scheme",
    "to_document",
]
