"""HR submission validation by hand, rule by rule, and as properties over consistent payloads."""

from __future__ import annotations

import copy
import math
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orgpulse.hr import last_complete_quarter, quarter_of, validate_submission

TODAY = date(2024, 11, 1)
QUARTER = "period must be one calendar quarter, e.g. 2024-07-01 to 2024-09-30"


def seed_payload() -> dict[str, Any]:
    """The example submission of the HR integration spec (its numbers are consistent)."""
    return {
        "org_id": "conocophillips",
        "submission_date": "2024-10-22",
        "period_start": "2024-07-01",
        "period_end": "2024-09-30",
        "metrics": {
            "retention": {"cohort_size": 45, "retained_count": 42, "retention_rate": 93.3},
            "absenteeism": {"cohort_size": 45, "pre_avg_absence_days": 8.2,
                            "post_avg_absence_days": 3.1, "reduction_pct": 62.2},
            "return_to_work": {"cohort_size": 12, "successful_rtw_count": 11,
                               "success_rate": 91.7},
        },
    }


def problems(body: Any, *, k: int = 10, today: date = TODAY) -> list[tuple[str, str]]:
    result = validate_submission(body, min_cohort_size=k, org_slug="conocophillips",
                                 org_external_id="org-77", today=today)
    assert (result.payload is None) == bool(result.problems)
    return [(p.field, p.message) for p in result.problems]


def with_changes(*changes: tuple[str, Any]) -> dict[str, Any]:
    """The seed payload with dotted fields set (value ``...`` removes the field)."""
    body = seed_payload()
    for path, value in changes:
        *parents, last = path.split(".")
        target = body
        for name in parents:
            target = target[name]
        if value is ...:
            del target[last]
        else:
            target[last] = value
    return body


# ---------------------------------------------------------------------------------- accepted
def test_the_seed_example_is_accepted_as_submitted() -> None:
    result = validate_submission(seed_payload(), min_cohort_size=10, org_slug="conocophillips",
                                 org_external_id="org-77", today=TODAY)
    assert result.problems == ()
    assert result.payload is not None
    assert (result.payload.period_start, result.payload.period_end,
            result.payload.submission_date) == (date(2024, 7, 1), date(2024, 9, 30),
                                                date(2024, 10, 22))
    assert result.payload.metrics == seed_payload()["metrics"]
    assert result.payload.cohort_sizes() == {"retention": 45, "absenteeism": 45,
                                             "return_to_work": 12}


def test_org_may_be_named_by_external_id_and_one_metric_is_enough() -> None:
    body = with_changes(("org_id", "org-77"), ("metrics.absenteeism", ...),
                        ("metrics.return_to_work", ...))
    assert problems(body) == []


def test_rates_may_be_exact_or_rounded_to_one_decimal() -> None:
    # 42/45 = 93.333…: 93.3, 93.33 and 93.38 are within 0.05; 93.4 is not.
    for rate in (93.3, 93.33, 93.38, 93.333333):
        assert problems(with_changes(("metrics.retention.retention_rate", rate))) == []
    assert problems(with_changes(("metrics.retention.retention_rate", 93.4))) == [
        ("metrics.retention.retention_rate",
         "retention_rate 93.4 does not match retained_count / cohort_size (42 / 45): "
         "expected 93.3"),
    ]
    # 5/40 = 12.5 exactly: 12.45 and 12.55 are 0.05 away in decimal (12.55 - 12.5 is a hair
    # above 0.05 in binary floats) and accepted; 12.56 is not.
    for rate in (12.45, 12.55):
        assert problems(with_changes(("metrics.retention.cohort_size", 40),
                                     ("metrics.retention.retained_count", 5),
                                     ("metrics.retention.retention_rate", rate))) == []
    assert problems(with_changes(("metrics.retention.cohort_size", 40),
                                 ("metrics.retention.retained_count", 5),
                                 ("metrics.retention.retention_rate", 12.56))) == [
        ("metrics.retention.retention_rate",
         "retention_rate 12.56 does not match retained_count / cohort_size (5 / 40): "
         "expected 12.5"),
    ]


def test_cohort_exactly_k_is_accepted_and_k_comes_from_the_org() -> None:
    body = with_changes(("metrics.return_to_work.cohort_size", 10),
                        ("metrics.return_to_work.successful_rtw_count", 9),
                        ("metrics.return_to_work.success_rate", 90))
    assert problems(body) == []
    assert problems(body, k=12) == [
        ("metrics.return_to_work.cohort_size", "cohort_size 10 is below the minimum cohort of 12"),
    ]


