"""Predefined reporting periods. Pure functions, no I/O.

Only calendar weeks (ISO 8601, Monday–Sunday), calendar months and calendar quarters may be
requested. Arbitrary ranges are refused: two overlapping ranges that differ by one day would
publish two totals whose difference is the people of that one day, however small a cohort.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from orgpulse.core.errors import InvalidInput

PeriodKind = Literal["week", "month", "quarter"]

ALLOWED_FORMS = (
    "a calendar week as YYYY-Www (ISO week, Monday to Sunday, e.g. 2026-W10), "
    "a calendar month as YYYY-MM (e.g. 2026-03) or a calendar quarter as YYYY-Qn (e.g. 2026-Q1)"
)

_WEEK = re.compile(r"(\d{4})-W(\d{2})")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_QUARTER = re.compile(r"(\d{4})-Q([1-4])")


class Period(BaseModel):
    """A predefined period, ``first_day`` to ``last_day`` inclusive."""

    model_config = ConfigDict(frozen=True)

    kind: PeriodKind
    label: str
    first_day: date
    last_day: date

    @property
    def end(self) -> date:
        """Return the day after ``last_day``, the exclusive bound queries use."""
        return self.last_day + timedelta(days=1)


def parse_period(text: str) -> Period:
    """Return the predefined period named by ``text`` or refuse it with ``InvalidInput``."""
    text = text.strip()
    if week := _WEEK.fullmatch(text):
        return _week(int(week[1]), int(week[2]), text)
    if (month := _MONTH.fullmatch(text)) and int(month[1]) >= 1 and 1 <= int(month[2]) <= 12:
        return _month(int(month[1]), int(month[2]))
    if quarter := _QUARTER.fullmatch(text):
        return _quarter(int(quarter[1]), int(quarter[2]))
    raise _refuse(f"period {text!r} is not a predefined period")


def period_from_dates(*, first_day: date, last_day: date) -> Period:
    """Return the predefined period spanning exactly these days, or refuse the range."""
    candidates = (
        _week_containing(first_day),
        _month(first_day.year, first_day.month),
        _quarter(first_day.year, (first_day.month - 1) // 3 + 1),
    )
    for period in candidates:
        if (period.first_day, period.last_day) == (first_day, last_day):
            return period
    raise _refuse(
        f"the range {first_day.isoformat()} to {last_day.isoformat()} is not a predefined period"
    )


def _week(year: int, week: int, text: str) -> Period:
    try:
        monday = date.fromisocalendar(year, week, 1)
    except ValueError:
        raise _refuse(f"{text!r} is not a week of {year}") from None
    return Period(
        kind="week",
        label=f"{year}-W{week:02d}",
        first_day=monday,
        last_day=monday + timedelta(days=6),
    )


def _week_containing(day: date) -> Period:
    iso = day.isocalendar()
    return _week(iso.year, iso.week, f"{iso.year}-W{iso.week:02d}")


def _month(year: int, month: int) -> Period:
    return Period(
        kind="month",
        label=f"{year:04d}-{month:02d}",
        first_day=date(year, month, 1),
        last_day=date(year, month, calendar.monthrange(year, month)[1]),
    )


def _quarter(year: int, quarter: int) -> Period:
    if year < 1:
        raise _refuse(f"'{year:04d}-Q{quarter}' is not a quarter")
    last_month = 3 * quarter
    return Period(
        kind="quarter",
        label=f"{year:04d}-Q{quarter}",
        first_day=date(year, last_month - 2, 1),
        last_day=date(year, last_month, calendar.monthrange(year, last_month)[1]),
    )


def _refuse(problem: str) -> InvalidInput:
    return InvalidInput(f"{problem}; allowed: {ALLOWED_FORMS}")
