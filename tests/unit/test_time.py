"""The ISO-8601 key every sort key and cursor is built from: fixed width, UTC, millisecond
precision, lexical order equal to time order, and read back to the same instant."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain.time import ISO_KEY_PATTERN, iso_key, parse_iso

offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
instants = st.datetimes(
    min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30), timezones=offsets
)


@given(instants)
def test_iso_key_is_fixed_width_utc_milliseconds(moment: datetime) -> None:
    key = iso_key(moment)
    assert re.fullmatch(ISO_KEY_PATTERN, key), key
    in_utc = moment.astimezone(UTC)
    assert key == in_utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{in_utc.microsecond // 1000:03d}Z"
    assert parse_iso(key) == to_millisecond(moment)


def to_millisecond(moment: datetime) -> datetime:
    in_utc = moment.astimezone(UTC)
    return in_utc.replace(microsecond=in_utc.microsecond // 1000 * 1000)


@given(instants, instants)
def test_iso_keys_sort_in_time_order(first: datetime, second: datetime) -> None:
    assert (iso_key(first) < iso_key(second)) == (to_millisecond(first) < to_millisecond(second))
    assert (iso_key(first) == iso_key(second)) == (to_millisecond(first) == to_millisecond(second))


def test_iso_key_refuses_a_naive_instant() -> None:
    with pytest.raises(ValueError, match="naive"):
        iso_key(datetime(2026, 12, 5))
