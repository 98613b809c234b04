"""The accelerator catalog: names resolve the way users type them, every figure is sourced and sane."""

from __future__ import annotations

import dataclasses

import pytest

from controlplane.catalog.accelerators import (
    FP32_FALLBACK_FRACTION,
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
from controlplane.domain.errors import InvalidInputError

REQUIRED_TYPES = ["H100-SXM", "H800", "H200", "B200", "GB200", "A100-40GB", "A100-80GB", "L4", "L40S",
                  "MI300X", "MI325X", "Ascend-910B", "TPU-v5e", "TPU-v5p", "TPU-v6e", "Trainium", "MLU370-X8"]
GAVEL_TYPES = ["V100", "P100", "K80"]


@pytest.mark.parametrize(("spelling", "canonical"), [
    ("H100", "H100-SXM"), ("h100-sxm", "H100-SXM"), ("H100-80GB", "H100-SXM"), ("h100_80gb", "H100-SXM"),
    ("nvidia-h100", "H100-SXM"), ("NVIDIA-H100-80GB-HBM3", "H100-SXM"), ("nvidia-h100-mega-80gb", "H100-SXM"),
    ("h100 pcie", "H100-PCIe"), ("H800", "H800"), ("h200-141gb", "H200"), ("nvidia-b200", "B200"),
    ("A100", "A100-40GB"), ("a100-40gb", "A100-40GB"), ("nvidia-tesla-a100", "A100-40GB"),
    ("A100-80GB", "A100-80GB"), ("nvidia-a100-80gb", "A100-80GB"), ("NVIDIA-A100-SXM4-80GB", "A100-80GB"),
    ("MI300X", "MI300X"), ("amd-instinct-mi300x", "MI300X"), ("mi325x", "MI325X"),
    ("Ascend910B", "Ascend-910B"), ("910B", "Ascend-910B"), ("huawei-ascend-910b", "Ascend-910B"),
    ("tpu-v6e", "TPU-v6e"), ("v6e", "TPU-v6e"), ("trillium", "TPU-v6e"), ("tpu-v5-lite-podslice", "TPU-v5e"),
    ("v5p", "TPU-v5p"), ("trn1", "Trainium"), ("Trainium2", "Trainium2"), ("mlu370", "MLU370-X8"),
    ("nvidia-tesla-v100", "V100"), ("nvidia-tesla-t4", "T4"), ("nvidia-l4", "L4"), ("L40S", "L40S"),
])
def test_every_common_spelling_resolves_to_one_canonical_type(spelling: str, canonical: str) -> None:
    assert canonical_accelerator_name(spelling) == canonical
    assert get_accelerator(spelling).name == canonical
    assert accelerator_exists(spelling)


def test_canonical_names_resolve_to_themselves() -> None:
    for spec in list_accelerators():
        assert canonical_accelerator_name(spec.name) == spec.name


def test_the_catalog_covers_the_required_types_and_the_gavel_trace_types() -> None:
    names = {spec.name for spec in list_accelerators()}
    assert set(REQUIRED_TYPES + GAVEL_TYPES) <= names


def test_unknown_name_is_invalid_input_listing_three_nearest_matches_and_a_hint() -> None:
    with pytest.raises(UnknownAcceleratorError) as caught:
        get_accelerator("H1OO")
    error = caught.value
    assert isinstance(error, InvalidInputError)
    assert len(error.suggestions) == 3
    assert error.suggestions[0] == "H100-SXM"
    assert all(s.startswith("H1") for s in error.suggestions)
    assert "nearest matches: H100-SXM" in str(error)
    assert error.hint == "run `suanli catalog accelerators` for the full list"


def test_unknown_name_suggestions_are_distinct_canonical_names() -> None:
    with pytest.raises(UnknownAcceleratorError) as caught:
        get_accelerator("tpu-v7x")
    suggestions = caught.value.suggestions
    assert len(set(suggestions)) == len(suggestions) == 3
    assert all(accelerator_exists(s) and canonical_accelerator_name(s) == s for s in suggestions)
    assert not accelerator_exists("tpu-v7x")


def test_empty_name_is_unknown() -> None:
    assert not accelerator_exists("")
    with pytest.raises(UnknownAcceleratorError):
        get_accelerator("  ")


@pytest.mark.parametrize("spec", list_accelerators(), ids=lambda spec: spec.name)
def test_every_entry_is_sourced_and_has_sane_figures(spec: AcceleratorSpec) -> None:
    assert spec.sources, "every entry cites its sources"
    assert "*" in spec.sources or all(spec.source_for(f) for f in ("bf16_tflops", "hbm_gib", "hbm_tbps"))
    labels = ("http", "estimate", "assumption", "third-party")
    assert all(any(label in citation for label in labels) for citation in spec.sources.values()), \
        "a citation names a URL, or says it is an estimate, an assumption or third-party"
    assert spec.vendor in {"nvidia", "amd", "huawei", "google", "aws", "cambricon"}
    assert spec.bf16_tflops > 0
    if spec.fp8_tflops is not None:
        assert spec.fp8_tflops >= spec.bf16_tflops
    assert spec.hbm_gib > 0 and spec.hbm_tbps > 0
    assert spec.interconnect_gbps > 0 and spec.interconnect
    assert spec.devices_per_node >= 1
    assert spec.tdp_watts > 0 and spec.scaleout_gbps_per_device > 0
    assert spec.interconnect_unidirectional_gbps == spec.interconnect_gbps / 2


def test_key_figures_match_the_vendor_datasheets() -> None:
    h100 = get_accelerator("H100")
    assert (h100.bf16_tflops, h100.fp8_tflops) == (989.4, 1978.9)
    assert (h100.hbm_gib, h100.hbm_tbps, h100.interconnect_gbps) == (80, 3.35, 900)
    assert get_accelerator("H800").interconnect_gbps == 400
    assert get_accelerator("H800").bf16_tflops == h100.bf16_tflops
    assert get_accelerator("H200").hbm_gib == 141
    assert get_accelerator("MI300X").hbm_gib == 192
    assert get_accelerator("A100").fp8_tflops is None
    assert get_accelerator("v6e").bf16_tflops == 918
    assert get_accelerator("v5p").interconnect == "ICI"


def test_peak_tflops_by_precision() -> None:
    h100, a100, tpu = get_accelerator("H100"), get_accelerator("A100-80GB"), get_accelerator("v6e")
    assert h100.peak_tflops("bf16") == h100.peak_tflops("FP16") == 989.4
    assert h100.peak_tflops("fp8") == 1978.9
    assert a100.peak_tflops("fp8") == 312, "no FP8: falls back to the 16-bit rate"
    assert a100.peak_tflops("tf32") == 156
    assert a100.peak_tflops("fp32") == 19.5
    assert tpu.peak_tflops("fp32") == pytest.approx(918 * FP32_FALLBACK_FRACTION)
    with pytest.raises(InvalidInputError) as caught:
        h100.peak_tflops("int3")
    assert caught.value.field == "precision"


def test_specs_are_immutable_and_hashable() -> None:
    spec = get_accelerator("H100")
    with pytest.raises(AttributeError):
        spec.bf16_tflops = 1.0  # type: ignore[misc]
    assert {spec: 1}[get_accelerator("h100-sxm")] == 1


def test_default_catalog_is_loaded_once_and_carries_its_header() -> None:
    assert default_accelerator_catalog() is default_accelerator_catalog()
    catalog = default_accelerator_catalog()
    assert catalog.schema_version == 1
    assert catalog.last_reviewed


MINIMAL_ENTRY = """
  - name: {name}
    vendor: nvidia
    family: test
    bf16_tflops: 100
    fp8_tflops: {fp8}
    hbm_gib: 10
    hbm_tbps: 1
    interconnect: NVLink 4
    interconnect_gbps: 100
    devices_per_node: 8
    tdp_watts: 100
    scaleout_gbps_per_device: 100
    aliases: [{aliases}]
    sources: {{"*": "a datasheet - https://example.com"}}
"""


def _catalog_text(*entries: str) -> str:
    return 'schema_version: 1\nlast_reviewed: "2026-01-01"\naccelerators:\n' + "".join(entries)


def test_a_catalog_file_may_not_give_one_alias_to_two_types() -> None:
    text = _catalog_text(MINIMAL_ENTRY.format(name="X1", fp8="null", aliases="shared"),
                         MINIMAL_ENTRY.format(name="X2", fp8="null", aliases="SHARED"))
    with pytest.raises(CatalogDataError, match="already a name or alias of X1"):
        AcceleratorCatalog.from_yaml_text(text)


def test_a_catalog_file_with_sparse_looking_fp8_below_bf16_is_rejected() -> None:
    with pytest.raises(CatalogDataError) as caught:
        AcceleratorCatalog.from_yaml_text(_catalog_text(MINIMAL_ENTRY.format(name="X1", fp8=50, aliases="")))
    assert caught.value.field == "accelerators[0].fp8_tflops"


def test_a_catalog_file_entry_without_sources_is_rejected() -> None:
    entry = MINIMAL_ENTRY.format(name="X1", fp8="null", aliases="").replace(
        '    sources: {"*": "a datasheet - https://example.com"}\n', "")
    with pytest.raises(CatalogDataError, match="sources"):
        AcceleratorCatalog.from_yaml_text(_catalog_text(entry))


def test_a_catalog_file_with_an_unsupported_schema_version_is_rejected() -> None:
    text = _catalog_text(MINIMAL_ENTRY.format(name="X1", fp8="null", aliases="")).replace(
        "schema_version: 1", "schema_version: 2")
    with pytest.raises(CatalogDataError, match="schema_version"):
        AcceleratorCatalog.from_yaml_text(text)


def test_a_catalog_file_with_a_misspelled_field_is_rejected() -> None:
    entry = MINIMAL_ENTRY.format(name="X1", fp8="null", aliases="").replace("tdp_watts", "tdp_wats")
    with pytest.raises(CatalogDataError, match="tdp_wats"):
        AcceleratorCatalog.from_yaml_text(_catalog_text(entry))


def test_a_custom_catalog_resolves_its_own_aliases() -> None:
    catalog = AcceleratorCatalog.from_yaml_text(
        _catalog_text(MINIMAL_ENTRY.format(name="Widget-9", fp8=200, aliases="w9, widget")))
    assert catalog.canonical_name("nvidia_W9") == "Widget-9"
    assert catalog.get("WIDGET").fp8_tflops == 200
    assert [spec.name for spec in catalog] == ["Widget-9"]


def test_specs_convert_to_plain_dicts() -> None:
    as_dict = dataclasses.asdict(get_accelerator("MI300X"))
    assert as_dict["hbm_gib"] == 192 and as_dict["sources"]["*"]