# ---------------------------------------------------------------------------------- top level
@pytest.mark.parametrize("body", [[], "text", 3, None])
def test_body_must_be_an_object(body: Any) -> None:
    import json

    assert problems(body) == [
        ("body", f"the request body must be a JSON object, got {json.dumps(body)}")
    ]


def test_org_id_is_required_and_must_be_the_path_org() -> None:
    assert problems(with_changes(("org_id", ...))) == [("org_id", "org_id is required")]
    assert problems(with_changes(("org_id", "globex"))) == [
        ("org_id", "org_id \"globex\" is not the organization in the path ('conocophillips')")
    ]
    assert problems(with_changes(("org_id", 77))) == [
        ("org_id", "org_id 77 is not the organization in the path ('conocophillips')")
    ]


@pytest.mark.parametrize("name", ["period_start", "period_end", "submission_date"])
def test_dates_are_required_iso_dates(name: str) -> None:
    assert problems(with_changes((name, ...))) == [(name, f"{name} is required")]
    for bad, shown in (("2024-13-01", '"2024-13-01"'), ("20240701", '"20240701"'),
                       ("July 1", '"July 1"'), (20240701, "20240701"), (None, "null")):
        assert problems(with_changes((name, bad))) == [
            (name, f"{name} must be an ISO date (YYYY-MM-DD), got {shown}")
        ], bad


def test_period_must_be_one_calendar_quarter() -> None:
    assert problems(with_changes(("period_start", "2024-07-02"))) == [
        ("period_start", f"{QUARTER}; period_start 2024-07-02 is not the first day of a quarter")
    ]
    assert problems(with_changes(("period_end", "2024-08-31"))) == [
        ("period_end", f"{QUARTER}; period_end 2024-08-31 is not the last day of the quarter "
                       "starting 2024-07-01"),
    ]
    # A half year is two quarters.
    assert problems(with_changes(("period_start", "2024-04-01"))) == [
        ("period_end", "period must be one calendar quarter, e.g. 2024-04-01 to 2024-06-30; "
                       "period_end 2024-09-30 is not the last day of the quarter starting "
                       "2024-04-01"),
    ]
    # Neither end fits: each is named, with the quarter it falls in.
    assert problems(with_changes(("period_start", "2024-08-15"),
                                 ("period_end", "2024-09-29"))) == [
        ("period_start", f"{QUARTER}; period_start 2024-08-15 is not the first day of a quarter"),
        ("period_end", f"{QUARTER}; period_end 2024-09-29 is not the last day of a quarter"),
    ]
    # Every quarter of a (leap) year, and the year end.
    for start, end in (("2024-01-01", "2024-03-31"), ("2024-04-01", "2024-06-30"),
                       ("2023-10-01", "2023-12-31")):
        assert problems(with_changes(("period_start", start), ("period_end", end))) == []


def test_a_quarter_that_has_not_ended_is_refused() -> None:
    body = with_changes(("period_start", "2024-10-01"), ("period_end", "2024-12-31"),
                        ("submission_date", "2024-11-01"))
    assert problems(body) == [
        ("period_end", "period_end 2024-12-31 is not over yet (today is 2024-11-01); "
                       "a quarter can be submitted from the day after it ends"),
        ("submission_date", "submission_date 2024-11-01 is not after period_end 2024-12-31: "
                            "the quarter's figures are complete only once it has ended"),
    ]
    # On its last day still refused; the day after, accepted.
    assert problems(seed_payload(), today=date(2024, 9, 30))[0] == (
        "period_end", "period_end 2024-09-30 is not over yet (today is 2024-09-30); "
                      "a quarter can be submitted from the day after it ends")
    assert problems(with_changes(("submission_date", "2024-10-01")),
                    today=date(2024, 10, 1)) == []


def test_submission_date_lies_after_the_quarter_and_not_in_the_future() -> None:
    assert problems(with_changes(("submission_date", "2024-09-30"))) == [
        ("submission_date", "submission_date 2024-09-30 is not after period_end 2024-09-30: "
                            "the quarter's figures are complete only once it has ended"),
    ]
    assert problems(with_changes(("submission_date", "2024-11-02"))) == [
        ("submission_date", "submission_date 2024-11-02 is in the future (today is 2024-11-01)")
    ]
    assert problems(with_changes(("submission_date", "2024-11-01"))) == []


