"""Layer splits and the pipeline bubble."""

from __future__ import annotations

import pytest

from controlplane.catalog import get_accelerator
from controlplane.domain.errors import InvalidInputError
from controlplane.perfmodel import Layout, as_device
from controlplane.placement.stages import (
    balanced_stage_layers,
    even_stage_layers,
    max_stage_layers,
    predicted_bubble,
    stage_fits,
)
from tests.unit.placement.placement_factories import big_model


def test_an_even_split_puts_the_remainder_on_the_first_stages() -> None:
    assert even_stage_layers(80, 4) == (20, 20, 20, 20)
    assert even_stage_layers(30, 4) == (8, 8, 7, 7)


def test_equal_speeds_give_an_even_split() -> None:
    assert balanced_stage_layers(32, [1.0] * 4) == (8, 8, 8, 8)


def test_a_twice_as_fast_stage_takes_twice_the_layers() -> None:
    assert balanced_stage_layers(30, [1.0, 2.0]) == (20, 10)


def test_memory_caps_bound_the_split() -> None:
    split = balanced_stage_layers(30, [1.0, 2.0], caps=[15, 30])
    assert split == (15, 15)


def test_a_split_that_cannot_fit_memory_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        balanced_stage_layers(30, [1.0, 1.0], caps=[10, 10])
    with pytest.raises(InvalidInputError):
        balanced_stage_layers(3, [1.0] * 4)


def test_the_split_minimises_the_slowest_stage() -> None:
    speeds = [1.0, 1.3, 2.1]
    split = balanced_stage_layers(40, speeds)
    best = max(n * s for n, s in zip(split, speeds, strict=True))
    for first in range(1, 39):
        for second in range(1, 40 - first):
            third = 40 - first - second
            assert max(first * 1.0, second * 1.3, third * 2.1) >= best - 1e-12


def test_balanced_stages_give_the_classic_bubble() -> None:
    assert predicted_bubble([1.0] * 4, micro_batches=8) == pytest.approx(3 / 11)
    assert predicted_bubble([1.0] * 4, micro_batches=8, virtual_stages=2) == pytest.approx(1.5 / 9.5)
    assert predicted_bubble([1.0], micro_batches=8) == 0.0


def test_unbalanced_stages_idle_more() -> None:
    assert predicted_bubble([1.0, 2.0], micro_batches=8) > predicted_bubble([1.5, 1.5], micro_batches=8)


def test_a_bigger_device_holds_more_layers_per_stage() -> None:
    layout = Layout(tp=8, pp=8, dp=1, micro_batches=8)
    h100 = max_stage_layers(big_model(), layout, as_device(get_accelerator("H100-SXM")))
    mi300x = max_stage_layers(big_model(), layout, as_device(get_accelerator("MI300X")))
    assert 0 < h100 < mi300x
    assert stage_fits(big_model(), layout, as_device(get_accelerator("H100-SXM")), h100)
    assert not stage_fits(big_model(), layout, as_device(get_accelerator("H100-SXM")), h100 + 1)
