"""Pure rule logic: robust baseline maths, thresholds, parameter validation, shipped defaults."""

from __future__ import annotations

from datetime import date

import pytest

from orgpulse.alerts import rules
from orgpulse.alerts.service import weekly_totals
from orgpulse.core.errors import InvalidInput

# Eight baseline weeks around 100 with one holiday week of 20.
HOLIDAY_BASELINE = [100, 98, 102, 20, 101, 99, 100, 97]


def test_median_and_mad_ignore_one_holiday_week() -> None:
    # sorted: 20 97 98 99 100 100 101 102 -> median 99.5; |deviations| sorted:
    # .5 .5 .5 1.5 1.5 2.5 2.5 79.5 -> MAD 1.5. Robust floor 99.5 - 3*1.5*1.4826 = 92.8283,
    # relative floor 99.5 * 0.7 = 69.65: the alert fires below the lower one, 69.65.
    assert rules.metric_decline(96, HOLIDAY_BASELINE, mad_k=3, min_drop=0.3,
                                min_baseline=20) is None
    decline = rules.metric_decline(60, HOLIDAY_BASELINE, mad_k=3, min_drop=0.3,
                                   min_baseline=20)
    assert decline is not None
    assert decline.median == 99.5
    assert decline.mad == 1.5
    assert decline.floor == pytest.approx(69.65)


def test_noise_below_the_robust_floor_but_above_the_relative_one_is_quiet() -> None:
    # 90 < 92.83 (3 robust sigmas) yet 90 > 69.65 (a 30% drop): tiny noise does not page.
    assert rules.metric_decline(90, HOLIDAY_BASELINE, mad_k=3, min_drop=0.3,
                                min_baseline=20) is None


def test_a_wide_baseline_needs_more_than_the_relative_drop() -> None:
    # median 100, |dev| 40 40 40 40 0 0 0 0 -> MAD 20; robust floor 100 - 3*20*1.4826 = 11.04.
    noisy = [60, 140, 60, 140, 100, 100, 100, 100]
    assert rules.metric_decline(50, noisy, mad_k=3, min_drop=0.3, min_baseline=20) is None
    decline = rules.metric_decline(10, noisy, mad_k=3, min_drop=0.3, min_baseline=20)
    assert decline is not None and decline.floor == pytest.approx(11.044)


def test_a_thin_baseline_is_not_judged() -> None:
    assert rules.metric_decline(0, [10] * 8, mad_k=3, min_drop=0.3, min_baseline=20) is None
    assert rules.metric_decline(0, [], mad_k=3, min_drop=0.3, min_baseline=20) is None


def test_weekly_totals_bucket_the_full_weeks_before_today() -> None:
    today = date(2026, 6, 15)
    daily = {
        date(2026, 6, 15): 500.0,  # today: not a full day, left out
        date(2026, 6, 14): 1.0, date(2026, 6, 8): 2.0,  # current week: 1..7 days ago
        date(2026, 6, 7): 4.0,  # baseline week 1 (8..14 days ago)
        date(2026, 4, 20): 8.0,  # 56 days ago: baseline week 7 (50..56 days ago)
        date(2026, 4, 19): 16.0,  # 57 days ago: baseline week 8 (57..63 days ago)
        date(2026, 4, 12): 32.0,  # 64 days ago: beyond 8 weeks
    }
    assert weekly_totals(daily, today=today, weeks=8) == (3.0, [4, 0, 0, 0, 0, 0, 8, 16])


def test_thresholds_of_the_simple_rules() -> None:
    assert rules.health_below(49.9, threshold=50)
    assert not rules.health_below(50, threshold=50)
    assert not rules.health_below(None, threshold=50)
    assert rules.score_drop(62, [70, 80, 75], points=15) == 18
    assert rules.score_drop(66, [70, 80, 75], points=15) is None
    assert rules.score_drop(50, [], points=15) is None
    assert rules.freshness_lag(2881, lag_minutes=2880)
    assert not rules.freshness_lag(2880, lag_minutes=2880)
    assert not rules.freshness_lag(None, lag_minutes=2880)


def test_bad_parameters_name_the_field() -> None:
    with pytest.raises(InvalidInput) as bad:
        rules.validate_params("health_below", {"threshold": 150})
    assert bad.value.details[0]["field"] == "params.threshold"
    with pytest.raises(InvalidInput) as unknown:
        rules.validate_params("score_drop", {"points": 10, "dayz": 3})
    assert [d["field"] for d in unknown.value.details] == ["params.dayz"]
    assert rules.validate_params("metric_decline", {"weeks": 8}) == rules.MetricDeclineParams()


def test_one_shipped_default_rule_per_kind() -> None:
    defaults = rules.default_rules()
    assert sorted(r.kind for r in defaults.values()) == sorted(rules.PARAM_MODELS)
    assert defaults["metric_decline"].params == {
        "metrics": ["events_total"], "weeks": 8, "mad_k": 3.0, "min_drop": 0.3,
        "min_baseline": 20.0,
    }
    assert defaults["health_below"].channels == ("inapp", "email")
