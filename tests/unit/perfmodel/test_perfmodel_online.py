"""Online correction: converges to the observed ratio, resists outliers, falls back job → type → none."""

from __future__ import annotations

import math
import random

import pytest

from controlplane.domain.errors import InvalidInputError
from controlplane.perfmodel.online import OnlineCorrector


def test_without_observations_predictions_pass_through() -> None:
    corrector = OnlineCorrector()
    assert corrector.correct("job", "H100", 2.0) == 2.0
    assert corrector.correction("job", "H100").basis == "none"


def test_it_converges_to_the_observed_over_predicted_ratio_under_noise() -> None:
    rng = random.Random(7)
    corrector = OnlineCorrector()
    for _ in range(200):
        corrector.observe("job", "H100", 10.0, 10.0 * 1.3 * math.exp(rng.gauss(0, 0.05)))
    assert corrector.correct("job", "H100", 10.0) == pytest.approx(13.0, rel=0.05)


def test_one_outlier_step_moves_the_estimate_only_a_little() -> None:
    corrector = OnlineCorrector()
    for _ in range(10):
        corrector.observe("job", "H100", 1.0, 1.2)
    corrector.observe("job", "H100", 1.0, 9.0)  # a checkpoint pause or a straggler
    assert corrector.correction("job", "H100").factor < 1.4


def test_it_follows_a_lasting_change_in_speed() -> None:
    corrector = OnlineCorrector()
    for _ in range(30):
        corrector.observe("job", "H100", 1.0, 1.0)
    for _ in range(40):
        corrector.observe("job", "H100", 1.0, 2.0)
    assert corrector.correction("job", "H100").factor == pytest.approx(2.0, rel=0.05)


def test_falls_back_from_the_job_to_the_accelerator_type_to_nothing() -> None:
    corrector = OnlineCorrector()
    for _ in range(5):
        corrector.observe("job-a", "H100", 1.0, 1.5)
    assert corrector.correction("job-a", "H100").basis == "job"
    other_job = corrector.correction("job-b", "h100")  # same type, any spelling case
    assert other_job.basis == "accelerator" and other_job.factor == pytest.approx(1.5)
    assert corrector.correction("job-b", "A100-80GB").basis == "none"


def test_job_ratios_stay_separate_from_each_other() -> None:
    corrector = OnlineCorrector()
    for _ in range(10):
        corrector.observe("fast", "H100", 1.0, 0.8)
        corrector.observe("slow", "H100", 1.0, 1.6)
    assert corrector.correct("fast", "H100", 1.0) == pytest.approx(0.8)
    assert corrector.correct("slow", "H100", 1.0) == pytest.approx(1.6)


def test_state_round_trips_through_a_dict() -> None:
    corrector = OnlineCorrector(smoothing=0.3)
    for ratio in (1.1, 1.2, 1.3, 0.9):
        corrector.observe("job", "H100", 1.0, ratio)
    restored = OnlineCorrector.from_dict(corrector.to_dict())
    assert restored.to_dict() == corrector.to_dict()
    assert restored.correct("job", "H100", 2.0) == corrector.correct("job", "H100", 2.0)


@pytest.mark.parametrize(("predicted", "observed"), [(0.0, 1.0), (1.0, -1.0), (1.0, float("nan"))])
def test_non_positive_or_missing_times_are_refused(predicted: float, observed: float) -> None:
    with pytest.raises(InvalidInputError):
        OnlineCorrector().observe("job", "H100", predicted, observed)


def test_malformed_state_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        OnlineCorrector.from_dict({"version": 99})
    with pytest.raises(InvalidInputError):
        OnlineCorrector.from_dict({"version": 1, "settings": {}, "jobs": [{"job": "x"}], "accelerators": []})
