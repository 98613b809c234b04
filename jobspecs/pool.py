"""The ``AcceleratorPool`` kind: a group of identical nodes Suanli may place work on.

Owns ``NodeRange``, ``PoolPrice``, ``PoolTopology``, ``AcceleratorPoolSpec`` and the envelope
``AcceleratorPool``.

The accelerator type name is *not* checked against the catalog here (the control plane does
that).  Bandwidth units follow vendor habits: ``intraNodeGBps`` is gigabytes per second per
device over NVLink/HCCS/ICI as vendors quote it (bidirectional aggregate: NVLink 4 = 900);
``nodeNetworkGbps`` and ``rackUplinkGbps`` are gigabits per second.  The network is modelled
as nodes -> racks (leaf switches) -> spines, with ``spineOversubscription`` (at least 1) the
ratio of rack downlink to uplink bandwidth.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import BeforeValidator, Field, model_validator

from jobspecs._base import (
    BoundedRange,
    Labels,
    Name,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    SpecModel,
    Violation,
    fail,
    raise_violations,
    reject_bool,
)
from jobspecs.envelope import ApiVersion, Metadata, Status

Provider = Literal[
    "aws",
    "gcp",
    "azure",
    "lambda",
    "nebius",
    "runpod",
    "oci",
    "coreweave",
    "fluidstack",
    "paperspace",
    "hyperbolic",
    "verda",
    "on-prem",
    "local",
]
CapacityType = Literal["spot", "on-demand", "reserved"]

#: Providers whose prices Suanli cannot look up in its catalog.
PRICE_REQUIRED_PROVIDERS: Final = ("on-prem",)


class NodeRange(BoundedRange):
    """Bounds of the node count; a plain integer N means exactly N nodes."""

    min: NonNegativeInt = 0
    """Fewest nodes kept."""
    max: NonNegativeInt
    """Most nodes (at least min; defaults to min)."""

    @model_validator(mode="before")
    @classmethod
    def _from_int(cls, data: Any) -> Any:
        if isinstance(data, int) and not isinstance(data, bool):
            return {"min": data, "max": data}
        if isinstance(data, dict) and "max" not in data and "min" in data:
            return {**data, "max": data["min"]}
        if not isinstance(data, dict | NodeRange):
            fail(
                f"must be a node count or a mapping with min and max (got {data!r})",
                "write nodes: 4 or nodes: {min: 0, max: 4}",
            )
        return data


class PoolPrice(SpecModel):
    """Price override, per device-hour or per node-hour (exactly one)."""

    per_device_hour: NonNegativeFloat | None = None
    """Dollars per device-hour."""
    per_node_hour: NonNegativeFloat | None = None
    """Dollars per node-hour."""

    @model_validator(mode="after")
    def _exactly_one(self) -> PoolPrice:
        if (self.per_device_hour is None) == (self.per_node_hour is None):
            both = self.per_device_hour is not None
            raise_violations(
                [
                    Violation(
                        (),
                        "both perDeviceHour and perNodeHour are set" if both else "no price is set",
                        "set exactly one of perDeviceHour or perNodeHour",
                    )
                ]
            )
        return self

    def device_hour(self, devices_per_node: int) -> float:
        """Dollars per device-hour, converting a per-node price."""
        if self.per_device_hour is not None:
            return self.per_device_hour
        assert self.per_node_hour is not None
        return self.per_node_hour / devices_per_node


class PoolTopology(SpecModel):
    """Shape and bandwidths of the pool's network."""

    nodes_per_rack: PositiveInt = 4
    """Nodes under one leaf switch."""
    racks_per_spine: PositiveInt = 8
    """Racks under one spine switch."""
    intra_node_gbps: PositiveFloat | None = Field(default=None, alias="intraNodeGBps")
    """Scale-up bandwidth per device in GB/s as vendors quote it (NVLink 4 = 900)."""
    node_network_gbps: PositiveFloat | None = None
    """Scale-out NIC bandwidth per node in Gbit/s."""
    rack_uplink_gbps: PositiveFloat | None = None
    """Uplink bandwidth of one rack in Gbit/s."""
    spine_oversubscription: Annotated[float, Field(ge=1.0), BeforeValidator(reject_bool)] = 1.0
    """Downlink-to-uplink ratio at the spine (1 = non-blocking)."""


def _same(value: Any) -> Any:
    return value


class AcceleratorPoolSpec(SpecModel):
    """Desired state of an accelerator pool."""

    provider: Provider
    """Cloud or site."""
    region: Name
    """Provider region, e.g. us-east-1."""
    zone: Name | None = None
    """Availability zone, when pinned."""
    accelerator: Name
    """Accelerator type name, e.g. H100 (checked against the catalog by the control plane)."""
    devices_per_node: PositiveInt
    """Accelerators per node."""
    nodes: Annotated[NodeRange, BeforeValidator(_same, json_schema_input_type=int | NodeRange)]
    """Node count bounds; an integer N means exactly N."""
    capacity_type: CapacityType
    """spot, on-demand or reserved."""
    instance_type: Name | None = None
    """Provider instance type, e.g. p5.48xlarge."""
    price: PoolPrice | None = None
    """Price override; required for on-prem pools."""
    topology: PoolTopology = PoolTopology()
    """Network shape and bandwidths."""
    labels: Labels = Field(default_factory=dict)
    """Extra node labels for the runtime."""

    @model_validator(mode="after")
    def _price_when_uncatalogued(self) -> AcceleratorPoolSpec:
        if self.provider in PRICE_REQUIRED_PROVIDERS and self.price is None:
            raise_violations(
                [
                    Violation(
                        ("price",),
                        f"{self.provider} pools have no catalog price, so a price is required",
                        "set spec.price.perDeviceHour (dollars per device-hour, e.g. 1.10)",
                    )
                ]
            )
        return self

    @property
    def min_devices(self) -> int:
        return self.nodes.min * self.devices_per_node

    @property
    def max_devices(self) -> int:
        return self.nodes.max * self.devices_per_node

    @property
    def is_spot(self) -> bool:
        return self.capacity_type == "spot"


class AcceleratorPool(SpecModel):
    """An accelerator pool: envelope plus AcceleratorPoolSpec."""

    api_version: ApiVersion = "suanli.dev/v1alpha1"
    kind: Literal["AcceleratorPool"] = "AcceleratorPool"
    metadata: Metadata
    spec: AcceleratorPoolSpec
    status: Status = None
