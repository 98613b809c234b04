"""Which pools of a topology may host a request, and why the others may not.

Owns ``DeviceLookup`` (accelerator name → ``perfmodel.DeviceSpec``, injected; the catalog by
default), ``EligiblePool``, ``eligible_pools`` and ``memory_refusal``. A pool is eligible when
it is among the request's ``pools`` (if given), its accelerator type is allowed and its devices
have at least ``min_memory_gib`` of HBM. Whether the job's memory fits is a separate verdict per
type (``memory_refusal``: the fullest stage of an even layer split under the perfmodel's
estimate), since a heterogeneous pipeline may still use a type with fewer layers per stage.

Pool accelerator names are canonicalised through the lookup (a pool spec may say ``H100``; the
catalog calls it ``H100-SXM``), so the request's canonical names compare with them directly.
An accelerator the lookup does not know keeps its own name, and only a check that needs its
figures (memory, speed) rejects it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from controlplane.domain.errors import DomainError
from controlplane.perfmodel.device import DeviceSpec, as_device
from controlplane.perfmodel.memory import estimate_memory, gib
from controlplane.perfmodel.shapes import Layout, ModelShape
from controlplane.topology.tree import PoolInfo

DeviceLookup = Callable[[str], DeviceSpec]
"""Accelerator name -> its performance-model spec; raises ``DomainError`` when unknown."""


def catalog_device_lookup() -> DeviceLookup:
    """A ``DeviceLookup`` over the shipped accelerator catalog."""
    from controlplane.catalog.accelerators import default_accelerator_catalog

    catalog = default_accelerator_catalog()

    def lookup(name: str) -> DeviceSpec:
        return as_device(catalog.get(name))

    return lookup


@dataclass(frozen=True)
class EligiblePool:
    """A pool that may host the request, with its resolved accelerator."""

    index: int
    """Position in ``topology.pools``."""
    info: PoolInfo
    accelerator: str
    """Canonical accelerator name."""
    device: DeviceSpec | None
    """The accelerator's figures, when the lookup knows it."""

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def region(self) -> str:
        return self.info.region


@dataclass(frozen=True)
class Eligibility:
    """The eligible pools in topology order, and one line per rejected pool."""

    pools: tuple[EligiblePool, ...]
    rejections: tuple[str, ...]

    def types(self) -> list[str]:
        """Eligible accelerator types, in order of first appearance."""
        return list(dict.fromkeys(pool.accelerator for pool in self.pools))

    def of_type(self, accelerator: str) -> list[EligiblePool]:
        return [pool for pool in self.pools if pool.accelerator == accelerator]


class _Resolver:
    """Canonical names and device specs, each looked up once."""

    def __init__(self, lookup: DeviceLookup) -> None:
        self._lookup = lookup
        self._cache: dict[str, DeviceSpec | None] = {}

    def device(self, name: str) -> DeviceSpec | None:
        if name not in self._cache:
            try:
                self._cache[name] = self._lookup(name)
            except DomainError:
                self._cache[name] = None
        return self._cache[name]

    def canonical(self, name: str) -> str:
        device = self.device(name)
        return device.name if device is not None else name


def eligible_pools(*, pools: tuple[PoolInfo, ...], allowed: tuple[str, ...] | None,
                   restrict_to: tuple[str, ...] | None, min_memory_gib: float | None,
                   lookup: DeviceLookup) -> Eligibility:
    """The pools of a topology that may host the request, before the memory check (which
    depends on the layer split: ``memory_refusal`` for an even split)."""
    resolver = _Resolver(lookup)
    allowed_names = None if allowed is None else {resolver.canonical(name).casefold() for name in allowed}
    accepted: list[EligiblePool] = []
    rejections: list[str] = []
    for index, info in enumerate(pools):
        if restrict_to is not None and info.name not in restrict_to:
            continue
        accelerator = resolver.canonical(info.accelerator)
        device = resolver.device(info.accelerator)
        if allowed_names is not None and accelerator.casefold() not in allowed_names:
            rejections.append(f"pool {info.name}: {accelerator} is not an allowed type")
            continue
        if min_memory_gib is not None:
            if device is None:
                rejections.append(f"pool {info.name}: HBM of {accelerator} is unknown, cannot check "
                                  f"the {min_memory_gib:g} GiB minimum")
                continue
            if device.hbm_gib < min_memory_gib:
                rejections.append(f"pool {info.name}: {accelerator} has {device.hbm_gib:g} GiB, "
                                  f"below the {min_memory_gib:g} GiB minimum")
                continue
        accepted.append(EligiblePool(index=index, info=info, accelerator=accelerator, device=device))
    return Eligibility(pools=tuple(accepted), rejections=tuple(rejections))


def memory_refusal(model: ModelShape, layout: Layout, device: DeviceSpec | None, accelerator: str) -> str | None:
    """Why ``layout`` of ``model`` (even layer split) does not fit ``device``; None if it fits."""
    if device is None:
        return f"{accelerator} is not in the accelerator catalog, so the memory check cannot run"
    estimate = estimate_memory(model, layout, device)
    if estimate.fits:
        return None
    return (f"{layout.describe()} needs {gib(estimate.total):.1f} GiB per device on its fullest stage, "
            f"{accelerator} offers {gib(estimate.capacity):.1f} GiB usable")
