from datetime import date, timedelta

import pytest

from orgpulse.dashboards.charts import daily_bar_chart
from orgpulse.web.templating import event_label, humanize_age


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (None, "never"),
        (0, "0 s"),
        (59, "59 s"),
        (60, "1 min"),
        (3599, "59 min"),
        (3600, "1 h"),
        (2 * 86400 - 1, "47 h"),
        (2 * 86400, "2 days"),
        (38716 * 60, "26 days"),
    ],
)
def test_humanize_age(seconds: int | None, expected: str) -> None:
    assert humanize_age(seconds) == expected


def test_event_label_names_reserved_events_and_keeps_others() -> None:
    assert event_label("$page") == "Page views"
    assert event_label("$identify") == "Profile updates (identify)"
    assert event_label("Login") == "Login"


def test_chart_has_one_bar_per_day_and_unclipped_end_labels() -> None:
    start = date(2026, 1, 1)
    points = [(start + timedelta(days=i), v) for i, v in enumerate([0, 3, 7, 2])]
    svg = str(daily_bar_chart(points, title="t <x>", width=400, height=100))
    assert svg.count("<rect ") == 4
    assert "<title>t &lt;x&gt;</title>" in svg
    assert '<title>2026-01-03: 7</title>' in svg
    assert 'text-anchor="start">Jan 01<' in svg
    assert 'text-anchor="end">Jan 04<' in svg
    # The tallest bar fills the plot up to the axis maximum (10 for a peak of 7).
    assert '>10</text>' in svg