def test_unknown_top_level_fields_are_named() -> None:
    assert problems(with_changes(("comment", "q3"))) == [
        ("comment", "unknown field 'comment'; expected org_id, submission_date, period_start, "
                    "period_end, metrics"),
    ]


# ---------------------------------------------------------------------------------- metrics
def test_metrics_must_be_a_non_empty_object_of_known_metrics() -> None:
    assert problems(with_changes(("metrics", ...))) == [("metrics", "metrics is required")]
    assert problems(with_changes(("metrics", []))) == [
        ("metrics", "metrics must be an object, got []")
    ]
    assert problems(with_changes(("metrics", {}))) == [
        ("metrics", "metrics must include at least one of retention, absenteeism, return_to_work")
    ]
    assert problems(with_changes(("metrics.turnover", {"cohort_size": 50}))) == [
        ("metrics.turnover", "unknown metric 'turnover'; expected one of retention, absenteeism, "
                             "return_to_work"),
    ]
    assert problems(with_changes(("metrics.retention", 93.3))) == [
        ("metrics.retention", "retention must be an object, got 93.3")
    ]


@pytest.mark.parametrize("metric", ["retention", "absenteeism", "return_to_work"])
def test_every_cohort_must_reach_k(metric: str) -> None:
    field = f"metrics.{metric}.cohort_size"
    assert problems(with_changes((field, ...))) == [(field, "cohort_size is required")]
    assert problems(with_changes((field, 45.0))) == [
        (field, "cohort_size must be an integer, got 45.0")
    ]
    assert problems(with_changes((field, True))) == [
        (field, "cohort_size must be an integer, got true")
    ]
    # Below k: still checked for consistency (11 of 12 cannot be out of a cohort of 9).
    also = {"retention": [("metrics.retention.retained_count",
                           "retained_count 42 exceeds cohort_size 9")],
            "absenteeism": [],
            "return_to_work": [("metrics.return_to_work.successful_rtw_count",
                                "successful_rtw_count 11 exceeds cohort_size 9")]}
    assert problems(with_changes((field, 9))) == [
        (field, "cohort_size 9 is below the minimum cohort of 10"), *also[metric]
    ]


def test_retention_counts_and_rate() -> None:
    base = "metrics.retention"
    assert problems(with_changes((f"{base}.retained_count", 46))) == [
        (f"{base}.retained_count", "retained_count 46 exceeds cohort_size 45")
    ]
    assert problems(with_changes((f"{base}.retained_count", -1))) == [
        (f"{base}.retained_count", "retained_count -1 is negative")
    ]
    assert problems(with_changes((f"{base}.retained_count", "42"))) == [
        (f"{base}.retained_count", 'retained_count must be an integer, got "42"')
    ]
    assert problems(with_changes((f"{base}.retention_rate", 101))) == [
        (f"{base}.retention_rate", "retention_rate 101 is outside 0 to 100")
    ]
    assert problems(with_changes((f"{base}.retention_rate", -0.1))) == [
        (f"{base}.retention_rate", "retention_rate -0.1 is outside 0 to 100")
    ]
    assert problems(with_changes((f"{base}.retention_rate", 0.933))) == [
        (f"{base}.retention_rate", "retention_rate 0.933 does not match retained_count / "
                                   "cohort_size (42 / 45): expected 93.3")
    ]
    assert problems(with_changes((f"{base}.retention_rate", False))) == [
        (f"{base}.retention_rate", "retention_rate must be a number, got false")
    ]
    for bad, shown in ((math.nan, "NaN"), (math.inf, "Infinity"), (-math.inf, "-Infinity")):
        assert problems(with_changes((f"{base}.retention_rate", bad))) == [
            (f"{base}.retention_rate", f"retention_rate must be a finite number, got {shown}")
        ]
    assert problems(with_changes((f"{base}.churned", 3))) == [
        (f"{base}.churned", "unknown field 'churned' in retention; expected cohort_size, "
                            "retained_count, retention_rate"),
    ]


