"""Calibration constants: one shipped file, looked up by accelerator, then family, then default."""

from __future__ import annotations

from dataclasses import replace

import pytest

from controlplane.domain.errors import InvalidInputError
from controlplane.perfmodel import Calibration
from tests.unit.perfmodel.perfmodel_factories import toy_device


def test_the_shipped_file_loads_with_sources_and_sane_fractions(calibration: Calibration) -> None:
    for table in (calibration.gemm_by_family, calibration.gemm_by_accelerator):
        for efficiencies in table.values():
            assert all(0 < value <= 1 for value in efficiencies.values())
    assert all(calibration.sources[key] for key in ("gemm_efficiency", "attention_to_gemm", "sustained_fraction"))
    assert 0 < calibration.sustained_default <= 1


def test_an_accelerator_entry_wins_over_its_family(calibration: Calibration) -> None:
    h200 = replace(toy_device("H200"), family="hopper")
    h100 = replace(toy_device("H100-SXM"), family="hopper")
    assert calibration.gemm_efficiency(h100, "fp8") == calibration.gemm_by_family["hopper"]["fp8"]
    assert calibration.gemm_efficiency(h200, "fp8") == calibration.gemm_by_accelerator["H200"]["fp8"]


def test_unknown_families_use_the_default_and_fp8_falls_back_without_fp8_units(calibration: Calibration) -> None:
    npu = replace(toy_device("npu"), family="ascend", peak_tflops={"bf16": 300.0})
    assert calibration.gemm_efficiency(npu, "bf16") == calibration.gemm_default["bf16"]
    assert calibration.gemm_efficiency(npu, "fp8") == calibration.gemm_default["bf16"]  # runs in BF16
    assert calibration.sustained_fraction(npu) == calibration.sustained_default


def test_sustained_fraction_is_per_family_and_replaceable(calibration: Calibration) -> None:
    ampere = replace(toy_device(), family="ampere")
    assert calibration.sustained_fraction(ampere) == calibration.sustained_by_family["ampere"]
    changed = calibration.with_sustained_fraction(0.5, family="ampere")
    assert changed.sustained_fraction(ampere) == 0.5
    assert calibration.sustained_fraction(ampere) != 0.5  # the original is untouched (immutable)
    assert calibration.with_sustained_fraction(0.4).sustained_fraction(ampere) == 0.4


def test_attention_efficiency_is_a_share_of_gemm_efficiency(calibration: Calibration) -> None:
    device = toy_device()
    assert calibration.attention_efficiency(device) == pytest.approx(
        calibration.gemm_efficiency(device, "bf16") * calibration.attention_to_gemm)


@pytest.mark.parametrize("broken", [
    {"schema_version": 2},
    {"schema_version": 1},
    "not a mapping",
])
def test_malformed_calibration_documents_are_refused(broken: object) -> None:
    with pytest.raises(InvalidInputError):
        Calibration.from_document(broken)


def test_efficiencies_above_one_are_refused(tmp_path) -> None:
    from importlib import resources

    import yaml
    document = yaml.safe_load(resources.files("controlplane.perfmodel.data").joinpath("calibration.yaml")
                              .read_text("utf-8"))
    document["hbm_efficiency"] = 1.3
    with pytest.raises(InvalidInputError, match="hbm_efficiency"):
        Calibration.from_document(document)
