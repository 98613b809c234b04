"""Measured throughput tables (Gavel's format) and preferring them over the model."""

from __future__ import annotations

from pathlib import Path

import pytest

from controlplane.domain.errors import InvalidInputError, NotFoundError
from controlplane.perfmodel.online import OnlineCorrector
from controlplane.perfmodel.throughput import MeasuredOrModeled, ThroughputTable, worker_type_key

GAVEL = Path(__file__).resolve().parents[2] / "data" / "gavel" / "simulation_throughputs.json"
RESNET = "ResNet-50 (batch size 64)"


@pytest.fixture(scope="module")
def table() -> ThroughputTable:
    return ThroughputTable.load_gavel(GAVEL)


def test_the_gavel_file_loads_every_worker_type_and_scale_factor(table: ThroughputTable) -> None:
    assert set(table.worker_types()) == {"k80", "p100", "v100", "k80_unconsolidated", "p100_unconsolidated",
                                         "v100_unconsolidated"}
    assert len(table.job_types()) == 26
    assert table.scale_factors(RESNET) == [1, 2, 4, 8]


def test_isolated_throughputs_are_read_and_faster_gpus_are_faster(table: ThroughputTable) -> None:
    v100 = table.steps_per_second(RESNET, "V100")
    p100 = table.steps_per_second(RESNET, "P100")
    k80 = table.steps_per_second(RESNET, "K80")
    assert v100 is not None and p100 is not None and k80 is not None
    assert v100 > p100 > k80
    assert table.step_seconds(RESNET, "V100") == pytest.approx(1 / v100)


def test_catalog_spellings_map_to_gavel_worker_types(table: ThroughputTable) -> None:
    assert worker_type_key("V100-32GB") == "v100"
    assert worker_type_key("nvidia-tesla-k80") == "k80"
    assert table.steps_per_second(RESNET, "V100-32GB") == table.steps_per_second(RESNET, "v100")


def test_unconsolidated_placements_are_a_separate_worker_type(table: ThroughputTable) -> None:
    packed = table.steps_per_second(RESNET, "V100", scale_factor=4)
    spread = table.steps_per_second(RESNET, "V100", scale_factor=4, consolidated=False)
    assert packed is not None and spread is not None and packed != spread


def test_unknown_entries_are_none_not_errors(table: ThroughputTable) -> None:
    assert table.steps_per_second(RESNET, "H100") is None
    assert table.steps_per_second("no such job", "V100") is None


@pytest.mark.parametrize("document", [
    {"v100": {"not a tuple": {"null": 1.0}}},
    {"v100": {"('job', 1)": {"('other', 1)": [1.0, 2.0]}}},
    ["a", "list"],
])
def test_malformed_gavel_documents_are_refused(document: object) -> None:
    with pytest.raises(InvalidInputError):
        ThroughputTable.from_gavel(document)  # type: ignore[arg-type]


def test_measured_entries_win_over_the_model(table: ThroughputTable) -> None:
    estimator = MeasuredOrModeled(table)
    measured = estimator.step_time(RESNET, "V100", modeled=123.0)
    assert measured.source == "measured" and measured.seconds == pytest.approx(table.step_seconds(RESNET, "V100"))


def test_the_model_fills_in_where_nothing_was_measured_and_is_corrected_online(table: ThroughputTable) -> None:
    corrector = OnlineCorrector()
    estimator = MeasuredOrModeled(table, corrector=corrector)
    assert estimator.step_time(RESNET, "H100", modeled=lambda: 0.1).source == "modeled"
    for _ in range(10):
        corrector.observe("job-1", "H100", predicted_step_s=0.1, observed_step_s=0.15)
    corrected = estimator.step_time(RESNET, "H100", modeled=0.1, job_key="job-1")
    assert corrected.source == "modeled+corrected" and corrected.seconds == pytest.approx(0.15)


def test_without_a_measurement_or_a_model_there_is_no_answer(table: ThroughputTable) -> None:
    with pytest.raises(NotFoundError):
        MeasuredOrModeled(table).step_time(RESNET, "H100")
