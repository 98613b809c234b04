"""Pool pricing: an operator's price wins; otherwise the catalog's, at the pool's capacity type."""

from __future__ import annotations

from typing import Any

import pytest

from controlplane.catalog.pool_pricing import (
    RESERVED_ASSUMPTION,
    PoolPrice,
    normalize_capacity_type,
    price_for_pool,
)
from controlplane.catalog.prices import PriceCatalog
from controlplane.domain.errors import InvalidInputError

PRICES = PriceCatalog.from_csv("""\
cloud,region,instance_type,accelerator,accelerator_count,vcpus,memory_gib,price_per_hour,spot_price_per_hour,source,note
aws,us-east-1,p5.48xlarge,H100,8,192,2048,55.04,,vantage,
aws,us-east-1,p5.4xlarge,H100,1,16,256,6.88,,vantage,
aws,us-east-2,p5.48xlarge,H100,8,192,2048,98.32,14.0,skypilot v7,older snapshot
aws,eu-west-1,p5.48xlarge,H100,8,192,2048,60.00,,vantage,
gcp,us-central1,gpu-attach:L4x1,L4,1,,,0.56,0.22,gcp,GPU attach price only
gcp,us-central1,tpu-v6e-8,tpu-v6e-8,1,,,21.6,4.32,gcp,TPU slice (linear per chip)
""")


def pool(**overrides: Any) -> PoolPrice:
    arguments: dict[str, Any] = {
        "provider": "aws", "region": "us-east-1", "accelerator": "H100", "capacity_type": "on-demand",
        "devices_per_node": 8, "instance_type": "p5.48xlarge", "override_per_device_hour": None,
        "override_per_node_hour": None, "catalog": PRICES,
    }
    arguments.update(overrides)
    return price_for_pool(**arguments)


def test_a_per_device_override_wins_over_the_catalog() -> None:
    price = pool(override_per_device_hour=2.5)
    assert (price.per_device_hour, price.per_node_hour, price.source) == (2.5, 20.0, "override")
    assert price.offer is None


def test_a_per_node_override_is_split_across_the_node() -> None:
    price = pool(override_per_node_hour=24.0)
    assert (price.per_device_hour, price.source) == (3.0, "override")


def test_overrides_that_disagree_are_refused() -> None:
    with pytest.raises(InvalidInputError) as caught:
        pool(override_per_device_hour=2.0, override_per_node_hour=24.0)
    assert caught.value.field == "spec.price"
    assert pool(override_per_device_hour=3.0, override_per_node_hour=24.0).per_device_hour == 3.0


def test_a_negative_override_is_refused() -> None:
    with pytest.raises(InvalidInputError) as caught:
        pool(override_per_device_hour=-1.0)
    assert caught.value.field == "spec.price.perDeviceHour"


@pytest.mark.parametrize("provider", ["onprem", "on-prem", "On_Prem", "baremetal"])
def test_an_on_prem_pool_without_an_override_names_the_price_field(provider: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        pool(provider=provider, region="dc-1", accelerator="Ascend-910B", instance_type=None)
    assert caught.value.field == "spec.price.perDeviceHour"
    assert "perDeviceHour" in (caught.value.hint or "")


def test_an_on_prem_pool_with_an_override_is_priced() -> None:
    price = pool(provider="onprem", region="dc-1", accelerator="910B", instance_type=None,
                 override_per_device_hour=1.1)
    assert price.per_device_hour == 1.1


def test_an_on_demand_cloud_pool_takes_the_matching_catalog_offer() -> None:
    price = pool()
    assert price.per_device_hour == pytest.approx(55.04 / 8)
    assert price.per_node_hour == pytest.approx(55.04)
    assert price.source == "catalog:aws/us-east-1/p5.48xlarge"
    assert price.assumption is None


def test_a_spot_pool_is_priced_at_the_spot_price() -> None:
    price = pool(region="us-east-2", capacity_type="spot")
    assert price.per_device_hour == pytest.approx(14.0 / 8)
    assert price.capacity_type == "spot"


def test_a_reserved_pool_without_an_override_is_priced_at_on_demand_with_the_assumption_stated() -> None:
    price = pool(capacity_type="reserved")
    assert price.per_device_hour == pytest.approx(55.04 / 8)
    assert price.assumption == RESERVED_ASSUMPTION


def test_a_pool_in_an_unpriced_region_takes_the_nearest_region_of_the_same_cloud() -> None:
    price = pool(region="us-east-9")
    assert price.source.startswith("catalog-nearest-region:aws/us-east-")
    assert pool(region="eu-west-3").source == "catalog-nearest-region:aws/eu-west-1/p5.48xlarge"


def test_without_an_instance_type_offers_of_the_pool_node_size_are_preferred() -> None:
    single = pool(instance_type=None, devices_per_node=1).offer
    whole = pool(instance_type=None, devices_per_node=8).offer
    assert single is not None and single.instance_type == "p5.4xlarge"
    assert whole is not None and whole.instance_type == "p5.48xlarge"


def test_a_spot_pool_with_no_spot_price_in_its_cloud_names_the_price_field() -> None:
    with pytest.raises(InvalidInputError) as caught:
        pool(provider="azure", capacity_type="spot")
    assert caught.value.field == "spec.price.perDeviceHour"
    assert "no spot price for H100-SXM on azure" in caught.value.message


def test_tpu_pools_are_priced_per_chip() -> None:
    price = pool(provider="gcp", region="us-central1", accelerator="v6e", instance_type=None,
                 devices_per_node=4)
    assert price.per_device_hour == pytest.approx(2.7)
    assert price.per_node_hour == pytest.approx(10.8)


def test_attach_only_prices_are_a_last_resort_and_say_so() -> None:
    price = pool(provider="gcp", region="us-central1", accelerator="L4", instance_type="g2-standard-8",
                 devices_per_node=1)
    assert price.source == "catalog-attach-only:gcp/us-central1/gpu-attach:L4x1"
    assert "host VM" in (price.assumption or "")


def test_an_unknown_accelerator_names_the_accelerator_field() -> None:
    with pytest.raises(InvalidInputError) as caught:
        pool(accelerator="H1OO")
    assert caught.value.field == "spec.accelerator"


@pytest.mark.parametrize(("spelling", "normalized"), [
    ("on-demand", "on-demand"), ("OnDemand", "on-demand"), ("on_demand", "on-demand"), ("SPOT", "spot"),
    ("preemptible", "spot"), ("reserved", "reserved"),
])
def test_capacity_type_spellings(spelling: str, normalized: str) -> None:
    assert normalize_capacity_type(spelling) == normalized


def test_an_unknown_capacity_type_is_refused() -> None:
    with pytest.raises(InvalidInputError) as caught:
        pool(capacity_type="whenever")
    assert caught.value.field == "spec.capacityType"
