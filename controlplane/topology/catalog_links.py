"""``catalog_link_defaults``: the accelerator catalog as the topology's ``LinkDefaults`` lookup.

Unit conversions: the catalog's ``interconnect_unidirectional_gbps`` is already GB/s per
device per direction; ``scaleout_gbps_per_device`` is Gbit/s and is divided by 8.

Scale-up domain sizes that differ from "all devices of a node" are not catalog fields yet; the
few the catalog's own notes state are listed in ``DOMAIN_DEVICES`` (H100 NVL: NVLink bridge
pairs; GB200: 72 GPUs of an NVL72 rack in one NVLink domain; MLU370-X8: MLU-Link bridges join
4 cards).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from controlplane.catalog.accelerators import (
    AcceleratorCatalog,
    UnknownAcceleratorError,
    default_accelerator_catalog,
)
from controlplane.domain.errors import NotFoundError
from controlplane.topology.links import AcceleratorLinks, LinkDefaults

BITS_PER_BYTE = 8.0
DOMAIN_DEVICES: Mapping[str, int] = MappingProxyType({"H100-NVL": 2, "GB200": 72, "MLU370-X8": 4})


def catalog_link_defaults(catalog: AcceleratorCatalog | None = None) -> LinkDefaults:
    """A lookup of link figures in ``catalog`` (the shipped catalog when ``None``)."""
    source = catalog or default_accelerator_catalog()

    def lookup(accelerator: str) -> AcceleratorLinks:
        try:
            spec = source.get(accelerator)
        except UnknownAcceleratorError as error:
            raise NotFoundError(error.message, hint=error.hint, details=error.details) from error
        return AcceleratorLinks(scaleup_gbytes_per_s=spec.interconnect_unidirectional_gbps,
                                scaleout_gbytes_per_s=spec.scaleout_gbps_per_device / BITS_PER_BYTE,
                                domain_devices=DOMAIN_DEVICES.get(spec.name))

    return lookup
