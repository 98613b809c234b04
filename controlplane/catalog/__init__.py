"""Accelerator specs and cloud prices as versioned data, read through typed functions.

- :mod:`.accelerators`: :class:`AcceleratorSpec`, :class:`AcceleratorCatalog`, name resolution.
- :mod:`.prices`: :class:`PriceCatalog` of :class:`Offer` rows (and the rows it excluded).
- :mod:`.pool_pricing`: :func:`price_for_pool`, the $/device-hour of an accelerator pool.

Data files live in ``data/`` with their provenance in ``data/PROVENANCE.md``.
"""

from controlplane.catalog.accelerators import (
    AcceleratorCatalog,
    AcceleratorSpec,
    CatalogDataError,
    UnknownAcceleratorError,
    accelerator_exists,
    canonical_accelerator_name,
    default_accelerator_catalog,
    get_accelerator,
    list_accelerators,
)
from controlplane.catalog.offers import ExcludedRow, Offer
from controlplane.catalog.pool_pricing import PoolPrice, price_for_pool
from controlplane.catalog.prices import PriceCatalog

__all__ = [
    "AcceleratorCatalog",
    "AcceleratorSpec",
    "CatalogDataError",
    "ExcludedRow",
    "Offer",
    "PoolPrice",
    "PriceCatalog",
    "UnknownAcceleratorError",
    "accelerator_exists",
    "canonical_accelerator_name",
    "default_accelerator_catalog",
    "get_accelerator",
    "list_accelerators",
    "price_for_pool",
]
