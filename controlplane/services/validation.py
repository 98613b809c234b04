"""Checks of specs against the world the control plane knows: accelerator names and prices.

``jobspecs`` validates a document on its own (shapes, arithmetic of the layout); this module
adds what needs the catalogs: every accelerator type must be a known one (unknown names get the
nearest matches), and every pool must have a price, from its override or from the price catalog.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from controlplane.catalog.accelerators import canonical_accelerator_name
from controlplane.catalog.pool_pricing import PoolPrice, price_for_pool
from controlplane.catalog.prices import PriceCatalog
from controlplane.domain.errors import InvalidInputError


@dataclass
class CatalogValidator:
    prices: PriceCatalog

    @classmethod
    def default(cls) -> CatalogValidator:
        return cls(prices=PriceCatalog.load_default())

    def check_workload(self, resource: Any) -> None:
        types = resource.spec.resources.accelerators.types
        if types == "any" or types is None:
            return
        for index, name in enumerate(types):
            self._check_name(name, field=f"spec.resources.accelerators.types[{index}]")

    def check_pool(self, resource: Any) -> PoolPrice:
        self._check_name(resource.spec.accelerator, field="spec.accelerator")
        price = resource.spec.price
        return price_for_pool(
            provider=resource.spec.provider, region=resource.spec.region,
            accelerator=resource.spec.accelerator, capacity_type=resource.spec.capacity_type,
            devices_per_node=resource.spec.devices_per_node, instance_type=resource.spec.instance_type,
            override_per_device_hour=price.per_device_hour if price else None,
            override_per_node_hour=price.per_node_hour if price else None, catalog=self.prices,
        )

    @staticmethod
    def _check_name(name: str, *, field: str) -> None:
        try:
            canonical_accelerator_name(name)
        except InvalidInputError as error:
            raise InvalidInputError(error.message, field=field, hint=error.hint) from None
