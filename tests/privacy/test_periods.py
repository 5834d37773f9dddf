"""Predefined periods: ISO weeks, calendar months and quarters accepted; any other range refused."""

from datetime import date

import pytest

from orgpulse.core.errors import InvalidInput
from orgpulse.privacy import ALLOWED_FORMS, parse_period, period_from_dates


@pytest.mark.parametrize(
    ("text", "kind", "first_day", "last_day"),
    [
        ("2026-W10", "week", date(2026, 3, 2), date(2026, 3, 8)),
        # ISO week 1 holds the year's first Thursday: 1 January 2026 is one.
        ("2026-W01", "week", date(2025, 12, 29), date(2026, 1, 4)),
        ("2026-W53", "week", date(2026, 12, 28), date(2027, 1, 3)),
        ("2026-03", "month", date(2026, 3, 1), date(2026, 3, 31)),
        ("2026-02", "month", date(2026, 2, 1), date(2026, 2, 28)),
        ("2024-02", "month", date(2024, 2, 1), date(2024, 2, 29)),
        ("2026-Q1", "quarter", date(2026, 1, 1), date(2026, 3, 31)),
        ("2026-Q2", "quarter", date(2026, 4, 1), date(2026, 6, 30)),
        ("2026-Q4", "quarter", date(2026, 10, 1), date(2026, 12, 31)),
    ],
)
def test_predefined_periods_are_accepted(
    text: str, kind: str, first_day: date, last_day: date
) -> None:
    period = parse_period(text)
    assert (period.kind, period.label, period.first_day, period.last_day) == (
        kind, text, first_day, last_day,
    )
    assert period_from_dates(first_day=first_day, last_day=last_day) == period


def test_the_exclusive_end_is_the_day_after_the_last() -> None:
    assert parse_period("2026-12").end == date(2027, 1, 1)
    assert parse_period("2026-W10").end == date(2026, 3, 9)


@pytest.mark.parametrize(
    "text",
    ["2025-W53", "2026-W00", "2026-W1", "2026-13", "2026-00", "2026-Q5", "2026-Q0",
     "2026-03-01..2026-03-31", "last 30 days", "2026", "", "0000-01"],
)
def test_other_names_are_refused_naming_the_allowed_forms(text: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_period(text)
    assert ALLOWED_FORMS in refused.value.message
    assert refused.value.code == "invalid_input"
    assert refused.value.status_code == 422


@pytest.mark.parametrize(
    ("first_day", "last_day"),
    [
        (date(2026, 3, 3), date(2026, 3, 9)),  # seven days, Tuesday to Monday
        (date(2026, 3, 2), date(2026, 3, 7)),  # Monday to Saturday
        (date(2026, 3, 1), date(2026, 3, 30)),  # a month but one day
        (date(2026, 3, 2), date(2026, 3, 31)),
        (date(2026, 2, 1), date(2026, 4, 30)),  # three months, not a quarter
        (date(2026, 1, 1), date(2026, 6, 30)),  # half a year
        (date(2026, 3, 8), date(2026, 3, 2)),  # backwards
        (date(2026, 3, 2), date(2026, 3, 2)),  # one day
    ],
)
def test_arbitrary_date_ranges_are_refused(first_day: date, last_day: date) -> None:
    with pytest.raises(InvalidInput, match="is not a predefined period; allowed: a calendar week"):
        period_from_dates(first_day=first_day, last_day=last_day)
