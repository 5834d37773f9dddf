"""Report periods: a month (``YYYY-MM``) or a quarter (``YYYY-Qn``), validated by name."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from orgpulse.core.errors import InvalidInput
from orgpulse.privacy import Period, parse_period

_MONTH = re.compile(r"(\d{4})-(\d{2})")
_QUARTER = re.compile(r"\d{4}-Q[1-4]")


@dataclass(frozen=True)
class Month:
    first_day: date
    last_day: date

    @property
    def label(self) -> str:
        return f"{self.first_day:%Y-%m}"

    @property
    def title(self) -> str:
        return f"{self.first_day:%B %Y}"


def month_of(day: date) -> Month:
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Month(first_day=first, last_day=following - timedelta(days=1))


def last_full_month(today: date) -> Month:
    """The calendar month before the one ``today`` is in."""
    return month_of(today.replace(day=1) - timedelta(days=1))


def parse_month(text: str | None, *, today: date) -> Month:
    """``YYYY-MM`` (default: the last full month); a 422 naming ``month`` otherwise."""
    if text is None or text == "":
        return last_full_month(today)
    match = _MONTH.fullmatch(text.strip())
    if match is None or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1:
        raise InvalidInput(
            f"month must look like 2026-05, got {text!r}",
            details=[{"parameter": "month", "problem": "not a YYYY-MM month"}],
        )
    month = month_of(date(int(match[1]), int(match[2]), 1))
    if month.first_day > today:
        raise InvalidInput(
            f"month {month.label} has not started yet",
            details=[{"parameter": "month", "problem": "in the future"}],
        )
    return month


def parse_quarter(text: str | None, *, today: date) -> Period:
    """``YYYY-Qn`` (default: the quarter ``today`` is in); a 422 naming ``quarter`` otherwise."""
    if text is None or text == "":
        return quarter_of(today)
    if _QUARTER.fullmatch(text.strip()) is None:
        raise InvalidInput(
            f"quarter must look like 2026-Q2, got {text!r}",
            details=[{"parameter": "quarter", "problem": "not a YYYY-Qn quarter"}],
        )
    return parse_period(text.strip())


def quarter_of(day: date) -> Period:
    return parse_period(f"{day.year}-Q{(day.month - 1) // 3 + 1}")


def periods_of_run(now: datetime) -> tuple[Month, Period]:
    """The month and quarter a scheduled report covers when it runs at ``now``: those holding
    the day before (a run on 1 July reports June and Q2; a Monday run, the week just ended)."""
    covered = (now - timedelta(days=1)).date()
    return month_of(covered), quarter_of(covered)


def end_of_month(month: Month, *, timezone: str, now: datetime) -> datetime:
    """The last instant of ``month`` in the org's time zone, or ``now`` if that is earlier."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    end = datetime.combine(month.last_day + timedelta(days=1), time(0), tzinfo=zone)
    return min(now, end - timedelta(microseconds=1))
