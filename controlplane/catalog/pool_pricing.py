"""The hourly price of an accelerator pool: the operator's figure, else the price catalog's.

Rules, in order (each result says which one applied in :attr:`PoolPrice.source`):

1. An override in the pool spec wins: ``perDeviceHour`` and/or ``perNodeHour`` (if both are
   given they must agree). Source ``"override"``.
2. On-prem pools (provider ``onprem``/``on-prem``/``baremetal``/``local``) have no market
   price: without an override they are refused with an error on ``spec.price.perDeviceHour``.
3. Otherwise the catalog's cheapest offer for the pool's cloud and accelerator type, priced
   at the pool's capacity type: spot pools at the spot price, on-demand pools at on-demand.
   *Reserved* pools are priced at on-demand, because reservation and commitment discounts are
   negotiated and not public: the result carries that assumption, and an override records the
   real rate. Offers are narrowed to the pool's instance type when it has one (else to offers
   with the pool's devices per node, else any size); the region is matched exactly, else the
   nearest region of the same cloud is used (longest shared name prefix, e.g. ``us-east-2``
   for ``us-east-1``), with source ``"catalog-nearest-region:..."``. As a last resort a GCP
   attach-only price (accelerators without their host VM) is used, flagged as an assumption.
4. No offer at all → error on ``spec.price.perDeviceHour`` asking for an override.

Pure: the price catalog is passed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from controlplane.catalog.offers import Offer
from controlplane.catalog.prices import PriceCatalog
from controlplane.domain.errors import InvalidInputError

PRICE_FIELD = "spec.price.perDeviceHour"
ON_PREM_PROVIDERS = frozenset({"onprem", "baremetal", "local", "selfhosted"})
CAPACITY_TYPES = ("on-demand", "spot", "reserved")
RESERVED_ASSUMPTION = ("reserved capacity priced at the on-demand list price: reservation discounts are not "
                       "public; set spec.price.perDeviceHour to the negotiated rate")
ATTACH_ONLY_ASSUMPTION = "GCP accelerator attach price only: the host VM is billed separately, not included"
_CAPACITY_ALIASES = {"ondemand": "on-demand", "spot": "spot", "preemptible": "spot", "interruptible": "spot",
                     "reserved": "reserved", "committed": "reserved"}
_AGREEMENT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class PoolPrice:
    per_device_hour: float
    per_node_hour: float
    source: str
    """``"override"``, ``"catalog:<cloud>/<region>/<instance>"``, ``"catalog-nearest-region:..."``
    or ``"catalog-attach-only:..."``."""
    capacity_type: str
    assumption: str | None = None
    offer: Offer | None = None


def normalize_capacity_type(capacity_type: str) -> str:
    """"on-demand", "spot" or "reserved" from any common spelling ("OnDemand", "on_demand", ...)."""
    key = re.sub(r"[^a-z]", "", capacity_type.lower())
    if key not in _CAPACITY_ALIASES:
        raise InvalidInputError(f"unknown capacity type {capacity_type!r}", field="spec.capacityType",
                                hint=f"use one of {', '.join(CAPACITY_TYPES)}")
    return _CAPACITY_ALIASES[key]


def price_for_pool(*, provider: str, region: str, accelerator: str, capacity_type: str, devices_per_node: int,
                   instance_type: str | None, override_per_device_hour: float | None,
                   override_per_node_hour: float | None, catalog: PriceCatalog) -> PoolPrice:
    """The pool's $/device-hour and $/node-hour, and where they came from (see module doc)."""
    if devices_per_node < 1:
        raise InvalidInputError(f"devices per node must be at least 1, got {devices_per_node}",
                                field="spec.devicesPerNode")
    capacity = normalize_capacity_type(capacity_type)
    override = _override_price(override_per_device_hour, override_per_node_hour, devices_per_node)
    if override is not None:
        return PoolPrice(per_device_hour=override, per_node_hour=override * devices_per_node,
                         source="override", capacity_type=capacity)
    cloud = provider.strip().lower()
    if re.sub(r"[^a-z]", "", cloud) in ON_PREM_PROVIDERS:
        raise InvalidInputError(
            f"on-prem pools have no market price (provider {provider!r}, accelerator {accelerator!r})",
            field=PRICE_FIELD, hint="set spec.price.perDeviceHour to the amortized hardware, power and "
                                    "operations cost per device-hour")
    canonical = catalog.accelerator_catalog.canonical_name(accelerator, field="spec.accelerator")
    spot = capacity == "spot"
    offer, kind = _choose_offer(catalog, canonical, cloud=cloud, region=region, spot=spot,
                                instance_type=instance_type, devices_per_node=devices_per_node)
    if offer is None:
        market = "spot" if spot else "on-demand"
        raise InvalidInputError(
            f"no {market} price for {canonical} on {cloud} in the price catalog", field=PRICE_FIELD,
            hint="set spec.price.perDeviceHour (or perNodeHour); `suanli catalog prices --accelerator "
                 f"{canonical}` lists what the catalog has")
    per_device = offer.per_device_hour(spot=spot)
    assert per_device is not None  # _choose_offer only returns offers priced for this market
    assumptions = [RESERVED_ASSUMPTION] if capacity == "reserved" else []
    if offer.attach_only:
        assumptions.append(ATTACH_ONLY_ASSUMPTION)
    return PoolPrice(per_device_hour=per_device, per_node_hour=per_device * devices_per_node,
                     source=f"{kind}:{offer.label}", capacity_type=capacity,
                     assumption="; ".join(assumptions) or None, offer=offer)


