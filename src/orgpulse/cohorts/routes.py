"""Cohort risk analytics: the page, its JSON, the comparison and the CSV export.

Every route calls one service function of ``orgpulse.cohorts.service``; the page and the JSON of
one view read the same function, so they cannot disagree.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from orgpulse.audit import record
from orgpulse.auth import Permission, Role
from orgpulse.cohorts.periods import Period
from orgpulse.cohorts.service import (
    CohortAnalytics,
    CohortComparison,
    Filters,
    GroupBy,
    cohort_analytics,
    cohort_comparison,
    cohort_export,
    pseudonym,
)
from orgpulse.core import clock
from orgpulse.core.errors import AggregateOnly
from orgpulse.dashboards.charts import donut_chart, line_chart
from orgpulse.exports import csv_filename, csv_response
from orgpulse.ingestion.risk_events import RISK_LEVELS
from orgpulse.web.deps import (
    OrgAccess,
    audit_context,
    check_org_access,
    load_switcher,
    org_read,
)
from orgpulse.web.responses import json_model
from orgpulse.web.templating import render

router = APIRouter()

EXPORT_HEADER = [
    "org_id",
    "org_name",
    "student_name",
    "risk_level",
    "confidence",
    "flag_status",
    "intervention_count",
    "latest_outcome",
    "created_at",
    "flag_id",
    "cohort",
    "course",
    "program",
]


def cohort_access(request: Request, org: str) -> OrgAccess:
    """Org admins of the org and platform admins; never an aggregate-only view of the org.

    Why the extra check: student-level risk data is a detailed view, so an org shown to its
    viewers as suppressed aggregates only is refused here too (fail closed).
    """
    access = check_org_access(request, ref=org, permission=Permission.VIEW_COHORT_RISK)
    if access.privacy.aggregate_only:
        record(
            request.app.state.engine,
            ctx=audit_context(request),
            action="org.access_denied",
            org_id=access.org_id,
            target=org[:200],
            outcome="denied",
            details={
                "permission": Permission.VIEW_COHORT_RISK.value,
                "path": request.url.path,
                "reason": "aggregate_only",
            },
        )
        raise AggregateOnly(
            f"organization {access.slug!r} is shown to you as privacy-safe aggregates only; "
            f"open /orgs/{access.slug}/aggregate"
        )
    return access


ViewCohorts = Annotated[OrgAccess, Depends(cohort_access)]
PeriodQuery = Annotated[Period, Query(description="calendar week, month or year (org timezone)")]
DayQuery = Annotated[date | None, Query(description="any day of the period (default: today)")]
TextFilter = Annotated[str | None, Query(max_length=200)]


def _filters(cohort: str | None, course: str | None, program: str | None) -> Filters:
    return Filters(cohort=cohort or None, course=course or None, program=program or None)


def _analytics(
    request: Request,
    access: OrgAccess,
    *,
    period: Period,
    day: date | None,
    filters: Filters,
    fmt: str,
) -> CohortAnalytics:
    details = {"format": fmt, "period": period, "date": day, **filters.model_dump()}
    with org_read(request, access, target="cohort_analytics", details=details) as (conn, _):
        return cohort_analytics(
            conn=conn,
            org_id=access.org_id,
            now=clock.now(),
            period=period,
            day=day,
            filters=filters,
        )


def _comparison(
    request: Request,
    access: OrgAccess,
    *,
    period: Period,
    day: date | None,
    filters: Filters,
    by: GroupBy,
    fmt: str,
) -> CohortComparison:
    details = {"format": fmt, "period": period, "date": day, "by": by, **filters.model_dump()}
    with org_read(request, access, target="cohort_comparison", details=details) as (conn, _):
        return cohort_comparison(
            conn=conn,
            org_id=access.org_id,
            now=clock.now(),
            period=period,
            day=day,
            filters=filters,
            by=by,
        )


@router.get("/orgs/{org}/cohort-analytics", include_in_schema=False)
def cohort_page(
    request: Request,
    access: ViewCohorts,
    period: PeriodQuery = "month",
    date_: Annotated[date | None, Query(alias="date")] = None,
    cohort: TextFilter = None,
    course: TextFilter = None,
    program: TextFilter = None,
) -> Response:
    filters = _filters(cohort, course, program)
    a = _analytics(request, access, period=period, day=date_, filters=filters, fmt="html")
    load_switcher(request, access.principal)
    donuts = [
        (
            g,
            donut_chart(
                [(level, g.distribution[level]) for level in RISK_LEVELS],
                title=f"{g.label}: students by highest open risk level",
                css_prefix="lvl-",
            ),
        )
        for g in a.cohorts
    ]
    trend = line_chart(
        [w.week_start for w in a.trend],
        [(level, [getattr(w, level) for w in a.trend]) for level in RISK_LEVELS],
        title="Flags raised per week, by level (8 weeks)",
        css_prefix="lvl-",
    )
    query = {"period": period, **{k: v for k, v in filters.model_dump().items() if v}}
    if date_ is not None:
        query["date"] = date_.isoformat()
    return render(
        request,
        "cohort_analytics.html",
        {
            "a": a,
            "donuts": donuts,
            "trend": trend,
            "levels": RISK_LEVELS,
            "query": query,
            "access": access,
        },
    )


@router.get("/api/v1/orgs/{org}/cohort-analytics", response_model=CohortAnalytics, tags=["cohorts"])
def api_cohort_analytics(
    request: Request,
    access: ViewCohorts,
    period: PeriodQuery = "month",
    date_: Annotated[date | None, Query(alias="date")] = None,
    cohort: TextFilter = None,
    course: TextFilter = None,
    program: TextFilter = None,
) -> Response:
    """KPIs, risk distribution per cohort, 8-week trend and intervention effectiveness."""
    filters = _filters(cohort, course, program)
    return json_model(
        _analytics(request, access, period=period, day=date_, filters=filters, fmt="json")
    )


@router.get(
    "/api/v1/orgs/{org}/cohort-analytics/comparison",
    response_model=CohortComparison,
    tags=["cohorts"],
)
def api_cohort_comparison(
    request: Request,
    access: ViewCohorts,
    period: PeriodQuery = "month",
    date_: Annotated[date | None, Query(alias="date")] = None,
    cohort: TextFilter = None,
    course: TextFilter = None,
    program: TextFilter = None,
    by: GroupBy = "cohort",
) -> Response:
    """Risk profile and KPIs of every cohort (or ``by=program``) side by side."""
    filters = _filters(cohort, course, program)
    return json_model(
        _comparison(request, access, period=period, day=date_, filters=filters, by=by, fmt="json")
    )


@router.get("/api/v1/orgs/{org}/cohort-analytics/export", tags=["cohorts"])
def api_cohort_export(
    request: Request,
    access: ViewCohorts,
    period: PeriodQuery = "month",
    date_: Annotated[date | None, Query(alias="date")] = None,
    cohort: TextFilter = None,
    course: TextFilter = None,
    program: TextFilter = None,
) -> Response:
    """Every flag raised in the period, with interventions and latest outcome, as CSV.

    Student names only for org admins of this org; anyone else (platform admins) gets a stable
    pseudonymous id instead.
    """
    filters = _filters(cohort, course, program)
    names = access.role == Role.ORG_ADMIN
    key: str = request.app.state.secret_key

    def label(student: str, name: str | None) -> str:
        return (name or student) if names else pseudonym(key, access.org_id, student)

    details: dict[str, object] = {
        "format": "csv",
        "period": period,
        "date": date_,
        "names": names,
        **filters.model_dump(),
    }
    with org_read(
        request, access, target="cohort_export", details=details, action="export.csv"
    ) as (conn, _):
        result = cohort_export(
            conn=conn,
            org_id=access.org_id,
            now=clock.now(),
            student_label=label,
            names_shown=names,
            period=period,
            day=date_,
            filters=filters,
        )
        details["rows"] = len(result.rows)
    rows = (
        [
            access.org_id,
            access.name,
            r.student,
            r.risk_level,
            "" if r.confidence is None else r.confidence,
            r.flag_status,
            r.intervention_count,
            r.latest_outcome or "",
            r.created_at.isoformat(),
            r.flag_id,
            r.cohort or "",
            r.course or "",
            r.program or "",
        ]
        for r in result.rows
    )
    return csv_response(
        EXPORT_HEADER,
        rows,
        filename=csv_filename(result.scope.slug, "cohort-risk", result.scope.period_end),
    )
