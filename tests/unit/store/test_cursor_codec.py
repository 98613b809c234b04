"""Pagination cursors travel as opaque URL-safe strings and refuse anything they did not make."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controlplane.domain.errors import InvalidInputError
from controlplane.store.pagination import Cursor, check_limit, decode_cursor, encode_cursor

URL_SAFE = set(string.ascii_letters + string.digits + "-_")

cursors = st.builds(
    Cursor,
    created_at=st.datetimes(timezones=st.just(UTC)),
    id=st.text(min_size=1, max_size=40),
    newest_first=st.booleans(),
)


@given(cursors)
def test_a_cursor_survives_encoding_unchanged(cursor: Cursor) -> None:
    assert decode_cursor(encode_cursor(cursor)) == cursor


@given(cursors)
def test_an_encoded_cursor_is_url_safe_without_padding(cursor: Cursor) -> None:
    assert set(encode_cursor(cursor)) <= URL_SAFE


def test_a_cursor_keeps_the_instant_of_a_non_utc_timestamp() -> None:
    beijing = datetime(2025, 3, 1, 8, 0, tzinfo=timezone(timedelta(hours=8)))
    decoded = decode_cursor(encode_cursor(Cursor(beijing, "a")))
    assert decoded.created_at == datetime(2025, 3, 1, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", [
    "", "not base64!", "bm90IGpzb24", "W10", "e30",
    # valid JSON objects with wrong fields: naive time, empty id, unknown order
    "eyJ0IjoiMjAyNS0wMS0wMVQwMDowMDowMCIsImkiOiJhIiwibyI6ImFzYyJ9",
    "eyJ0IjoiMjAyNS0wMS0wMVQwMDowMDowMCswMDowMCIsImkiOiIiLCJvIjoiYXNjIn0",
    "eyJ0IjoiMjAyNS0wMS0wMVQwMDowMDowMCswMDowMCIsImkiOiJhIiwibyI6InVwIn0",
])
def test_a_malformed_cursor_is_refused_naming_the_cursor_field(text: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        decode_cursor(text)
    assert raised.value.field == "cursor"


@given(st.text(max_size=80))
def test_decoding_arbitrary_text_either_succeeds_or_raises_invalid_input(text: str) -> None:
    try:
        decode_cursor(text)
    except InvalidInputError as error:
        assert error.field == "cursor"


def test_a_page_size_below_one_is_refused_naming_limit() -> None:
    assert check_limit(1) == 1
    with pytest.raises(InvalidInputError) as raised:
        check_limit(0)
    assert raised.value.field == "limit"
