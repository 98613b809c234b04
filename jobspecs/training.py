"""The ``TrainingJob`` kind: what to run, on how many accelerators, split how.

Owns ``Entrypoint``, ``AcceleratorRequest``, ``Resources``, ``Parallelism``, ``SpotPolicy``,
``TrainingJobSpec`` and the envelope ``TrainingJob``, plus the rules that tie the parallel
layout to the device count and to the model's shape (see ``_layout_violations``).

Vocabulary (Megatron conventions): the world is ``tensor x pipeline x context x data`` ranks;
*expert* parallelism is carved out of the ``data x context`` ranks, so it multiplies nothing.
"""

from __future__ import annotations

import re
from typing import Any, Final, Literal

from pydantic import Field, field_validator, model_validator

from jobspecs._base import (
    TIMES,
    NonNegativeFloat,
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
from jobspecs.checkpoint import CheckpointPolicy
from jobspecs.common import AcceleratorTypes, Scheduling
from jobspecs.envelope import ApiVersion, Metadata, Status
from jobspecs.model import ModelSpec

FUNCTION_PATTERN: Final = r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$"
_FUNCTION = re.compile(FUNCTION_PATTERN)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Entrypoint(SpecModel):
    """What each worker runs: a command line or a Python function (exactly one)."""

    command: tuple[str, ...] | None = None
    """Command line as a list, e.g. [python, -m, train]."""
    function: str | None = None
    """Python callable as "package.module:function"."""
    working_dir: str | None = None
    """Working directory of the workers."""
    env: dict[str, str] = Field(default_factory=dict)
    """Extra environment variables (numbers are turned into strings)."""

    @field_validator("command", mode="before")
    @classmethod
    def _command_is_a_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            fail(
                "must be a list of arguments, not a single string",
                f"write command: {value.split()!r}",
            )
        if isinstance(value, list | tuple) and not value:
            fail("must not be empty", "give the program and its arguments, e.g. [python, train.py]")
        return value

    @field_validator("function")
    @classmethod
    def _function_reference(cls, value: str | None) -> str | None:
        if value is not None and not _FUNCTION.match(value):
            fail(
                f"{value!r} is not of the form 'package.module:function'",
                "e.g. function: mypkg.train:main",
            )
        return value

    @field_validator("env", mode="before")
    @classmethod
    def _env(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        cleaned: dict[Any, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str) or not _ENV_NAME.match(key):
                fail(
                    f"{key!r} is not a valid environment variable name",
                    "use letters, digits and '_', not starting with a digit",
                )
            if isinstance(item, int | float) and not isinstance(item, bool):
                item = str(item)
            cleaned[key] = item
        return cleaned

    @model_validator(mode="after")
    def _exactly_one(self) -> Entrypoint:
        if (self.command is None) == (self.function is None):
            both = self.command is not None
            raise_violations(
                [
                    Violation(
                        (),
                        "both command and function are set"
                        if both
                        else "neither command nor function is set",
                        "set exactly one of command (a list) or function ('package.module:function')",
                    )
                ]
            )
        return self


class AcceleratorRequest(SpecModel):
    """How many accelerators a job needs and of which types."""

    count: PositiveInt
    """Total devices (must equal tensor x pipeline x context x data)."""
    types: AcceleratorTypes = "any"
    """Acceptable accelerator types in order of preference, or 'any'."""
    min_memory_gib: PositiveFloat | None = Field(default=None, alias="minMemoryGiB")
    """Smallest acceptable device memory in GiB."""


class Resources(SpecModel):
    """Accelerators plus host resources per device."""

    accelerators: AcceleratorRequest
    """Accelerator request."""
    cpus_per_device: PositiveFloat | None = None
    """Host CPU cores per device."""
    memory_gib_per_device: PositiveFloat | None = Field(default=None, alias="memoryGiBPerDevice")
    """Host memory per device in GiB."""


class Parallelism(SpecModel):
    """Parallel layout; the world size is tensor x pipeline x context x data."""

    tensor: PositiveInt = 1
    """Tensor-parallel ranks (inside one NVLink/HCCS/ICI domain)."""
    pipeline: PositiveInt = 1
    """Pipeline stages."""
    data: PositiveInt = 1
    """Data-parallel replicas."""
    min_data: PositiveInt | None = None
    """Elastic jobs: the fewest data-parallel replicas the job may continue with after losing
    nodes (same global batch, restored by resharding the checkpoint); unset: not elastic."""
    expert: PositiveInt = 1
    """Expert-parallel ranks, carved out of data x context."""
    context: PositiveInt = 1
    """Context (sequence) parallel ranks."""
    micro_batches: PositiveInt | None = None
    """Micro-batches per step per pipeline (default: globalBatchSize / (data x microBatchSize))."""

    @property
    def world_size(self) -> int:
        """Devices the layout occupies."""
        return self.tensor * self.pipeline * self.context * self.data

    @property
    def model_parallel_size(self) -> int:
        """Devices holding one copy of the model: tensor x pipeline x context."""
        return self.tensor * self.pipeline * self.context

    @property
    def expert_data_parallel(self) -> int:
        """Replicas of each expert: data x context / expert."""
        return self.data * self.context // self.expert


class SpotPolicy(SpecModel):
    """Whether a job may run on spot capacity and when to give up on it."""

    allowed: bool = True
    """Whether spot (preemptible) capacity may be used."""
    fallback_to_on_demand: bool = True
    """Move to on-demand capacity when spot is unavailable."""
    max_preemptions_per_hour: NonNegativeFloat | None = None
    """Above this preemption rate the job is pinned to on-demand."""


def _layout_violations(spec: TrainingJobSpec) -> list[Violation]:
    par, model = spec.parallelism, spec.model
    count = spec.resources.accelerators.count
    problems: list[Violation] = []
    if par.world_size != count:
        factors = [("tensor", par.tensor), ("pipeline", par.pipeline)]
        factors += [("context", par.context)] if par.context != 1 else []
        factors += [("data", par.data)]
        product = f" {TIMES} ".join(f"{name}({value})" for name, value in factors)
        mp = par.model_parallel_size
        fix = (
            f"set data to {count // mp} or count to {par.world_size}"
            if count % mp == 0
            else f"set count to {par.world_size}, or make tensor {TIMES} pipeline {TIMES} context "
            f"divide {count}"
        )
        problems.append(
            Violation(
                ("parallelism",),
                f"{product} = {par.world_size}, but spec.resources.accelerators.count is {count}",
                fix,
            )
        )
    if par.min_data is not None and par.min_data > par.data:
        problems.append(
            Violation(
                ("parallelism", "minData"),
                f"minData({par.min_data}) exceeds data({par.data}); a job can only shrink",
                f"set minData to at most {par.data}, or leave it out",
            )
        )
    dc = par.data * par.context
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
        if dc % par.expert:
            problems.append(
                Violation(
                    ("parallelism", "expert"),
                    f"expert({par.expert}) must divide data {TIMES} context ({dc}); expert ranks are carved "
                    "out of the data-parallel ranks",
                    f"choose expert among {choices(divisors(dc))}",
                )
            )
    if par.pipeline > model.layers:
        problems.append(
            Violation(
                ("parallelism", "pipeline"),
                f"pipeline({par.pipeline}) exceeds spec.model.layers ({model.layers}); every stage "
                "needs at least one layer",
                f"set pipeline to at most {model.layers}",
            )
        )
    for field, heads in (("attentionHeads", model.attention_heads), ("kvHeads", model.kv_heads)):
        if heads is not None and heads % par.tensor:
            problems.append(
                Violation(
                    ("parallelism", "tensor"),
                    f"tensor({par.tensor}) must divide spec.model.{field} ({heads})",
                    f"choose tensor among {choices(divisors(heads))}",
                )
            )
    if model.sequence_length % par.context:
        problems.append(
            Violation(
                ("parallelism", "context"),
                f"context({par.context}) must divide spec.model.sequenceLength ({model.sequence_length})",
                f"choose context among {choices(divisors(model.sequence_length))}",
            )
        )
    per_step = par.data * model.micro_batch_size
    if model.global_batch_size % per_step:
        lower = model.global_batch_size // per_step * per_step
        nearest = [n for n in (lower, lower + per_step) if n > 0]
        problems.append(
            Violation(
                ("model", "globalBatchSize"),
                f"globalBatchSize ({model.global_batch_size}) must be divisible by data({par.data}) {TIMES} "
                f"microBatchSize({model.micro_batch_size}) = {per_step}",
                "set it to " + " or ".join(map(str, nearest)),
            )
        )
    elif par.micro_batches is not None and par.micro_batches != model.global_batch_size // per_step:
        expected = model.global_batch_size // per_step
        problems.append(
            Violation(
                ("parallelism", "microBatches"),
                f"microBatches ({par.micro_batches}) disagrees with globalBatchSize / (data {TIMES} "
                f"microBatchSize) = {model.global_batch_size} / {per_step} = {expected}",
                f"set microBatches to {expected} or leave it out",
            )
        )
    return problems


class TrainingJobSpec(SpecModel):
    """Desired state of a training job."""

    entrypoint: Entrypoint
    """What the workers run."""
    model: ModelSpec
    """The model being trained."""
    resources: Resources
    """Accelerators and host resources."""
    parallelism: Parallelism = Parallelism()
    """Parallel layout."""
    scheduling: Scheduling = Scheduling()
    """Queue, priority, deadline, budget."""
    spot: SpotPolicy = SpotPolicy()
    """Spot capacity policy."""
    checkpoint: CheckpointPolicy = CheckpointPolicy()
    """Checkpoint interval and tiers."""
    total_steps: PositiveInt
    """Optimizer steps to run."""
    max_restarts: NonNegativeInt = 10
    """Attempts that may fail (not counting preemptions) before the job fails."""

    @model_validator(mode="after")
    def _check_layout(self) -> TrainingJobSpec:
        raise_violations(_layout_violations(self))
        return self

    @property
    def device_count(self) -> int:
        """Accelerators the job occupies."""
        return self.resources.accelerators.count

    @property
    def micro_batches(self) -> int:
        """Micro-batches per optimizer step per pipeline."""
        return self.model.global_batch_size // (self.parallelism.data * self.model.micro_batch_size)


class TrainingJob(SpecModel):
    """A training job: envelope plus TrainingJobSpec."""

    api_version: ApiVersion = "suanli.dev/v1alpha1"
    kind: Literal["TrainingJob"] = "TrainingJob"
    metadata: Metadata
    spec: TrainingJobSpec
    status: Status = None
