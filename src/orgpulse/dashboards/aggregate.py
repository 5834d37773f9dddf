"""The aggregate (employer) view: privacy-safe numbers about groups, never about a person.

One service function, ``aggregate_report``, feeds the page, the JSON API and the CSV export, so a
number hidden in one is hidden in all. Definitions (see docs/privacy.md, "The aggregate view"):

* **Cohort** of a period: the org's members first seen before the end of the period's last
  counted day (members with no first-seen time count too). Members are placed in their *current*
  unit; members without a unit form the "(no unit)" part of the org.
* **Counted days**: the period's days up to the last complete ISO week (the Sunday before today,
  in the org's time zone). A period in progress therefore changes once a week, by a whole week.
* **Weeks** of a period: the ISO weeks whose Thursday lies in the period (the ISO rule that gives
  every week to exactly one month, quarter and year) and that have ended. Each is counted over
  its whole Monday to Sunday, so its numbers equal the report for that week on its own.
* **Weekly active users (WAU)** of a week: cohort members with any activity that week, as a
  share of the period's cohort. The period average is the sum of the weekly active counts
  (person-weeks) divided by weeks x cohort.
* **People metrics** (Engagement, Wellbeing tabs, from the catalog's ``[aggregate]`` table):
  cohort members with any of the metric's events on a counted day, and their share of the cohort.

Suppression: cohort below k hides the whole result (status ``insufficient_data``); every people
count below k is hidden; a share is shown only when its people count and its cohort both are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, PrivateAttr
from sqlalchemy import Connection, text

from orgpulse.catalog import Catalog, Metric
from orgpulse.core import clock
from orgpulse.core.tenancy import require_org
from orgpulse.dashboards import aggregate_queries as queries
from orgpulse.hr import current_submission
from orgpulse.metrics.engine import Window
from orgpulse.privacy import (
    Cell,
    Node,
    Period,
    PrivacyPolicy,
    ShownCell,
    ShownNode,
    parse_period,
    suppress_series,
    suppress_tree,
)

Breakdown = Literal["none", "unit"]
Tab = Literal["summary", "engagement", "wellbeing", "roi"]
ReportStatus = Literal["ok", "insufficient_data", "not_started"]
TABS: tuple[Tab, ...] = ("summary", "engagement", "wellbeing", "roi")
NO_UNIT = "(no unit)"
HIDDEN_LEGEND = (
    "hidden to protect privacy (fewer than {k} people, or to keep another hidden number "
    "from being worked out)"
)
HR_LABELS: dict[str, tuple[str, dict[str, str]]] = {
    "retention": (
        "Retention",
        {"retained_count": "People retained", "retention_rate": "Retention rate (%)"},
    ),
    "absenteeism": (
        "Absenteeism",
        {
            "pre_avg_absence_days": "Average absence days before",
            "post_avg_absence_days": "Average absence days after",
            "reduction_pct": "Reduction (%)",
        },
    ),
    "return_to_work": (
        "Return to work",
        {
            "successful_rtw_count": "Successful returns",
            "success_rate": "Success rate (%)",
        },
    ),
}
# HR fields that count people: like the cohort, each must reach k for the metric to be shown.
HR_PEOPLE_FIELDS = ("retained_count", "successful_rtw_count")


class Figure(BaseModel):
    """One published cell. Hidden cells have ``suppressed`` true and no numbers, whatever the
    reason: telling "too few people" from "hidden to protect another cell" would narrow both."""

    people: int | None
    percent: float | None
    suppressed: bool


class UnitColumn(BaseModel):
    key: str
    name: str


class Measure(BaseModel):
    """A people count for the org and (with a unit breakdown) per unit, in ``units`` order."""

    key: str
    label: str
    explanation: str
    org: Figure
    units: list[Figure]


class WeekPoint(BaseModel):
    week: str
    first_day: date
    last_day: date
    active: Figure


class WeeklyActive(BaseModel):
    """WAU per ISO week of the period and the period average (of the whole org only)."""

    weeks: list[WeekPoint]
    average_percent: float | None
    average_suppressed: bool


class HrValue(BaseModel):
    key: str
    label: str
    value: float | None


class HrFigure(BaseModel):
    key: str
    label: str
    cohort_size: int | None
    values: list[HrValue]
    suppressed: bool


class Roi(BaseModel):
    quarter: str
    status: Literal["ok", "hr_data_required"]
    message: str | None
    metrics: list[HrFigure]


class AggregateReport(BaseModel):
    """The aggregate view of one org for one predefined period."""

    org_id: int
    slug: str
    name: str
    period: str
    period_kind: str
    first_day: date
    last_day: date
    breakdown: Breakdown
    k: int
    status: ReportStatus
    message: str | None
    hidden_legend: str
    data_through: date | None
    in_progress: bool
    units: list[UnitColumn]
    cohort: Measure | None
    active: Measure | None
    weekly: WeeklyActive | None
    engagement: list[Measure]
    wellbeing: list[Measure]
    roi: Roi | None
    _cohort_size: int = PrivateAttr(default=0)

    @property
    def cohort_for_audit(self) -> int:
        """The true org cohort, for the audit record only (never rendered or serialized)."""
        return self._cohort_size

    @property
    def suppressed(self) -> bool:
        """Whether the whole result is withheld."""
        return self.status != "ok"


@dataclass(frozen=True)
class _Column:
    key: str
    name: str
    unit_id: int  # 0: members without a unit


def period_weeks(period: Period) -> list[Period]:
    """Return the ISO weeks whose Thursday lies in ``period``, each Monday to Sunday."""
    thursday = period.first_day + timedelta(days=(3 - period.first_day.weekday()) % 7)
    weeks = []
    while thursday <= period.last_day:
        iso = thursday.isocalendar()
        weeks.append(
            Period(
                kind="week",
                label=f"{iso.year}-W{iso.week:02d}",
                first_day=thursday - timedelta(days=3),
                last_day=thursday + timedelta(days=3),
            )
        )
        thursday += timedelta(days=7)
    return weeks


def quarter_of(period: Period) -> Period:
    """Return the calendar quarter that holds ``period`` (a week: the one of its Thursday)."""
    anchor = period.first_day + timedelta(days=3) if period.kind == "week" else period.first_day
    quarter = (anchor.month - 1) // 3 + 1
    first = date(anchor.year, 3 * quarter - 2, 1)
    next_first = date(anchor.year + (quarter == 4), (3 * quarter) % 12 + 1, 1)
    return Period(
        kind="quarter",
        label=f"{anchor.year:04d}-Q{quarter}",
        first_day=first,
        last_day=next_first - timedelta(days=1),
    )


def current_quarter(today: date) -> Period:
    """Return the calendar quarter holding ``today`` (the view's default period)."""
    return parse_period(f"{today.year:04d}-Q{(today.month - 1) // 3 + 1}")


def recent_periods(today: date) -> list[Period]:
    """Return the periods the picker offers: 4 quarters, 6 months, 8 weeks, newest first."""
    quarters = []
    year, quarter = today.year, (today.month - 1) // 3 + 1
    for _ in range(4):
        quarters.append(parse_period(f"{year:04d}-Q{quarter}"))
        year, quarter = (year, quarter - 1) if quarter > 1 else (year - 1, 4)
    months = []
    year, month = today.year, today.month
    for _ in range(6):
        months.append(parse_period(f"{year:04d}-{month:02d}"))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    weeks = []
    sunday = last_complete_sunday(today)
    for i in range(8):
        iso = (sunday - timedelta(days=7 * i)).isocalendar()
        weeks.append(parse_period(f"{iso.year}-W{iso.week:02d}"))
    return [*quarters, *months, *weeks]


def org_today(*, conn: Connection, org_id: int, now: datetime) -> date:
    """Return the org's local date at ``now``."""
    require_org(conn, org_id)
    zone = conn.execute(
        text("SELECT timezone FROM orgs WHERE org_id = :o"), {"o": org_id}
    ).scalar_one()
    return clock.local_date(now, str(zone))


def last_complete_sunday(today: date) -> date:
    """Return the Sunday that ended the last complete ISO week before ``today``."""
    return today - timedelta(days=today.isoweekday())


def aggregate_report(
    *,
    conn: Connection,
    org_id: int,
    period: Period,
    breakdown: Breakdown,
    policy: PrivacyPolicy,
    catalog: Catalog,
    today: date,
    allowed_unit_ids: Sequence[int] | None = None,
) -> AggregateReport:
    """Return the suppressed aggregate report of one org for one predefined period.

    ``today`` is the org's local date; ``allowed_unit_ids`` holds a unit admin to their units
    (the report is then about those units' members only).

    Why weeks are not summed into a total of people: one person active in three weeks is one
    person, not three, so the weekly counts are not parts of any people count. Their sum is a
    count of person-weeks, which the period average publishes; it is additive, so it goes
    through ``suppress_series`` as the total of the weeks (one hidden week hides another).
    Per-unit weekly series are not published: a unit x week table with both totals is a
    two-dimensional table, which the suppression rule does not protect.
    """
    require_org(conn, org_id)
    slug, name, timezone = conn.execute(
        text("SELECT slug, name, timezone FROM orgs WHERE org_id = :o"), {"o": org_id}
    ).one()
    through = min(period.last_day, last_complete_sunday(today))
    base = AggregateReport(
        org_id=org_id,
        slug=slug,
        name=name,
        period=period.label,
        period_kind=period.kind,
        first_day=period.first_day,
        last_day=period.last_day,
        breakdown=breakdown,
        k=policy.k,
        status="ok",
        message=None,
        hidden_legend=HIDDEN_LEGEND.format(k=policy.k),
        data_through=None,
        in_progress=through < period.last_day,
        units=[],
        cohort=None,
        active=None,
        weekly=None,
        engagement=[],
        wellbeing=[],
        roi=None,
    )
    if through < period.first_day:
        base.status = "not_started"
        base.message = (
            f"No calendar week of {period.label} has ended yet: its figures appear once the "
            "first week is complete."
        )
        return base
    end = Window(since=period.first_day, until=through).bounds(ZoneInfo(timezone))[1]
    units = list(allowed_unit_ids) if allowed_unit_ids is not None else None
    params: dict[str, Any] = {"org": org_id, "end": end, "units": units}
    cohort = {int(u): int(n) for u, n in conn.execute(queries.cohort_by_unit(), params)}
    columns = _columns(conn, org_id=org_id, cohort=cohort, allowed_unit_ids=units)
    org_cohort = sum(cohort.get(c.unit_id, 0) for c in columns)
    base._cohort_size = org_cohort
    if org_cohort < policy.k:
        base.status = "insufficient_data"
        base.message = (
            f"Fewer than {policy.k} people make up this organization's cohort for "
            f"{period.label}, so nothing is shown: with so few people, any number could "
            "describe someone. This is not an error."
        )
        return base
    shown_columns = columns if breakdown == "unit" else []
    base.data_through = through
    base.units = [UnitColumn(key=c.key, name=c.name) for c in shown_columns]

    def people(names: Sequence[str] | None) -> dict[int, int]:
        rows = conn.execute(
            queries.people_by_unit(),
            {**params, "since": period.first_day, "until": through, "names": names},
        )
        return {int(u): int(n) for u, n in rows}

    cohort_tree = _tree(cohort, shown_columns, policy=policy)
    base.cohort = _measure(
        key="cohort",
        label="People in the cohort",
        explanation="Members known by the end of the counted days of the period.",
        tree=cohort_tree,
        cohort_tree=None,
    )
    base.active = _measure(
        key="active",
        label="People active in the period",
        explanation="Cohort members with any activity on a counted day of the period.",
        tree=_tree(people(None), shown_columns, policy=policy),
        cohort_tree=cohort_tree,
    )

    def tab(keys: Sequence[str]) -> list[Measure]:
        return [
            _metric_measure(catalog.metric(key), people, shown_columns, cohort_tree, policy)
            for key in keys
        ]

    base.engagement = tab(catalog.aggregate.engagement)
    base.wellbeing = tab(catalog.aggregate.wellbeing)
    base.weekly = _weekly(
        conn,
        params=params,
        weeks=[w for w in period_weeks(period) if w.last_day <= last_complete_sunday(today)],
        org_cohort=org_cohort,
        policy=policy,
    )
    base.roi = _roi(conn, org_id=org_id, period=period, policy=policy)
    return base


def _columns(
    conn: Connection,
    *,
    org_id: int,
    cohort: Mapping[int, int],
    allowed_unit_ids: Sequence[int] | None,
) -> list[_Column]:
    """The parts of the org: units with cohort members, then "(no unit)" when it has people."""
    columns = [
        _Column(key=str(ext), name=str(name), unit_id=int(unit_id))
        for unit_id, ext, name in conn.execute(queries.units_of_org(), {"org": org_id})
        if cohort.get(int(unit_id), 0) > 0
        and (allowed_unit_ids is None or int(unit_id) in allowed_unit_ids)
    ]
    if allowed_unit_ids is None and cohort.get(0, 0) > 0:
        columns.append(_Column(key=NO_UNIT, name=NO_UNIT, unit_id=0))
    return columns


def _tree(
    counts: Mapping[int, int], columns: Sequence[_Column], *, policy: PrivacyPolicy
) -> ShownNode:
    children = tuple(
        Node(cell=Cell(key=("org", str(i)), people=counts.get(c.unit_id, 0)))
        for i, c in enumerate(columns)
    )
    total = (
        sum(child.cell.people for child in children)
        if children
        else sum(counts.values())
    )
    root = Node(cell=Cell(key=("org",), people=total), children=children)
    return suppress_tree(root=root, policy=policy).root


def _figure(cell: ShownCell, cohort: ShownCell | None) -> Figure:
    percent = None
    if (
        cohort is not None
        and not cell.suppressed
        and not cohort.suppressed
        and cell.people is not None
        and cohort.people
    ):
        percent = round(100 * cell.people / cohort.people, 1)
    return Figure(people=cell.people, percent=percent, suppressed=cell.suppressed)


def _measure(
    *, key: str, label: str, explanation: str, tree: ShownNode, cohort_tree: ShownNode | None
) -> Measure:
    cohorts = cohort_tree.children if cohort_tree is not None else [None] * len(tree.children)
    return Measure(
        key=key,
        label=label,
        explanation=explanation,
        org=_figure(tree.cell, cohort_tree.cell if cohort_tree is not None else None),
        units=[
            _figure(child.cell, c.cell if c is not None else None)
            for child, c in zip(tree.children, cohorts, strict=True)
        ],
    )


def _metric_measure(
    metric: Metric,
    people: Callable[[Sequence[str] | None], dict[int, int]],
    columns: Sequence[_Column],
    cohort_tree: ShownNode,
    policy: PrivacyPolicy,
) -> Measure:
    counts = people(list(metric.events) or None)
    return _measure(
        key=metric.key,
        label=metric.label,
        explanation=metric.explanation,
        tree=_tree(counts, columns, policy=policy),
        cohort_tree=cohort_tree if metric.kind == "active_share" else None,
    )


def _weekly(
    conn: Connection,
    *,
    params: Mapping[str, Any],
    weeks: Sequence[Period],
    org_cohort: int,
    policy: PrivacyPolicy,
) -> WeeklyActive:
    if not weeks:
        return WeeklyActive(weeks=[], average_percent=None, average_suppressed=False)
    rows = conn.execute(
        queries.weekly_people(),
        {**params, "since": weeks[0].first_day, "until": weeks[-1].last_day, "names": None},
    )
    active = {monday: int(n) for monday, n in rows}
    cells = [Cell(key=("week", w.label), people=active.get(w.first_day, 0)) for w in weeks]
    total = Cell(key=("total",), people=sum(c.people for c in cells))
    series = suppress_series(periods=cells, total=total, cohort=org_cohort, policy=policy)
    points = []
    for week, shown in zip(weeks, series.periods, strict=True):
        percent = None if shown.people is None else round(100 * shown.people / org_cohort, 1)
        points.append(
            WeekPoint(
                week=week.label,
                first_day=week.first_day,
                last_day=week.last_day,
                active=Figure(people=shown.people, percent=percent, suppressed=shown.suppressed),
            )
        )
    shown_total = series.total
    average = None
    if shown_total is not None and shown_total.people is not None:
        average = round(100 * shown_total.people / (len(weeks) * org_cohort), 1)
    return WeeklyActive(
        weeks=points,
        average_percent=average,
        average_suppressed=average is None,
    )


def _roi(conn: Connection, *, org_id: int, period: Period, policy: PrivacyPolicy) -> Roi:
    quarter = quarter_of(period)
    submission = current_submission(conn=conn, org_id=org_id, period_start=quarter.first_day)
    if submission is None:
        return Roi(
            quarter=quarter.label,
            status="hr_data_required",
            message=(
                f"HR data integration required: no HR aggregates were submitted for "
                f"{quarter.label}."
            ),
            metrics=[],
        )
    figures = []
    for key, (label, fields) in HR_LABELS.items():
        data = submission.metrics.get(key)
        if not isinstance(data, dict):
            continue
        size = data.get("cohort_size")
        small = not isinstance(size, int) or size < policy.k
        for field in HR_PEOPLE_FIELDS:
            value = data.get(field)
            if field in fields and (not isinstance(value, int | float) or value < policy.k):
                small = True
        figures.append(
            HrFigure(
                key=key,
                label=label,
                cohort_size=size if isinstance(size, int) and not small else None,
                values=[
                    HrValue(
                        key=f,
                        label=flabel,
                        value=None if small else _number(data.get(f)),
                    )
                    for f, flabel in fields.items()
                ],
                suppressed=small,
            )
        )
    return Roi(quarter=quarter.label, status="ok", message=None, metrics=figures)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
