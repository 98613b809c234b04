"""The registry of kinds: ``Kind``, ``KINDS`` and the ``Resource`` union.

Owns the mapping from a ``kind`` string to its model class.  Adding a kind means adding its
module, one entry here, and one example.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal, TypeAlias

from pydantic import Field

from jobspecs.inference import InferenceService
from jobspecs.pool import AcceleratorPool
from jobspecs.queues import Queue
from jobspecs.training import TrainingJob

Kind = Literal["TrainingJob", "InferenceService", "AcceleratorPool", "Queue"]

Resource: TypeAlias = TrainingJob | InferenceService | AcceleratorPool | Queue
"""Any top-level spec document."""

AnyResource = Annotated[Resource, Field(discriminator="kind")]
"""``Resource`` discriminated by ``kind``, for use inside other pydantic models."""

KINDS: Final[dict[str, type[Resource]]] = {
    "TrainingJob": TrainingJob,
    "InferenceService": InferenceService,
    "AcceleratorPool": AcceleratorPool,
    "Queue": Queue,
}


def model_for(kind: str) -> type[Resource]:
    """The model class of kind; ValueError naming the known kinds otherwise."""
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown kind {kind!r}; known kinds: {', '.join(KINDS)}") from None
