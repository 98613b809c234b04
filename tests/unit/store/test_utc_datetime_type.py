"""UTCDateTime accepts only aware datetimes and always gives back aware UTC ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from controlplane.store.models.base import UTCDateTime

TOKYO = timezone(timedelta(hours=9))


def test_sqlite_stores_the_utc_wall_clock_and_reads_it_back_as_aware_utc() -> None:
    column_type, dialect = UTCDateTime(), sqlite.dialect()
    stored = column_type.process_bind_param(datetime(2025, 1, 1, 9, 0, tzinfo=TOKYO), dialect)
    assert stored == datetime(2025, 1, 1, 0, 0)
    assert column_type.process_result_value(stored, dialect) == datetime(2025, 1, 1, 0, 0, tzinfo=UTC)


def test_postgresql_values_come_back_converted_to_utc() -> None:
    column_type, dialect = UTCDateTime(), postgresql.dialect()
    read = column_type.process_result_value(datetime(2025, 1, 1, 9, 0, tzinfo=TOKYO), dialect)
    assert read is not None and read.tzinfo is UTC and read.hour == 0


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(datetime(2025, 1, 1), sqlite.dialect())


def test_none_passes_through() -> None:
    assert UTCDateTime().process_bind_param(None, sqlite.dialect()) is None
    assert UTCDateTime().process_result_value(None, sqlite.dialect()) is None
