"""Validate an HR metrics submission. Pure functions: no I/O.

The input is the parsed JSON body as sent; the output is either the accepted submission or every
problem found, each naming its field (``metrics.retention.retained_count``) and saying what is
wrong in words an HR coordinator can act on. Nothing raises for bad client input.

Rates are checked against the counts they are computed from: a rate may be rounded to one
decimal (it must lie within 0.05 of the exact value, plus a float tolerance), and the message
gives the expected value.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

METRIC_NAMES = ("retention", "absenteeism", "return_to_work")
TOP_LEVEL_FIELDS = ("org_id", "submission_date", "period_start", "period_end", "metrics")
# A rate rounded to one decimal is at most 0.05 away from the exact value; the epsilon absorbs
# binary float error (93.35 is not exactly representable).
RATE_TOLERANCE = 0.05
FLOAT_EPSILON = 1e-9
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a submission: the field (dotted path) and what is wrong."""

    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


@dataclass(frozen=True)
class HrPayload:
    """A valid submission: one calendar quarter of pre-aggregated metrics."""

    period_start: date
    period_end: date
    submission_date: date
    metrics: dict[str, dict[str, Any]]

    def cohort_sizes(self) -> dict[str, int]:
        return {name: int(values["cohort_size"]) for name, values in self.metrics.items()}


@dataclass(frozen=True)
class Validation:
    """The outcome: ``payload`` when there is no problem, else every problem (payload None)."""

    payload: HrPayload | None
    problems: tuple[Problem, ...]


def quarter_of(day: date) -> tuple[date, date]:
    """Return the first and last day of the calendar quarter containing ``day``."""
    first_month = 3 * ((day.month - 1) // 3) + 1
    start = date(day.year, first_month, 1)
    next_start = (
        date(day.year + 1, 1, 1) if first_month == 10 else date(day.year, first_month + 3, 1)
    )
    return start, next_start - timedelta(days=1)


def last_complete_quarter(today: date) -> tuple[date, date]:
    """Return the most recent calendar quarter that ended before ``today``."""
    start, _ = quarter_of(today)
    return quarter_of(start - timedelta(days=1))


def _show(value: Any) -> str:
    """A submitted value as JSON (how the client wrote it), cut short."""
    try:
        shown = json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


class _Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, field: str, message: str) -> None:
        self.problems.append(Problem(field, message))


def _date_field(body: dict[str, Any], name: str, out: _Collector) -> date | None:
    if name not in body:
        out.add(name, f"{name} is required")
        return None
    value = body[name]
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    out.add(name, f"{name} must be an ISO date (YYYY-MM-DD), got {_show(value)}")
    return None


def _check_period(start: date | None, end: date | None, today: date, out: _Collector) -> None:
    if start is not None:
        q_start, q_end = quarter_of(start)
        if start != q_start:
            out.add(
                "period_start",
                f"period must be one calendar quarter, e.g. {q_start} to {q_end}; "
                f"period_start {start} is not the first day of a quarter",
            )
    if end is not None:
        if start is not None and start == quarter_of(start)[0]:
            q_start, q_end = quarter_of(start)
            if end != q_end:
                out.add(
                    "period_end",
                    f"period must be one calendar quarter, e.g. {q_start} to {q_end}; "
                    f"period_end {end} is not the last day of the quarter starting {q_start}",
                )
        else:
            q_start, q_end = quarter_of(end)
            if end != q_end:
                out.add(
                    "period_end",
                    f"period must be one calendar quarter, e.g. {q_start} to {q_end}; "
                    f"period_end {end} is not the last day of a quarter",
                )
        if end >= today:
            out.add(
                "period_end",
                f"period_end {end} is not over yet (today is {today}); "
                f"a quarter can be submitted from the day after it ends",
            )


def _check_submission_date(
    submitted: date | None, end: date | None, today: date, out: _Collector
) -> None:
    if submitted is None:
        return
    if submitted > today:
        out.add(
            "submission_date",
            f"submission_date {submitted} is in the future (today is {today})",
        )
    elif end is not None and submitted <= end:
        out.add(
            "submission_date",
            f"submission_date {submitted} is not after period_end {end}: "
            f"the quarter's figures are complete only once it has ended",
        )


