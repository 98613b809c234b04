"""From the public contract (``jobspecs``) to a ``PlacementRequest``.

Owns ``request_from_training_job``: the layout and model through the perfmodel adapters,
accepted accelerator types canonicalised through the catalog (an unknown name is an
``InvalidInputError`` naming the field), the job's ``minMemoryGiB``. A model spec without
its shape (layers, hidden size, heads) gives no model: the memory check is then off. Cross-region and
mixed-type permissions are not part of the job spec yet, so the caller passes them.
Duck-typed like ``perfmodel.adapters``: this package does not import ``jobspecs``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from controlplane.perfmodel.adapters import layout_from_spec, model_shape_from_spec
from controlplane.placement.types import PlacementRequest

TYPES_FIELD = "spec.resources.accelerators.types"


def _catalog_canonical(name: str, field: str) -> str:
    from controlplane.catalog.accelerators import default_accelerator_catalog

    return default_accelerator_catalog().canonical_name(name, field=field)


def request_from_training_job(job: Any, *, pools: tuple[str, ...] | None = None, allow_cross_region: bool = False,
                              allow_mixed_types: bool = False,
                              canonical: Callable[[str, str], str] | None = None) -> PlacementRequest:
    """The placement request of a ``TrainingJob`` (see the module docstring).

    ``canonical(name, field)`` resolves an accelerator spelling (the catalog by default).
    """
    resolve = canonical or _catalog_canonical
    spec = job.spec
    accelerators = spec.resources.accelerators
    types = accelerators.types
    allowed = None if types == "any" else tuple(dict.fromkeys(resolve(name, TYPES_FIELD) for name in types))
    shape_known = all(getattr(spec.model, name) is not None for name in ("layers", "hidden_size", "attention_heads"))
    model = model_shape_from_spec(spec.model) if shape_known else None
    return PlacementRequest(job_id=job.metadata.name, layout=layout_from_spec(job), model=model,
                            allowed_accelerators=allowed, pools=pools, min_memory_gib=accelerators.min_memory_gib,
                            allow_cross_region=allow_cross_region, allow_mixed_types=allow_mixed_types)
