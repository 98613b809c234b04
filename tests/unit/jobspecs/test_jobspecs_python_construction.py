"""Models can be built directly in Python with snake_case names and are validated the same way."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from jobspecs import (
    AcceleratorRequest,
    Entrypoint,
    Metadata,
    ModelSpec,
    Parallelism,
    Resources,
    TrainingJob,
    TrainingJobSpec,
    dump_yaml,
    load_text,
)


def spec(data: int) -> TrainingJobSpec:
    return TrainingJobSpec(
        entrypoint=Entrypoint(function="pkg.train:main"),
        model=ModelSpec(
            parameters="1M",
            layers=2,
            hidden_size=64,
            attention_heads=4,
            sequence_length=32,
            global_batch_size=8,
        ),
        resources=Resources(accelerators=AcceleratorRequest(count=2)),
        parallelism=Parallelism(data=data),
        total_steps=50,
    )


def test_a_job_built_in_python_gets_envelope_defaults_and_dumps_like_a_loaded_one() -> None:
    job = TrainingJob(metadata=Metadata(name="tiny"), spec=spec(data=2))
    assert job.api_version == "suanli.dev/v1alpha1"
    assert job.kind == "TrainingJob"
    assert job.metadata.key == "default/tiny"
    assert load_text(dump_yaml(job)) == [job]


def test_rule_violations_in_python_raise_a_readable_validation_error() -> None:
    with pytest.raises(ValidationError) as raised:
        spec(data=3)
    text = str(raised.value)
    assert (
        "tensor(1) \u00d7 pipeline(1) \u00d7 data(3) = 3, but spec.resources.accelerators.count is 2" in text
    )
    assert "set data to 2 or count to 3" in text