def _integer(values: dict[str, Any], name: str, prefix: str, out: _Collector) -> int | None:
    """A required integer field (JSON booleans are not numbers)."""
    if name not in values:
        out.add(f"{prefix}.{name}", f"{name} is required")
        return None
    value = values[name]
    if isinstance(value, bool) or not isinstance(value, int):
        out.add(f"{prefix}.{name}", f"{name} must be an integer, got {_show(value)}")
        return None
    return value


def _number(values: dict[str, Any], name: str, prefix: str, out: _Collector) -> float | None:
    """A required finite number."""
    if name not in values:
        out.add(f"{prefix}.{name}", f"{name} is required")
        return None
    value = values[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        out.add(f"{prefix}.{name}", f"{name} must be a number, got {_show(value)}")
        return None
    if isinstance(value, float) and not math.isfinite(value):
        out.add(f"{prefix}.{name}", f"{name} must be a finite number, got {_show(value)}")
        return None
    return float(value)


def _count(
    values: dict[str, Any], name: str, cohort: int | None, prefix: str, out: _Collector
) -> int | None:
    """A count of people within the cohort: 0..cohort_size."""
    count = _integer(values, name, prefix, out)
    if count is None:
        return None
    if count < 0:
        out.add(f"{prefix}.{name}", f"{name} {count} is negative")
        return None
    if cohort is not None and count > cohort:
        out.add(f"{prefix}.{name}", f"{name} {count} exceeds cohort_size {cohort}")
        return None
    return count


def _close(submitted: float, exact: float) -> bool:
    return abs(submitted - exact) <= RATE_TOLERANCE + FLOAT_EPSILON


def _share(
    values: dict[str, Any],
    name: str,
    *,
    count_name: str,
    count: int | None,
    cohort: int | None,
    prefix: str,
    out: _Collector,
) -> None:
    """A percentage of the cohort: in [0, 100] and equal to 100·count/cohort when rounded."""
    rate = _number(values, name, prefix, out)
    if rate is None:
        return
    if not 0 <= rate <= 100:
        out.add(f"{prefix}.{name}", f"{name} {_show(values[name])} is outside 0 to 100")
        return
    if count is None or cohort is None or cohort <= 0:
        return
    exact = 100 * count / cohort
    if not _close(rate, exact):
        out.add(
            f"{prefix}.{name}",
            f"{name} {_show(values[name])} does not match {count_name} / cohort_size "
            f"({count} / {cohort}): expected {exact:.1f}",
        )


def _check_retention(values: dict[str, Any], cohort: int | None, out: _Collector) -> None:
    prefix = "metrics.retention"
    retained = _count(values, "retained_count", cohort, prefix, out)
    _share(values, "retention_rate", count_name="retained_count", count=retained,
           cohort=cohort, prefix=prefix, out=out)


def _check_return_to_work(values: dict[str, Any], cohort: int | None, out: _Collector) -> None:
    prefix = "metrics.return_to_work"
    successful = _count(values, "successful_rtw_count", cohort, prefix, out)
    _share(values, "success_rate", count_name="successful_rtw_count", count=successful,
           cohort=cohort, prefix=prefix, out=out)


def _days(values: dict[str, Any], name: str, prefix: str, out: _Collector) -> float | None:
    days = _number(values, name, prefix, out)
    if days is not None and days < 0:
        out.add(f"{prefix}.{name}", f"{name} {_show(values[name])} is negative")
        return None
    return days


def _check_absenteeism(values: dict[str, Any], cohort: int | None, out: _Collector) -> None:
    prefix = "metrics.absenteeism"
    pre = _days(values, "pre_avg_absence_days", prefix, out)
    post = _days(values, "post_avg_absence_days", prefix, out)
    reduction = _number(values, "reduction_pct", prefix, out)
    if pre is None or post is None or reduction is None:
        return
    field = f"{prefix}.reduction_pct"
    shown = _show(values["reduction_pct"])
    if pre == 0:
        # No absence before: there is nothing to reduce, and a relative change is undefined.
        if not _close(reduction, 0.0):
            out.add(field, f"reduction_pct {shown} must be 0 when pre_avg_absence_days is 0")
        return
    exact = 100 * (pre - post) / pre
    if not _close(reduction, exact):
        given = f"{_show(values['pre_avg_absence_days'])}, {_show(values['post_avg_absence_days'])}"
        out.add(
            field,
            f"reduction_pct {shown} does not match (pre_avg_absence_days - post_avg_absence_days)"
            f" / pre_avg_absence_days ({given}): expected {exact:.1f}",
        )


_METRIC_FIELDS = {
    "retention": ("cohort_size", "retained_count", "retention_rate"),
    "absenteeism": ("cohort_size", "pre_avg_absence_days", "post_avg_absence_days",
                    "reduction_pct"),
    "return_to_work": ("cohort_size", "successful_rtw_count", "success_rate"),
}
_METRIC_CHECKS = {
    "retention": _check_retention,
    "absenteeism": _check_absenteeism,
    "return_to_work": _check_return_to_work,
}


def _check_metric(name: str, values: Any, k: int, out: _Collector) -> None:
    prefix = f"metrics.{name}"
    if not isinstance(values, dict):
        out.add(prefix, f"{name} must be an object, got {_show(values)}")
        return
    cohort = _integer(values, "cohort_size", prefix, out)
    if cohort is not None and cohort < k:
        out.add(f"{prefix}.cohort_size",
                f"cohort_size {cohort} is below the minimum cohort of {k}")
    _METRIC_CHECKS[name](values, cohort, out)
    expected = _METRIC_FIELDS[name]
    for key in values:
        if key not in expected:
            out.add(f"{prefix}.{key}",
                    f"unknown field {key!r} in {name}; expected {', '.join(expected)}")


def _check_metrics(body: dict[str, Any], k: int, out: _Collector) -> None:
    if "metrics" not in body:
        out.add("metrics", "metrics is required")
        return
    metrics = body["metrics"]
    if not isinstance(metrics, dict):
        out.add("metrics", f"metrics must be an object, got {_show(metrics)}")
        return
    if not metrics:
        out.add("metrics", f"metrics must include at least one of {', '.join(METRIC_NAMES)}")
        return
    for name in METRIC_NAMES:
        if name in metrics:
            _check_metric(name, metrics[name], k, out)
    for name in metrics:
        if name not in METRIC_NAMES:
            out.add(f"metrics.{name}",
                    f"unknown metric {name!r}; expected one of {', '.join(METRIC_NAMES)}")


def validate_submission(
    body: Any,
    *,
    min_cohort_size: int,
    org_slug: str,
    org_external_id: str,
    today: date,
) -> Validation:
    """Check a submission for the org in the path; collect every problem.

    ``org_id`` in the body may name the org by slug or external id. ``today`` is the org's local
    date: a quarter can be submitted once it has ended.
    """
    out = _Collector()
    if not isinstance(body, dict):
        out.add("body", f"the request body must be a JSON object, got {_show(body)}")
        return Validation(None, tuple(out.problems))
    if "org_id" not in body:
        out.add("org_id", "org_id is required")
    elif body["org_id"] not in (org_slug, org_external_id):
        out.add(
            "org_id",
            f"org_id {_show(body['org_id'])} is not the organization in the path ({org_slug!r})",
        )
    start = _date_field(body, "period_start", out)
    end = _date_field(body, "period_end", out)
    _check_period(start, end, today, out)
    submitted = _date_field(body, "submission_date", out)
    _check_submission_date(submitted, end, today, out)
    _check_metrics(body, min_cohort_size, out)
    for key in body:
        if key not in TOP_LEVEL_FIELDS:
            out.add(str(key), f"unknown field {key!r}; expected {', '.join(TOP_LEVEL_FIELDS)}")
    if out.problems or start is None or end is None or submitted is None:
        return Validation(None, tuple(out.problems))
    return Validation(
        HrPayload(
            period_start=start,
            period_end=end,
            submission_date=submitted,
            metrics={name: dict(values) for name, values in body["metrics"].items()},
        ),
        (),
    )
