"""Ranking offers by $ per million tokens: cheapest usable first, unusable last with reasons."""

from __future__ import annotations

import pytest

from controlplane.perfmodel import Layout
from controlplane.perfmodel.online import OnlineCorrector
from controlplane.perfmodel.ranking import PriceOffer, TrainingWorkload, rank_candidates
from tests.unit.perfmodel.perfmodel_factories import llama3_70b, toy_device

BIG, SMALL, OTHER = toy_device("big", hbm_gib=141), toy_device("small", hbm_gib=24), toy_device("other", hbm_gib=80)
LAYOUT = Layout(tp=8, pp=4, dp=1, micro_batches=16)


def _workload(**changes: object) -> TrainingWorkload:
    base = {"name": "job", "model": llama3_70b(), "layout": LAYOUT, "layout_pinned": True}
    base.update(changes)
    return TrainingWorkload(**base)  # type: ignore[arg-type]


def _offers() -> list[PriceOffer]:
    return [PriceOffer("big", "cloud-a/r1/8x", 4.0, devices_per_instance=8),
            PriceOffer("big", "cloud-b/r1/8x", 3.0, devices_per_instance=8),
            PriceOffer("small", "cloud-a/r1/8x", 0.5, devices_per_instance=8),
            PriceOffer("other", "cloud-c/r1/8x", 3.5, devices_per_instance=8)]


def test_fitting_offers_come_first_cheapest_dollars_per_million_tokens_first() -> None:
    ranked = rank_candidates(_workload(), [BIG, SMALL, OTHER], _offers())
    usable = [c for c in ranked if c.eligible]
    assert [c.offer.label for c in usable if c.offer] == ["cloud-b/r1/8x", "cloud-c/r1/8x", "cloud-a/r1/8x"]
    costs = [c.dollars_per_million_tokens for c in usable]
    assert None not in costs
    assert costs == sorted(c for c in costs if c is not None)


def test_dollars_per_million_tokens_follow_from_price_devices_and_throughput() -> None:
    best = rank_candidates(_workload(), [BIG], _offers())[0]
    assert best.tokens_per_second and best.offer
    expected = best.offer.per_device_hour * LAYOUT.devices / 3600 / best.tokens_per_second * 1e6
    assert best.dollars_per_million_tokens == pytest.approx(expected)


def test_a_candidate_that_does_not_fit_is_last_with_the_memory_reason_even_when_cheapest() -> None:
    ranked = rank_candidates(_workload(), [BIG, SMALL], _offers())
    last = ranked[-1]
    assert last.accelerator == "small" and not last.fits and not last.eligible
    assert last.dollars_per_million_tokens is None
    assert any("needs" in reason and "GiB" in reason for reason in last.reasons)


def test_an_unpinned_layout_is_re_planned_where_the_job_layout_does_not_fit() -> None:
    medium = toy_device("medium", hbm_gib=64)
    ranked = rank_candidates(_workload(layout_pinned=False, layout=Layout(tp=8, pp=1, dp=4, micro_batches=4)),
                             [medium], [PriceOffer("medium", "cloud-a/r1/8x", 0.5, devices_per_instance=8)])
    candidate = ranked[0]
    assert candidate.fits and candidate.layout is not None and candidate.layout.devices == 32
    assert candidate.layout != Layout(tp=8, pp=1, dp=4, micro_batches=4)
    assert any("re-planned" in note for note in candidate.notes)


def test_types_the_job_does_not_accept_rank_after_accepted_ones_with_reasons() -> None:
    ranked = rank_candidates(_workload(accepted_types=("other",), min_memory_gib=100), [BIG, OTHER], _offers())
    assert ranked[0].accelerator == "big" or not ranked[0].eligible
    other = next(c for c in ranked if c.accelerator == "other")
    assert not other.eligible and any("minMemoryGiB" in r for r in other.reasons)
    big = next(c for c in ranked if c.accelerator == "big")
    assert not big.eligible and any("not in the job's types" in r for r in big.reasons)


def test_types_without_a_price_are_kept_with_that_reason() -> None:
    ranked = rank_candidates(_workload(), [BIG, OTHER], [PriceOffer("big", "cloud-b/r1/8x", 3.0)])
    unpriced = next(c for c in ranked if c.accelerator == "other")
    assert unpriced.offer is None and unpriced.fits and not unpriced.eligible
    assert any("no price" in reason for reason in unpriced.reasons)
    assert ranked[-1] is unpriced


def test_instances_smaller_than_the_tensor_parallel_group_are_refused() -> None:
    ranked = rank_candidates(_workload(), [BIG], [PriceOffer("big", "cloud-x/r/1x", 1.0, devices_per_instance=1)])
    assert not ranked[0].eligible and any("cannot hold tp=8" in r for r in ranked[0].reasons)


def test_observed_step_times_correct_the_ranking() -> None:
    corrector = OnlineCorrector()
    for _ in range(10):
        corrector.observe("job", "big", 1.0, 2.0)  # big turned out twice as slow as predicted
    plain = rank_candidates(_workload(), [BIG, OTHER], _offers())
    corrected = rank_candidates(_workload(), [BIG, OTHER], _offers(), corrector=corrector)
    assert plain[0].accelerator == "big" and corrected[0].accelerator == "other"
    big = next(c for c in corrected if c.accelerator == "big")
    assert any("observed" in note for note in big.notes)