def test_absenteeism_days_and_reduction() -> None:
    base = "metrics.absenteeism"
    assert problems(with_changes((f"{base}.reduction_pct", 50))) == [
        (f"{base}.reduction_pct", "reduction_pct 50 does not match (pre_avg_absence_days - "
                                  "post_avg_absence_days) / pre_avg_absence_days (8.2, 3.1): "
                                  "expected 62.2"),
    ]
    assert problems(with_changes((f"{base}.pre_avg_absence_days", -8.2))) == [
        (f"{base}.pre_avg_absence_days", "pre_avg_absence_days -8.2 is negative")
    ]
    assert problems(with_changes((f"{base}.post_avg_absence_days", "3.1"))) == [
        (f"{base}.post_avg_absence_days", 'post_avg_absence_days must be a number, got "3.1"')
    ]
    # Absence that went up is a negative reduction: (2 - 3) / 2 = -50 %.
    assert problems(with_changes((f"{base}.pre_avg_absence_days", 2),
                                 (f"{base}.post_avg_absence_days", 3),
                                 (f"{base}.reduction_pct", -50.0))) == []
    # No absence before: the reduction must be 0.
    assert problems(with_changes((f"{base}.pre_avg_absence_days", 0),
                                 (f"{base}.post_avg_absence_days", 0),
                                 (f"{base}.reduction_pct", 0))) == []
    assert problems(with_changes((f"{base}.pre_avg_absence_days", 0),
                                 (f"{base}.post_avg_absence_days", 1.5),
                                 (f"{base}.reduction_pct", -100))) == [
        (f"{base}.reduction_pct", "reduction_pct -100 must be 0 when pre_avg_absence_days is 0")
    ]
    assert problems(with_changes((f"{base}.reduction_pct", ...))) == [
        (f"{base}.reduction_pct", "reduction_pct is required")
    ]


def test_return_to_work_counts_and_rate() -> None:
    base = "metrics.return_to_work"
    assert problems(with_changes((f"{base}.successful_rtw_count", 13))) == [
        (f"{base}.successful_rtw_count", "successful_rtw_count 13 exceeds cohort_size 12")
    ]
    assert problems(with_changes((f"{base}.success_rate", 92.0))) == [
        (f"{base}.success_rate", "success_rate 92.0 does not match successful_rtw_count / "
                                 "cohort_size (11 / 12): expected 91.7"),
    ]


def test_every_problem_is_listed_at_once() -> None:
    body = with_changes(
        ("org_id", "globex"),
        ("period_end", "2024-12-31"),
        ("metrics.retention.cohort_size", 9),
        ("metrics.retention.retained_count", 10),
        ("metrics.absenteeism.reduction_pct", True),
        ("metrics.return_to_work.successful_rtw_count", 13),
        ("metrics.wellbeing", {}),
    )
    assert problems(body) == [
        ("org_id", "org_id \"globex\" is not the organization in the path ('conocophillips')"),
        ("period_end", f"{QUARTER}; period_end 2024-12-31 is not the last day of the quarter "
                       "starting 2024-07-01"),
        ("period_end", "period_end 2024-12-31 is not over yet (today is 2024-11-01); "
                       "a quarter can be submitted from the day after it ends"),
        ("submission_date", "submission_date 2024-10-22 is not after period_end 2024-12-31: "
                            "the quarter's figures are complete only once it has ended"),
        ("metrics.retention.cohort_size", "cohort_size 9 is below the minimum cohort of 10"),
        ("metrics.retention.retained_count", "retained_count 10 exceeds cohort_size 9"),
        ("metrics.absenteeism.reduction_pct", "reduction_pct must be a number, got true"),
        ("metrics.return_to_work.successful_rtw_count",
         "successful_rtw_count 13 exceeds cohort_size 12"),
        ("metrics.wellbeing", "unknown metric 'wellbeing'; expected one of retention, "
                              "absenteeism, return_to_work"),
    ]


def test_quarter_helpers() -> None:
    assert quarter_of(date(2024, 2, 29)) == (date(2024, 1, 1), date(2024, 3, 31))
    assert quarter_of(date(2024, 12, 31)) == (date(2024, 10, 1), date(2024, 12, 31))
    assert last_complete_quarter(date(2024, 10, 1)) == (date(2024, 7, 1), date(2024, 9, 30))
    assert last_complete_quarter(date(2025, 1, 15)) == (date(2024, 10, 1), date(2024, 12, 31))


# ---------------------------------------------------------------------------------- properties
RATE_FIELDS = {"retention": "retention_rate", "absenteeism": "reduction_pct",
               "return_to_work": "success_rate"}
COUNT_FIELDS = {"retention": "retained_count", "return_to_work": "successful_rtw_count"}


