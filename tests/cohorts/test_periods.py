"""Reporting periods (pure): calendar week/month/year around any day, and the 8 trend weeks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from orgpulse.cohorts.periods import Period, local_midnight, period_days, trend_weeks


def test_calendar_periods() -> None:
    sunday = date(2026, 6, 21)
    assert period_days("week", sunday) == (date(2026, 6, 15), date(2026, 6, 22))
    assert period_days("month", date(2026, 12, 31)) == (date(2026, 12, 1), date(2027, 1, 1))
    assert period_days("month", date(2028, 2, 29)) == (date(2028, 2, 1), date(2028, 3, 1))
    assert period_days("year", date(2026, 6, 15)) == (date(2026, 1, 1), date(2027, 1, 1))


@given(st.sampled_from(["week", "month", "year"]), st.dates(date(2000, 1, 1), date(2100, 1, 1)))
def test_a_period_contains_its_anchor_and_tiles_the_calendar(period: Period, day: date) -> None:
    start, end = period_days(period, day)
    assert start <= day < end
    assert period_days(period, end)[0] == end
    assert period_days(period, start - timedelta(days=1))[1] == start
    if period == "week":
        assert start.weekday() == 0 and (end - start).days == 7


def test_trend_weeks_and_local_midnight_across_a_dst_change() -> None:
    weeks = trend_weeks(date(2026, 3, 12))  # a Thursday
    assert weeks[0] == date(2026, 1, 19) and weeks[-1] == date(2026, 3, 9) and len(weeks) == 8
    zone = ZoneInfo("America/New_York")
    # Clocks go forward on 8 March 2026: midnight is 05:00 UTC before, 04:00 UTC after.
    assert local_midnight(date(2026, 3, 8), zone) == datetime(2026, 3, 8, 5, tzinfo=UTC)
    assert local_midnight(date(2026, 3, 9), zone) == datetime(2026, 3, 9, 4, tzinfo=UTC)
