"""Parameter counts and durations are read the way people write them."""

from __future__ import annotations

import pytest

from jobspecs import format_duration, format_quantity, parse_duration, parse_quantity


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("70B", 70e9),
        ("405B", 405e9),
        ("1.5T", 1.5e12),
        ("125M", 125e6),
        ("125m", 125e6),
        ("7b", 7e9),
        ("300K", 3e5),
        ("7.0e10", 7e10),
        ("7e10", 7e10),
        ("70_000_000_000", 7e10),
        (" 8G ", 8e9),
        (70_000_000_000, 7e10),
        (7.0e10, 7e10),
    ],
)
def test_parameter_counts_accept_numbers_and_suffixed_strings(text: object, expected: float) -> None:
    assert parse_quantity(text) == expected


@pytest.mark.parametrize("bad", ["", "70X", "B70", "seventy", "-5B", "0", 0, -1, True, None, [70]])
def test_parameter_counts_reject_garbage_zero_and_negatives(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_quantity(bad)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("15m", 900),
        ("2h", 7200),
        ("1h30m", 5400),
        ("1d", 86400),
        ("500ms", 0.5),
        ("1.5h", 5400),
        ("90", 90),
        (1800, 1800),
        (2.5, 2.5),
    ],
)
def test_durations_accept_units_and_plain_seconds(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "5 minutes", "15x", "m15", "1h-30m", "0s", 0, -3, True, None])
def test_durations_reject_unknown_units_zero_and_negatives(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_formatting_gives_the_short_human_forms() -> None:
    assert format_quantity(70e9) == "70B"
    assert format_quantity(1.5e12) == "1.5T"
    assert format_quantity(125e6) == "125M"
    assert format_duration(5400) == "1h30m"
    assert format_duration(30) == "30s"
    assert format_duration(0.25) == "250ms"
    assert parse_duration(format_duration(93784)) == 93784