def _override_price(per_device: float | None, per_node: float | None, devices_per_node: int) -> float | None:
    for value, name in ((per_device, "perDeviceHour"), (per_node, "perNodeHour")):
        if value is not None and value < 0:
            raise InvalidInputError(f"price must not be negative, got {value}", field=f"spec.price.{name}")
    if per_device is not None and per_node is not None:
        implied = per_node / devices_per_node
        if abs(implied - per_device) > _AGREEMENT_TOLERANCE * max(1.0, per_device):
            raise InvalidInputError(
                f"perDeviceHour {per_device} and perNodeHour {per_node} disagree for {devices_per_node} "
                f"devices per node ({implied:g} per device)", field="spec.price",
                hint="give only one of them")
        return per_device
    if per_device is not None:
        return per_device
    if per_node is not None:
        return per_node / devices_per_node
    return None


def _choose_offer(catalog: PriceCatalog, accelerator: str, *, cloud: str, region: str, spot: bool,
                  instance_type: str | None, devices_per_node: int) -> tuple[Offer | None, str]:
    for include_attach_only, kind_prefix in ((False, "catalog"), (True, "catalog-attach-only")):
        offers = catalog.offers(accelerator, spot=spot, clouds=[cloud],
                                include_attach_only=include_attach_only)
        if include_attach_only:
            offers = [offer for offer in offers if offer.attach_only]
        offers = _narrow_to_shape(offers, instance_type=instance_type, devices_per_node=devices_per_node)
        if not offers:
            continue
        in_region = [offer for offer in offers if offer.region.lower() == region.strip().lower()]
        if in_region:
            return in_region[0], kind_prefix
        nearest = _nearest_region_offer(offers, region)
        kind = "catalog-nearest-region" if kind_prefix == "catalog" else "catalog-attach-only-nearest-region"
        return nearest, kind
    return None, "catalog"


def _narrow_to_shape(offers: list[Offer], *, instance_type: str | None, devices_per_node: int) -> list[Offer]:
    if instance_type:
        exact = [o for o in offers if (o.instance_type or "").lower() == instance_type.strip().lower()]
        if exact:
            return exact
    same_size = [o for o in offers if o.devices == devices_per_node]
    return same_size or offers


def _nearest_region_offer(offers: list[Offer], region: str) -> Offer:
    """The offer whose region shares the longest name prefix with ``region``; cheapest on ties
    (``offers`` arrive sorted by price, and ``max`` keeps the first of equals)."""
    target = region.strip().lower()
    return max(offers, key=lambda offer: _shared_prefix(offer.region.lower(), target))


def _shared_prefix(a: str, b: str) -> int:
    length = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        length += 1
    return length
