"""Calendar months and clocks."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schedules.calendar import add_months
from schedules.clock import FixedClock, local_today


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        ("2014-01-31", 1, "2014-02-28"),
        ("2016-01-31", 1, "2016-02-29"),
        ("2014-03-31", 10, "2015-01-31"),
        ("2014-05-31", 5, "2014-10-31"),
        ("2014-04-30", 10, "2015-02-28"),
        ("2014-12-15", 12, "2015-12-15"),
        ("2014-02-10", 0, "2014-02-10"),
    ],
)
def test_add_months_clips_to_the_month_end(start: str, months: int, expected: str) -> None:
    assert add_months(date.fromisoformat(start), months) == date.fromisoformat(expected)


@given(
    st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)),
    st.integers(min_value=0, max_value=120),
)
def test_add_months_lands_in_the_right_month_never_past_the_day(start: date, months: int) -> None:
    result = add_months(start, months)
    assert (result.year * 12 + result.month) - (start.year * 12 + start.month) == months
    assert result.day <= start.day
    assert result.day == start.day or result.day in (28, 29, 30)


def test_today_is_the_parks_local_date() -> None:
    late_evening_utc = FixedClock(datetime(2026, 11, 21, 17, 30, tzinfo=UTC))
    assert local_today(late_evening_utc, "Asia/Shanghai") == date(2026, 11, 22)
    assert local_today(late_evening_utc, "UTC") == date(2026, 11, 21)
