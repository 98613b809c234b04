"""The ``InferenceService`` kind: a model served by a scalable set of replicas.

Owns ``ReplicaRange``, ``ReplicaParallelism``, ``ServingAccelerators``, ``ServingResources``,
``Autoscaling``, ``ServiceLevelObjective``, ``ServingSpotPolicy``, ``InferenceServiceSpec`` and
the envelope ``InferenceService``.

Vocabulary: a *replica* is one copy of the model spread over ``tensor x pipeline`` devices
(``devices_per_replica``).  Expert parallelism inside a replica reuses those devices
(as vLLM/SGLang do), so ``expert`` must divide ``tensor x pipeline``.  ``onDemandBase`` is
how many replicas stay on on-demand capacity when spot is allowed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from jobspecs._base import (
    TIMES,
    BoundedRange,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    SpecModel,
    Violation,
    choices,
    divisors,
    fail,
    raise_violations,
)
from jobspecs.common import AcceleratorTypes, ServingScheduling
from jobspecs.envelope import ApiVersion, Metadata, Status
from jobspecs.model import ServingModelSpec

AutoscalingMetric = Literal["concurrency", "tokens_per_second", "gpu_utilization"]


class ReplicaRange(BoundedRange):
    """Bounds of the replica count; a plain integer N means exactly N replicas."""

    min: NonNegativeInt = 1
    """Fewest replicas (0 allows scaling to zero)."""
    max: PositiveInt
    """Most replicas (at least min and at least 1; defaults to min)."""

    @model_validator(mode="before")
    @classmethod
    def _default_max(cls, data: Any) -> Any:
        if isinstance(data, int) and not isinstance(data, bool):
            return {"min": data, "max": data}
        if isinstance(data, dict) and "max" not in data:
            low = data.get("min", 1)
            if isinstance(low, int) and not isinstance(low, bool):
                return {**data, "max": max(low, 1)}
        if not isinstance(data, dict | ReplicaRange):
            fail(
                f"must be a replica count or a mapping with min and max (got {data!r})",
                "write replicas: 2 or replicas: {min: 1, max: 4}",
            )
        return data


class ReplicaParallelism(SpecModel):
    """Layout of one replica."""

    tensor: PositiveInt = 1
    """Tensor-parallel devices per replica."""
    pipeline: PositiveInt = 1
    """Pipeline stages per replica."""
    expert: PositiveInt = 1
    """Expert-parallel ranks per replica (must divide tensor x pipeline)."""

    @property
    def devices_per_replica(self) -> int:
        return self.tensor * self.pipeline


class ServingAccelerators(SpecModel):
    """Which accelerators a replica may use; the count is derived from the parallelism."""

    types: AcceleratorTypes = "any"
    """Acceptable accelerator types in order of preference, or 'any'."""
    min_memory_gib: PositiveFloat | None = Field(default=None, alias="minMemoryGiB")
    """Smallest acceptable device memory in GiB."""


class ServingResources(SpecModel):
    """Resources of one replica."""

    accelerators: ServingAccelerators = ServingAccelerators()
    """Accelerator selector."""


class Autoscaling(SpecModel):
    """What the autoscaler tracks and the per-replica target value."""

    metric: AutoscalingMetric
    """concurrency (in-flight requests), tokens_per_second, or gpu_utilization (0-1]."""
    target: PositiveFloat
    """Target value of the metric per replica."""


class ServiceLevelObjective(SpecModel):
    """Latency and/or throughput the service must deliver; at least one is required."""

    p99_latency_ms: PositiveFloat | None = None
    """99th-percentile request latency in milliseconds."""
    tokens_per_second: PositiveFloat | None = None
    """Aggregate output tokens per second."""

    @model_validator(mode="after")
    def _at_least_one(self) -> ServiceLevelObjective:
        if self.p99_latency_ms is None and self.tokens_per_second is None:
            raise_violations(
                [Violation((), "sets no objective", "set p99LatencyMs, tokensPerSecond, or both")]
            )
        return self


class ServingSpotPolicy(SpecModel):
    """Spot capacity policy of a service (off by default: serving dislikes interruptions)."""

    allowed: bool = False
    """Whether replicas beyond onDemandBase may run on spot capacity."""
    on_demand_base: NonNegativeInt = 1
    """Replicas always kept on on-demand capacity."""
    fallback_to_on_demand: bool = True
    """Replace preempted spot replicas with on-demand ones when spot is unavailable."""


def _same(value: Any) -> Any:
    return value


def _service_violations(spec: InferenceServiceSpec) -> list[Violation]:
    par, model = spec.parallelism, spec.model
    problems: list[Violation] = []
    if par.expert > 1:
        if model.moe is None:
            problems.append(
                Violation(
                    ("parallelism", "expert"),
                    f"expert({par.expert}) needs a mixture-of-experts model, but spec.model.moe is not set",
                    "add spec.model.moe or set expert to 1",
                )
            )
        elif model.moe.experts % par.expert:
            problems.append(
                Violation(
                    ("parallelism", "expert"),
                    f"expert({par.expert}) must divide spec.model.moe.experts ({model.moe.experts})",
                    f"choose expert among {choices(divisors(model.moe.experts))}",
                )
            )
        if par.devices_per_replica % par.expert:
            problems.append(
                Violation(
                    ("parallelism", "expert"),
                    f"expert({par.expert}) must divide tensor {TIMES} pipeline ({par.devices_per_replica}), "
                    "the devices of one replica",
                    f"choose expert among {choices(divisors(par.devices_per_replica))}",
                )
            )
    if model.attention_heads is not None and model.attention_heads % par.tensor:
        problems.append(
            Violation(
                ("parallelism", "tensor"),
                f"tensor({par.tensor}) must divide spec.model.attentionHeads ({model.attention_heads})",
                f"choose tensor among {choices(divisors(model.attention_heads))}",
            )
        )
    kv = model.kv_heads
    if kv is not None and kv % par.tensor and par.tensor % kv:
        problems.append(
            Violation(
                ("parallelism", "tensor"),
                f"tensor({par.tensor}) and spec.model.kvHeads ({kv}) must divide one another "
                "(KV heads are split, or replicated, across tensor ranks)",
                f"choose tensor among {choices(divisors(kv))} or a multiple of {kv}",
            )
        )
    if model.layers is not None and par.pipeline > model.layers:
        problems.append(
            Violation(
                ("parallelism", "pipeline"),
                f"pipeline({par.pipeline}) exceeds spec.model.layers ({model.layers})",
                f"set pipeline to at most {model.layers}",
            )
        )
    if spec.replicas.max > spec.replicas.min and spec.autoscaling is None:
        problems.append(
            Violation(
                ("autoscaling",),
                f"replicas may range from {spec.replicas.min} to {spec.replicas.max}, but no autoscaling "
                "metric is set",
                "add spec.autoscaling {metric, target}, or set replicas.min equal to replicas.max",
            )
        )
    scaling = spec.autoscaling
    if scaling is not None and scaling.metric == "gpu_utilization" and scaling.target > 1:
        problems.append(
            Violation(
                ("autoscaling", "target"),
                f"a gpu_utilization target is a fraction in (0, 1] (got {scaling.target:g})",
                f"write {scaling.target / 100:g}" if scaling.target <= 100 else "write e.g. 0.7",
            )
        )
    if spec.spot.allowed and spec.spot.on_demand_base > spec.replicas.max:
        problems.append(
            Violation(
                ("spot", "onDemandBase"),
                f"onDemandBase ({spec.spot.on_demand_base}) exceeds replicas.max ({spec.replicas.max})",
                f"set onDemandBase to at most {spec.replicas.max}",
            )
        )
    return problems


class InferenceServiceSpec(SpecModel):
    """Desired state of an inference service."""

    model: ServingModelSpec
    """The model being served."""
    replicas: Annotated[ReplicaRange, BeforeValidator(_same, json_schema_input_type=int | ReplicaRange)] = (
        ReplicaRange(min=1, max=1)
    )
    """Replica count bounds; an integer N means exactly N."""
    parallelism: ReplicaParallelism = ReplicaParallelism()
    """Layout of each replica."""
    resources: ServingResources = ServingResources()
    """Accelerator selector per replica."""
    autoscaling: Autoscaling | None = None
    """Autoscaling metric and target (required when replicas.max > replicas.min)."""
    slo: ServiceLevelObjective | None = None
    """Latency/throughput objective."""
    spot: ServingSpotPolicy = ServingSpotPolicy()
    """Spot capacity policy."""
    scheduling: ServingScheduling = ServingScheduling()
    """Queue and priority."""

    @model_validator(mode="after")
    def _check(self) -> InferenceServiceSpec:
        raise_violations(_service_violations(self))
        return self

    @property
    def devices_per_replica(self) -> int:
        """Accelerators of one replica: tensor x pipeline."""
        return self.parallelism.devices_per_replica

    @property
    def max_devices(self) -> int:
        """Accelerators at the largest scale."""
        return self.devices_per_replica * self.replicas.max


class InferenceService(SpecModel):
    """An inference service: envelope plus InferenceServiceSpec."""

    api_version: ApiVersion = "suanli.dev/v1alpha1"
    kind: Literal["InferenceService"] = "InferenceService"
    metadata: Metadata
    spec: InferenceServiceSpec
    status: Status = None