@st.composite
def consistent(draw: st.DrawFn) -> tuple[dict[str, Any], int, date, dict[str, dict[str, float]]]:
    """A consistent submission, its k, today, and each metric's exact rate (unrounded)."""
    k = draw(st.integers(10, 30))
    year, q = draw(st.integers(2000, 2035)), draw(st.integers(0, 3))
    start, end = quarter_of(date(year, 3 * q + 1, 1))
    today = end + timedelta(days=draw(st.integers(1, 400)))
    submitted = end + timedelta(days=draw(st.integers(1, (today - end).days)))
    decimals = draw(st.sampled_from([1, 2, 6]))
    names = draw(st.lists(st.sampled_from(list(RATE_FIELDS)), min_size=1, max_size=3,
                          unique=True))
    metrics: dict[str, dict[str, Any]] = {}
    exact: dict[str, dict[str, float]] = {}
    for name in names:
        cohort = draw(st.integers(k, 100_000))
        if name == "absenteeism":
            pre = draw(st.just(0.0) | st.floats(0.01, 365))
            post = draw(st.floats(0, 365))
            rate = 100 * (pre - post) / pre if pre else 0.0
            metrics[name] = {"cohort_size": cohort, "pre_avg_absence_days": pre,
                             "post_avg_absence_days": post,
                             "reduction_pct": round(rate, decimals)}
        else:
            count = draw(st.integers(0, cohort))
            rate = 100 * count / cohort
            metrics[name] = {"cohort_size": cohort, COUNT_FIELDS[name]: count,
                             RATE_FIELDS[name]: round(rate, decimals)}
        exact[name] = {"rate": rate}
    body = {"org_id": draw(st.sampled_from(["conocophillips", "org-77"])),
            "submission_date": submitted.isoformat(), "period_start": start.isoformat(),
            "period_end": end.isoformat(), "metrics": metrics}
    return body, k, today, exact


@settings(max_examples=300, deadline=None)
@given(consistent())
def test_any_consistent_submission_is_accepted(case: Any) -> None:
    body, k, today, _ = case
    result = validate_submission(body, min_cohort_size=k, org_slug="conocophillips",
                                 org_external_id="org-77", today=today)
    assert result.problems == ()
    assert result.payload is not None and result.payload.metrics == body["metrics"]


def fields(body: Any, k: int, today: date) -> list[str]:
    return [f for f, _ in problems(body, k=k, today=today)]


@settings(max_examples=300, deadline=None)
@given(consistent(), st.data())
def test_one_rate_off_by_more_than_rounding_is_exactly_that_problem(
    case: Any, data: st.DataObject
) -> None:
    body, k, today, exact = case
    name = data.draw(st.sampled_from(sorted(body["metrics"])))
    delta = data.draw(st.floats(0.06, 40)) * data.draw(st.sampled_from([1, -1]))
    bad = copy.deepcopy(body)
    bad["metrics"][name][RATE_FIELDS[name]] = exact[name]["rate"] + delta
    assert fields(bad, k, today) == [f"metrics.{name}.{RATE_FIELDS[name]}"]


@settings(max_examples=300, deadline=None)
@given(consistent(), st.data())
def test_one_broken_field_is_exactly_that_problem(case: Any, data: st.DataObject) -> None:
    body, k, today, _ = case
    name = data.draw(st.sampled_from(sorted(body["metrics"])))
    values = body["metrics"][name]
    key = data.draw(st.sampled_from(sorted(values)))
    kind = data.draw(st.sampled_from(["wrong type", "missing", "unknown field", "count"]))
    bad = copy.deepcopy(body)
    target = bad["metrics"][name]
    if kind == "wrong type":
        target[key] = data.draw(st.sampled_from([True, False, None, "12", [1], math.nan]))
    elif kind == "missing":
        del target[key]
    elif kind == "unknown field":
        key = "note"
        target[key] = 1
    elif name in COUNT_FIELDS:
        key = COUNT_FIELDS[name]
        target[key] = values["cohort_size"] + data.draw(st.integers(1, 1000))
    else:
        key = "post_avg_absence_days"
        target[key] = -data.draw(st.floats(0.001, 100))
    assert fields(bad, k, today) == [f"metrics.{name}.{key}"]


@settings(max_examples=200, deadline=None)
@given(consistent(), st.integers(1, 200_000))
def test_raising_k_names_exactly_the_cohorts_below_it(case: Any, k: int) -> None:
    body, _, today, _ = case
    small = [f"metrics.{n}.cohort_size" for n in ("retention", "absenteeism", "return_to_work")
             if n in body["metrics"] and body["metrics"][n]["cohort_size"] < k]
    assert fields(body, k, today) == small
