"""The price catalog: which rows become offers, how they rank, and what is left out and why."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import pytest

from controlplane.catalog.accelerators import CatalogDataError, UnknownAcceleratorError
from controlplane.catalog.prices import ExcludedRow, Offer, PriceCatalog

T = TypeVar("T")

HEADER = "cloud,region,instance_type,accelerator,accelerator_count,vcpus,memory_gib,price_per_hour," \
         "spot_price_per_hour,source,note\n"

SAMPLE = HEADER + """\
aws,us-east-1,p5.48xlarge,H100,8,192,2048,55.04,,vantage 2026-01,on-demand only
aws,us-east-1,p5.48xlarge,H100,8,192,2048,98.32,14.0,skypilot v7,older snapshot
aws,us-west-2,p5.48xlarge,H100,8,192,2048,98.32,20.0,skypilot v7,older snapshot
aws,us-east-2,p5.48xlarge,H100,8,192,2048,98.32,98.32,skypilot v7,
lambda,us-east-1,gpu_1x_h100_sxm5,H100,1,26,225,2.49,,lambda,no spot market
lambda,us-east-1,gpu_1x_h100_pcie,H100,1,26,225,1.99,,lambda,no spot market
runpod,CA,1x_H100_SECURE,H100,1,16,80,2.39,,runpod,SECURE cloud
azure,eastus,Standard_NC40ads_H100_v5,H100,1,40,320,6.98,,azure,
azure,eastus,Standard_ND96isr_H100_v5,H100,8,96,1900,98.32,,azure,source lists 12 GPUs; corrected to 8
gcp,us-central1,gpu-attach:L4x1,L4,1,,,0.56,0.22,gcp,GPU attach price only (add host VM e.g. n1/g2/a2/a3 row)
gcp,us-central1,,L4,2,,,1.12,0.44,gcp,GPU attach price only
gcp,us-central1,a3-highgpu-1g,H100,1,26,234,1.18,0.36,gcp,HOST VM ONLY (GPU billed via gpu-attach rows)
gcp,us-east1,gpu-attach:H100x8,H100,8,,,33.6,23.9,gcp,attach price; region prices inconsistent in source
aws,us-east-1,g6.xlarge,L4,1,4,16,0.805,,vantage 2026-01,on-demand only
gcp,us-central1,tpu-v6e-8,tpu-v6e-8,1,,,21.6,4.32,gcp,TPU slice (linear per chip)
gcp,us-central1,tpu-v5p-8,tpu-v5p-8,1,,,16.8,,gcp,TPU slice (linear per chip)
aws,us-east-1,g6f.xlarge,L40S,0.125,4,16,0.2,,vantage 2026-01,on-demand only
aws,us-east-1,g5.xlarge,A10G,1,4,16,1.006,,vantage 2026-01,on-demand only
aws,us-east-1,trn1.2xlarge,Trainium,1,8,32,1.34375,,vantage 2026-01,on-demand only
"""


@pytest.fixture
def sample() -> PriceCatalog:
    return PriceCatalog.from_csv(SAMPLE)


def _some(value: T | None) -> T:
    assert value is not None
    return value


def _reason(catalog: PriceCatalog, instance_type: str) -> str:
    return next(row.reason for row in catalog.excluded() if row.row["instance_type"] == instance_type)


def test_offers_are_sorted_by_dollars_per_device_hour(sample: PriceCatalog) -> None:
    offers = sample.offers("H100", spot=False)
    per_device = [_some(offer.per_device_hour(spot=False)) for offer in offers]
    assert per_device == sorted(per_device)
    assert offers[0].instance_type == "gpu_1x_h100_sxm5"
    assert all(offer.accelerator == "H100-SXM" for offer in offers)


def test_spot_offers_only_include_rows_with_a_spot_price_ranked_by_it(sample: PriceCatalog) -> None:
    offers = sample.offers("h100-sxm", spot=True)
    assert [offer.region for offer in offers] == ["us-east-1", "us-west-2"]
    assert offers[0].per_device_hour(spot=True) == pytest.approx(14.0 / 8)


def test_ambiguous_names_are_split_by_instance_type(sample: PriceCatalog) -> None:
    assert [o.instance_type for o in sample.offers("H100-PCIe")] == ["gpu_1x_h100_pcie", "1x_H100_SECURE"]
    assert [o.instance_type for o in sample.offers("H100-NVL")] == ["Standard_NC40ads_H100_v5"]


def test_suspect_rows_are_excluded_with_the_reason(sample: PriceCatalog) -> None:
    assert "spot price >= on-demand" in _reason(sample, "p5.48xlarge")
    assert "corrected" in _reason(sample, "Standard_ND96isr_H100_v5")
    assert "inconsistent" in _reason(sample, "gpu-attach:H100x8")
    assert all(offer.region != "us-east-2" for offer in sample.offers("H100"))


def test_rows_that_cannot_be_priced_per_device_are_excluded_with_the_reason(sample: PriceCatalog) -> None:
    assert "not in the accelerator catalog" in _reason(sample, "g5.xlarge")
    assert "fractional" in _reason(sample, "g6f.xlarge")
    assert "host VM price only" in _reason(sample, "a3-highgpu-1g")


def test_every_row_is_either_an_offer_or_excluded_with_its_line_number(sample: PriceCatalog) -> None:
    rows = SAMPLE.count("\n") - 1
    assert len(sample.all_offers()) + len(sample.excluded()) == rows
    lines = {row.line for row in sample.excluded()}
    assert all(2 <= line <= rows + 1 for line in lines)
    ten_x = next(row for row in sample.excluded() if row.row["instance_type"] == "Standard_ND96isr_H100_v5")
    assert ten_x.line == 10
    assert isinstance(ten_x, ExcludedRow) and ten_x.row["cloud"] == "azure"


def test_gcp_attach_prices_are_attach_only_offers_left_out_unless_asked_for(sample: PriceCatalog) -> None:
    assert [o.cloud for o in sample.offers("L4")] == ["aws"]
    assert _some(sample.cheapest("L4")).cloud == "aws"
    with_attach = sample.offers("L4", include_attach_only=True)
    attach = [o for o in with_attach if o.attach_only]
    assert len(attach) == 2
    assert all(o.instance_type is None for o in attach), "no instance type: the host VM is not included"
    assert attach[0].label == "gcp/us-central1/gpu-attach:L4x1"


def test_tpu_slices_count_chips_as_devices(sample: PriceCatalog) -> None:
    (v6e,) = sample.offers("trillium")
    assert (v6e.accelerator, v6e.devices) == ("TPU-v6e", 8)
    assert v6e.per_device_hour(spot=False) == pytest.approx(2.7)
    (v5p,) = sample.offers("v5p")
    assert v5p.devices == 4, "v5p slice names count TensorCores, two per chip"
    assert v5p.per_device_hour(spot=False) == pytest.approx(4.2)


def test_cheapest_respects_spot_cloud_region_and_minimum_devices(sample: PriceCatalog) -> None:
    assert _some(sample.cheapest("H100")).instance_type == "gpu_1x_h100_sxm5"
    whole_node = _some(sample.cheapest("H100", min_devices=8))
    assert (whole_node.cloud, whole_node.on_demand_per_hour) == ("aws", 55.04)
    assert _some(sample.cheapest("H100", spot=True)).spot_per_hour == 14.0
    assert _some(sample.cheapest("H100", spot=True, regions=["US-WEST-2"])).region == "us-west-2"
    assert _some(sample.cheapest("H100", clouds=["AWS"], regions=["us-east-1"])).source == "vantage 2026-01"
    assert sample.cheapest("H100", clouds=["lambda"], spot=True) is None
    assert sample.cheapest("H100", min_devices=16) is None
    assert sample.cheapest("MI300X") is None, "a known type without offers has no cheapest offer"


def test_spot_discount_is_the_median_over_rows_that_have_both_prices(sample: PriceCatalog) -> None:
    assert sample.spot_discount("H100", cloud="aws") == pytest.approx(1 - (14.0 + 20.0) / 2 / 98.32)
    assert sample.spot_discount("H100", cloud="lambda") is None
    assert sample.spot_discount("L4", cloud="gcp") == pytest.approx(1 - 0.22 / 0.56)


def test_unknown_accelerator_queries_are_invalid_input(sample: PriceCatalog) -> None:
    with pytest.raises(UnknownAcceleratorError) as caught:
        sample.offers("H1OO")
    assert caught.value.suggestions[0] == "H100-SXM"


def test_accelerators_lists_types_with_offers(sample: PriceCatalog) -> None:
    expected = ["H100-NVL", "H100-PCIe", "H100-SXM", "L4", "TPU-v5p", "TPU-v6e", "Trainium"]
    assert sample.accelerators() == expected


def test_offer_per_device_hour() -> None:
    offer = Offer(cloud="aws", region="r", instance_type="i", accelerator="H100-SXM", devices=8,
                  on_demand_per_hour=80.0, spot_per_hour=None, source="s", note="")
    assert offer.per_device_hour(spot=False) == 10.0
    assert offer.per_device_hour(spot=True) is None


def test_a_file_without_the_expected_columns_is_refused() -> None:
    with pytest.raises(CatalogDataError, match="missing column"):
        PriceCatalog.from_csv("cloud,region\naws,us-east-1\n")


def test_from_csv_reads_a_path(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text(SAMPLE, encoding="utf-8")
    assert len(PriceCatalog.from_csv(path).all_offers()) == len(PriceCatalog.from_csv(SAMPLE).all_offers())


# --- the shipped data ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> PriceCatalog:
    return PriceCatalog.load_default()


def test_shipped_prices_account_for_every_row(shipped: PriceCatalog) -> None:
    assert len(shipped.all_offers()) + len(shipped.excluded()) == 2441
    assert all(row.reason for row in shipped.excluded())


def test_shipped_suspect_rows_are_excluded(shipped: PriceCatalog) -> None:
    excluded = shipped.excluded()
    spot_flags = ("spot==on-demand", "spot>on-demand")
    flagged_spot = [r for r in excluded if any(flag in r.row["note"] for flag in spot_flags)]
    assert len(flagged_spot) == 17
    assert all("spot price >= on-demand" in r.reason for r in flagged_spot)
    corrected = [r for r in excluded if "corrected" in r.row["note"]]
    assert corrected and all("corrected" in r.reason for r in corrected)
    both_prices = [o for o in shipped.all_offers() if o.spot_per_hour and o.on_demand_per_hour]
    assert both_prices and all(_some(o.spot_per_hour) < _some(o.on_demand_per_hour) for o in both_prices)


def test_shipped_aws_h100_spot_discount_is_in_the_hyperscaler_range(shipped: PriceCatalog) -> None:
    discount = shipped.spot_discount("H100", cloud="aws")
    assert discount is not None and 0.5 <= discount <= 0.95


def test_shipped_prices_cover_the_main_training_types(shipped: PriceCatalog) -> None:
    for name in ("H100-SXM", "H200", "B200", "A100-40GB", "A100-80GB", "TPU-v6e", "Trainium", "V100", "K80"):
        assert shipped.cheapest(name) is not None, name
    aws_node = shipped.cheapest("H100", clouds=["aws"], min_devices=8)
    assert aws_node is not None and aws_node.instance_type == "p5.48xlarge"
