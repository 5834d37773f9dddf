"""Cohort risk analytics (seed 003, STORY-AD-9): one service function per view.

``cohort_analytics`` feeds the page and ``GET /api/v1/orgs/{org}/cohort-analytics``,
``cohort_comparison`` the comparison endpoint and the page's side-by-side table, and
``cohort_export`` the CSV. Definitions are in docs/cohort-analytics.md; in short:

* state "as of" the end of the period (or now, for the current period): a student is at risk
  with an unresolved high or critical flag; the distribution counts students by their highest
  unresolved level;
* activity of the period: flags raised in it (resolution time, intervention rate, effectiveness)
  and interventions logged in it (improvement rate);
* a rate whose denominator is zero is ``None`` and shown as "no data", never 0%.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import Connection

from orgpulse.cohorts import queries as q
from orgpulse.cohorts.periods import Period, local_midnight, period_days, trend_weeks
from orgpulse.core import clock
from orgpulse.ingestion.risk_events import RISK_LEVELS
from orgpulse.metrics.scope import org_view

GroupBy = Literal["cohort", "program"]
NO_DATA = "no data"
NOT_CAUSAL = (
    "A plain comparison of students who received an intervention with those who did not, "
    "within the same risk level. It is not causal: advisors choose whom to help."
)
UNGROUPED_LABEL = {"cohort": "No cohort", "program": "No program"}


class Filters(BaseModel):
    cohort: str | None = None
    course: str | None = None
    program: str | None = None


class Kpis(BaseModel):
    """The four key metrics, with the counts behind each and how each is displayed."""

    total_at_risk: int
    avg_resolution_hours: float | None
    resolved_flags: int
    intervention_rate: float | None
    students_flagged: int
    students_with_intervention: int
    improvement_rate: float | None
    interventions_improved: int
    interventions_with_final_outcome: int
    interventions_pending: int
    interventions_without_outcome: int
    display: dict[str, str]


class GroupProfile(BaseModel):
    """One cohort's (or program's) risk profile: open students by highest level, and KPIs."""

    key: str | None
    label: str
    distribution: dict[str, int]
    students_open: int
    kpis: Kpis


class TrendWeek(BaseModel):
    week_start: date
    low: int
    moderate: int
    high: int
    critical: int


class LevelEffectiveness(BaseModel):
    """Students flagged at one level in the period: resolved share with vs without intervention."""

    level: str
    with_intervention: int
    with_intervention_resolved: int
    with_intervention_rate: float | None
    without_intervention: int
    without_intervention_resolved: int
    without_intervention_rate: float | None


class Scope(BaseModel):
    org_id: int
    slug: str
    name: str
    timezone: str
    period: Period
    period_start: date
    period_end: date  # last day, inclusive
    as_of: datetime
    filters: Filters


class FilterOptions(BaseModel):
    cohorts: list[str]
    courses: list[str]
    programs: list[str]


class CohortAnalytics(BaseModel):
    scope: Scope
    has_data: bool
    options: FilterOptions
    kpis: Kpis
    distribution: dict[str, int]
    cohorts: list[GroupProfile]
    trend: list[TrendWeek]
    effectiveness: list[LevelEffectiveness]
    effectiveness_note: str


class CohortComparison(BaseModel):
    scope: Scope
    by: GroupBy
    groups: list[GroupProfile]


class ExportRow(BaseModel):
    student: str
    risk_level: str
    confidence: float | None
    flag_status: str
    intervention_count: int
    latest_outcome: str | None
    created_at: datetime
    flag_id: str
    cohort: str | None
    course: str | None
    program: str | None


class CohortExport(BaseModel):
    scope: Scope
    names_shown: bool
    rows: list[ExportRow]


# ------------------------------------------------------------------------------ pure helpers
def ratio(numerator: int, denominator: int) -> float | None:
    """Return numerator / denominator, or None when there is nothing to divide by."""
    return numerator / denominator if denominator else None


def percent(value: float | None) -> str:
    return NO_DATA if value is None else f"{value * 100:.1f}%"


def hours(value: float | None) -> str:
    return NO_DATA if value is None else f"{value:.1f} h"


def pseudonym(key: str, org_id: int, student: str) -> str:
    """Return a stable id for a student that does not reveal who they are."""
    digest = hmac.new(key.encode(), f"{org_id}:{student}".encode(), hashlib.sha256).hexdigest()
    return f"student-{digest[:12]}"


def _kpis(
    *, at_risk: int, activity: dict[str, Any] | None, outcomes: dict[str, Any] | None
) -> Kpis:
    a = activity or {"resolved": 0, "hours": None, "students": 0, "intervened": 0}
    o = outcomes or {"improved": 0, "final": 0, "pending": 0, "no_outcome": 0}
    avg_hours = None if a["hours"] is None else float(a["hours"])
    intervention_rate = ratio(int(a["intervened"]), int(a["students"]))
    improvement_rate = ratio(int(o["improved"]), int(o["final"]))
    return Kpis(
        total_at_risk=at_risk,
        avg_resolution_hours=avg_hours,
        resolved_flags=int(a["resolved"]),
        intervention_rate=intervention_rate,
        students_flagged=int(a["students"]),
        students_with_intervention=int(a["intervened"]),
        improvement_rate=improvement_rate,
        interventions_improved=int(o["improved"]),
        interventions_with_final_outcome=int(o["final"]),
        interventions_pending=int(o["pending"]),
        interventions_without_outcome=int(o["no_outcome"]),
        display={
            "total_at_risk": str(at_risk),
            "avg_resolution_hours": hours(avg_hours),
            "intervention_rate": percent(intervention_rate),
            "improvement_rate": percent(improvement_rate),
        },
    )


def _empty_distribution() -> dict[str, int]:
    return dict.fromkeys(RISK_LEVELS, 0)


# ------------------------------------------------------------------------------ reads
class _Reader:
    """The scope of one request and the queries over it."""

    def __init__(
        self,
        conn: Connection,
        *,
        org_id: int,
        now: datetime,
        period: Period,
        day: date | None,
        filters: Filters,
        by: GroupBy = "cohort",
    ) -> None:
        view = org_view(conn, org_id=org_id)
        self.conn = conn
        self.zone = ZoneInfo(view.timezone)
        today = clock.local_date(now, view.timezone)
        first, following = period_days(period, day or today)
        start, end = local_midnight(first, self.zone), local_midnight(following, self.zone)
        self.as_of = min(end, now)
        self.last_day = min(following - timedelta(days=1), today)
        self.by = by
        self.scope = Scope(
            org_id=org_id,
            slug=view.slug,
            name=view.name,
            timezone=view.timezone,
            period=period,
            period_start=first,
            period_end=following - timedelta(days=1),
            as_of=self.as_of,
            filters=filters,
        )
        self.params: dict[str, Any] = {
            "org": org_id,
            "by": by,
            **filters.model_dump(),
            "start": start,
            "end": end,
            "as_of": self.as_of,
            "tz": view.timezone,
        }

    def groups(self) -> tuple[GroupProfile, list[GroupProfile]]:
        """Return the overall profile and one per group (``by``), largest groups first."""
        distribution: dict[tuple[bool, str | None], dict[str, int]] = {}
        for overall, grp, rank, n in self.conn.execute(q.open_risk(), self.params):
            key = (bool(overall), None if overall else grp)
            distribution.setdefault(key, _empty_distribution())[RISK_LEVELS[rank - 1]] = int(n)
        activity = {
            (bool(r.overall), None if r.overall else r.grp): r._asdict()
            for r in self.conn.execute(q.flag_activity(), self.params)
        }
        outcomes = {
            (bool(r.overall), None if r.overall else r.grp): r._asdict()
            for r in self.conn.execute(q.intervention_outcomes(), self.params)
        }

        def profile(key: tuple[bool, str | None]) -> GroupProfile:
            dist = distribution.get(key, _empty_distribution())
            grp = key[1]
            return GroupProfile(
                key=grp,
                label="All students" if key[0] else (grp or UNGROUPED_LABEL[self.by]),
                distribution=dist,
                students_open=sum(dist.values()),
                kpis=_kpis(
                    at_risk=dist["high"] + dist["critical"],
                    activity=activity.get(key),
                    outcomes=outcomes.get(key),
                ),
            )

        keys = {k for k in (*distribution, *activity, *outcomes) if not k[0]}
        groups = [profile(k) for k in keys]
        groups.sort(
            key=lambda g: (-g.students_open, -g.kpis.students_flagged, g.key is None, g.key or "")
        )
        return profile((True, None)), groups

    def trend(self) -> list[TrendWeek]:
        weeks = trend_weeks(self.last_day)
        params = {
            **self.params,
            "trend_start": local_midnight(weeks[0], self.zone),
            "trend_end": local_midnight(weeks[-1] + timedelta(days=7), self.zone),
        }
        counts: dict[date, dict[str, int]] = {w: _empty_distribution() for w in weeks}
        for week, rank, n in self.conn.execute(q.weekly_trend(), params):
            if week in counts:
                counts[week][RISK_LEVELS[rank - 1]] = int(n)
        return [TrendWeek(week_start=w, **counts[w]) for w in weeks]

    def effectiveness(self) -> list[LevelEffectiveness]:
        cells: dict[tuple[int, bool], tuple[int, int]] = {}
        for rank, intervened, n, resolved in self.conn.execute(q.effectiveness(), self.params):
            cells[(rank, bool(intervened))] = (int(n), int(resolved))
        rows = []
        for rank, level in enumerate(RISK_LEVELS, start=1):
            w_n, w_ok = cells.get((rank, True), (0, 0))
            o_n, o_ok = cells.get((rank, False), (0, 0))
            rows.append(
                LevelEffectiveness(
                    level=level,
                    with_intervention=w_n,
                    with_intervention_resolved=w_ok,
                    with_intervention_rate=ratio(w_ok, w_n),
                    without_intervention=o_n,
                    without_intervention_resolved=o_ok,
                    without_intervention_rate=ratio(o_ok, o_n),
                )
            )
        return rows

    def options(self) -> tuple[bool, FilterOptions]:
        row = self.conn.execute(q.filter_options(), {"org": self.params["org"]}).one()
        return bool(row.flags), FilterOptions(
            cohorts=sorted(row.cohorts or []),
            courses=sorted(row.courses or []),
            programs=sorted(row.programs or []),
        )


def cohort_analytics(
    *,
    conn: Connection,
    org_id: int,
    now: datetime,
    period: Period = "month",
    day: date | None = None,
    filters: Filters | None = None,
) -> CohortAnalytics:
    """KPIs, distribution per cohort, 8-week trend and intervention effectiveness of one org."""
    reader = _Reader(
        conn, org_id=org_id, now=now, period=period, day=day, filters=filters or Filters()
    )
    has_data, options = reader.options()
    overall, cohorts = reader.groups()
    return CohortAnalytics(
        scope=reader.scope,
        has_data=has_data,
        options=options,
        kpis=overall.kpis,
        distribution=overall.distribution,
        cohorts=cohorts,
        trend=reader.trend(),
        effectiveness=reader.effectiveness(),
        effectiveness_note=NOT_CAUSAL,
    )


def cohort_comparison(
    *,
    conn: Connection,
    org_id: int,
    now: datetime,
    period: Period = "month",
    day: date | None = None,
    filters: Filters | None = None,
    by: GroupBy = "cohort",
) -> CohortComparison:
    """Risk profile and KPIs of every cohort (or program) side by side."""
    reader = _Reader(
        conn, org_id=org_id, now=now, period=period, day=day, filters=filters or Filters(), by=by
    )
    _, groups = reader.groups()
    return CohortComparison(scope=reader.scope, by=by, groups=groups)


def cohort_export(
    *,
    conn: Connection,
    org_id: int,
    now: datetime,
    student_label: Callable[[str, str | None], str],
    names_shown: bool,
    period: Period = "month",
    day: date | None = None,
    filters: Filters | None = None,
) -> CohortExport:
    """Every flag raised in the period with its interventions, newest first.

    ``student_label(student_id, name)`` decides what identifies the student in the export: the
    caller passes names only to viewers allowed to see them.
    """
    reader = _Reader(
        conn, org_id=org_id, now=now, period=period, day=day, filters=filters or Filters()
    )
    rows = [
        ExportRow(
            student=student_label(r.student, r.student_name),
            risk_level=r.level,
            confidence=None if r.confidence is None else float(r.confidence),
            flag_status="resolved" if r.resolved else "open",
            intervention_count=int(r.interventions),
            latest_outcome=r.latest_outcome,
            created_at=r.flagged_at,
            flag_id=r.flag_id,
            cohort=r.cohort,
            course=r.course,
            program=r.program,
        )
        for r in conn.execute(q.export_rows(), reader.params)
    ]
    return CohortExport(scope=reader.scope, names_shown=names_shown, rows=rows)
