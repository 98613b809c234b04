"""Priority classes map to integers where higher runs first."""

from __future__ import annotations

import pytest

from controlplane.domain.errors import InvalidInputError
from controlplane.store.priorities import DEFAULT_PRIORITY_CLASS, PRIORITY_BY_CLASS, priority_for_class


@pytest.mark.parametrize(("priority_class", "priority"), [
    ("critical", 1000), ("high", 100), ("normal", 0), ("low", -100), ("best-effort", -1000),
])
def test_each_priority_class_has_its_documented_integer(priority_class: str, priority: int) -> None:
    assert priority_for_class(priority_class) == priority


def test_classes_are_listed_from_most_to_least_urgent() -> None:
    values = list(PRIORITY_BY_CLASS.values())
    assert values == sorted(values, reverse=True)


def test_the_default_class_is_normal() -> None:
    assert priority_for_class(DEFAULT_PRIORITY_CLASS) == 0


def test_an_unknown_class_is_refused_with_the_known_ones_as_hint() -> None:
    with pytest.raises(InvalidInputError) as raised:
        priority_for_class("urgent")
    assert raised.value.field == "priority_class"
    assert raised.value.hint is not None and "best-effort" in raised.value.hint
