"""Reporting periods of cohort analytics: calendar week, month or year in the org's timezone.

Pure functions: no I/O.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Period = Literal["week", "month", "year"]
TREND_WEEKS = 8


def period_days(period: Period, anchor: date) -> tuple[date, date]:
    """Return the first day and the day after the last of the period that contains ``anchor``.

    Weeks start on Monday (ISO 8601).
    """
    if period == "week":
        start = anchor - timedelta(days=anchor.weekday())
        return start, start + timedelta(days=7)
    if period == "month":
        start = anchor.replace(day=1)
        following = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
        return start, following
    start = date(anchor.year, 1, 1)
    return start, date(anchor.year + 1, 1, 1)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """Return the UTC instant at which ``day`` begins in ``zone``."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def trend_weeks(last_day: date, weeks: int = TREND_WEEKS) -> list[date]:
    """Return the Mondays of the ``weeks`` weeks ending with the week of ``last_day``, oldest
    first."""
    monday = last_day - timedelta(days=last_day.weekday())
    return [monday - timedelta(weeks=k) for k in range(weeks - 1, -1, -1)]
