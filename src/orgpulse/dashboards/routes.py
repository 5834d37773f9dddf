"""Org list and org overview: HTML pages and JSON, both from the same service functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BeforeValidator
from starlette.responses import RedirectResponse, Response

from orgpulse.audit import record
from orgpulse.auth import Permission, Role, grants, resolve_org_ref
from orgpulse.catalog import catalog_of
from orgpulse.core import clock
from orgpulse.core.tenancy import TenantScope, scoped, unscoped
from orgpulse.dashboards.adoption import FLAG_LABELS, AdoptionList, Flag, adoption_list
from orgpulse.dashboards.charts import daily_bar_chart
from orgpulse.dashboards.courses import CourseDetail, CourseList, course_detail, course_list
from orgpulse.dashboards.portfolio import (
    BandFilter,
    Portfolio,
    SortKey,
    portfolio,
    portfolio_scope,
)
from orgpulse.dashboards.service import OrgList, OrgOverview, list_orgs, org_overview
from orgpulse.exports import csv_filename, csv_response
from orgpulse.followups.routes import org_panel, portfolio_panel
from orgpulse.web.deps import (
    OrgAccess,
    audit_context,
    check_org_access,
    load_switcher,
    optional_principal,
    org_access,
    org_read,
    read_engine,
    require_principal,
    settings,
)
from orgpulse.web.responses import json_model
from orgpulse.web.templating import render

router = APIRouter()
ViewOrg = Annotated[OrgAccess, Depends(org_access(Permission.VIEW_ORG_ANALYTICS))]


def page_count(total: int, per_page: int) -> int:
    """Pages needed for ``total`` rows (at least one, so an empty list still has a page)."""
    return max(1, -(-total // per_page)) if per_page else 1


def _overview(
    request: Request, access: OrgAccess, *, days: int, unit: str | None, fmt: str
) -> OrgOverview:
    details = {"format": fmt, "days": days, "unit": unit}
    with org_read(request, access, target="org_overview", details=details) as (conn, allowed):
        return org_overview(
            conn=conn,
            org_id=access.org_id,
            now=clock.now(),
            days=days,
            unit_ref=unit,
            allowed_unit_ids=allowed,
            amber_seconds=settings(request).freshness_amber_seconds,
        )


def _org_list(request: Request, *, page: int, per_page: int) -> OrgList:
    principal = require_principal(request)
    # A unit admin's numbers cover only their units; an employer viewer's orgs are listed as
    # aggregates only.
    visible = principal.analytics_reach()
    employer_orgs = frozenset(
        o for o in principal.org_ids if principal.role_in(o) == Role.EMPLOYER_VIEWER
    )
    scope = TenantScope.of([*visible, *employer_orgs], user_id=principal.user_id)
    with scoped(read_engine(request), scope) as conn:
        result = list_orgs(
            conn=conn,
            now=clock.now(),
            page=page,
            per_page=per_page,
            amber_seconds=settings(request).freshness_amber_seconds,
            unit_restrictions={o: u for o, u in visible.items() if u is not None},
            aggregate_only_orgs=employer_orgs,
        )
    record(
        request.app.state.engine,
        ctx=audit_context(request),
        action="analytics.read",
        target="org_list",
        details={"page": page},
        query_type="org_list",
        suppressed=False,
    )
    return result


@router.get("/", include_in_schema=False)
def home(
    request: Request,
    org: str | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    principal = optional_principal(request)
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    if org:
        return RedirectResponse(f"/orgs/{org}", status_code=303)
    switcher = load_switcher(request, principal)
    if len(switcher) == 1 and principal.staff_role is None:
        only = switcher[0][0]
        return aggregate_only_redirect(request, only) or RedirectResponse(
            f"/orgs/{only}", status_code=303
        )
    listing = _org_list(request, page=page, per_page=50)
    pages = page_count(listing.total, listing.per_page)
    return render(request, "home.html", {"listing": listing, "pages": pages})


@router.get("/dashboard", include_in_schema=False)
def dashboard(org: str) -> Response:
    """Target of the header's org switcher and of ``?org=<slug>`` deep links."""
    return RedirectResponse(f"/orgs/{org}", status_code=303)


def aggregate_only_redirect(request: Request, ref: str) -> Response | None:
    """Send a viewer who may see ``ref`` only as aggregates to its aggregate view (pages only).

    Why a redirect and not the 403: the overview is where links and the org switcher lead, and
    for these viewers the aggregate view is the org's page. API routes keep refusing.
    """
    principal = require_principal(request)
    with unscoped(request.app.state.engine) as conn:
        org_id = resolve_org_ref(conn, ref)
    if org_id is None or not grants(principal.role_in(org_id), Permission.VIEW_AGGREGATES):
        return None  # the detailed view's own check refuses (and audits) as before
    peek = check_org_access(request, ref=ref, permission=Permission.VIEW_AGGREGATES)
    if peek.privacy.aggregate_only:
        return RedirectResponse(f"/orgs/{peek.slug}/aggregate", status_code=303)
    return None


@router.get("/orgs/{org}", include_in_schema=False)
def overview_page(
    request: Request,
    org: str,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
    unit: str | None = None,
) -> Response:
    if (redirect := aggregate_only_redirect(request, org)) is not None:
        return redirect
    access = check_org_access(request, ref=org, permission=Permission.VIEW_ORG_ANALYTICS)
    overview = _overview(request, access, days=days, unit=unit, fmt="html")
    load_switcher(request, access.principal)
    chart = daily_bar_chart(
        [(p.day, p.events) for p in overview.daily],
        title=f"Events per day, {overview.period_start} to {overview.period_end}",
        overlay=[p.active_members for p in overview.daily],
        overlay_label="Active members per day",
    )
    follow_ups = org_panel(request, access)
    return render(
        request,
        "org_overview.html",
        {"o": overview, "chart": chart, "access": access, "follow_ups": follow_ups},
    )


@router.get("/api/v1/orgs", response_model=OrgList, tags=["dashboards"])
def api_org_list(
    request: Request,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> OrgList:
    """Orgs you can see, with 7-day active members and freshness."""
    return _org_list(request, page=page, per_page=per_page)


@router.get("/api/v1/orgs/{org}/overview", response_model=OrgOverview, tags=["dashboards"])
def api_overview(
    request: Request,
    access: ViewOrg,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
    unit: str | None = None,
) -> Response:
    """The org overview page's numbers (same service function as the page)."""
    return json_model(_overview(request, access, days=days, unit=unit, fmt="json"))


def _adoption(
    request: Request,
    access: OrgAccess,
    *,
    unit: str | None,
    flag: Flag | None,
    q: str | None,
    page: int,
    per_page: int | None,
    fmt: str,
) -> AdoptionList:
    details: dict[str, object] = {"format": fmt, "unit": unit, "flag": flag}
    action = "export.csv" if fmt == "csv" else "analytics.read"
    with org_read(request, access, target="adoption_list", details=details, action=action) as (
        conn,
        allowed,
    ):
        result = adoption_list(
            conn=conn,
            catalog=catalog_of(settings(request)),
            org_id=access.org_id,
            now=clock.now(),
            unit_ref=unit,
            allowed_unit_ids=allowed,
            flag=flag,
            search=q,
            page=page,
            per_page=per_page,
        )
        details["rows"] = len(result.rows)
    return result


@router.get("/orgs/{org}/adoption", include_in_schema=False)
def adoption_page(
    request: Request,
    access: ViewOrg,
    unit: str | None = None,
    flag: Flag | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    result = _adoption(
        request, access, unit=unit, flag=flag, q=q, page=page, per_page=50, fmt="html"
    )
    load_switcher(request, access.principal)
    pages = page_count(result.total, result.per_page)
    return render(
        request,
        "adoption.html",
        {"a": result, "pages": pages, "flag_labels": FLAG_LABELS, "access": access},
    )


@router.get("/api/v1/orgs/{org}/adoption", response_model=AdoptionList, tags=["dashboards"])
def api_adoption(
    request: Request,
    access: ViewOrg,
    unit: str | None = None,
    flag: Flag | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> AdoptionList:
    """Per teacher: last sign-in, assessments, submissions received and scored, flags."""
    return _adoption(
        request, access, unit=unit, flag=flag, q=q, page=page, per_page=per_page, fmt="json"
    )


@router.get("/orgs/{org}/adoption.csv", tags=["dashboards"])
def adoption_csv(
    request: Request,
    access: ViewOrg,
    unit: str | None = None,
    flag: Flag | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    """The adoption list (all matching rows) as CSV for follow-up."""
    result = _adoption(request, access, unit=unit, flag=flag, q=q, page=1, per_page=None, fmt="csv")
    header = [
        "org_id",
        "org_name",
        "person_id",
        "name",
        "unit",
        "last_login",
        "assessments_created",
        "submissions_received",
        "submissions_scored",
        "scoring_backlog",
        "flags",
    ]
    rows = (
        [
            result.org_id,
            result.name,
            r.external_id,
            r.name or "",
            r.unit or "",
            r.last_login.isoformat() if r.last_login else "",
            r.assignments,
            r.submissions,
            r.scored,
            r.backlog,
            ";".join(r.flags),
        ]
        for r in result.rows
    )
    return csv_response(
        header, rows, filename=csv_filename(result.slug, "adoption", result.window_end)
    )


@dataclass(frozen=True)
class PortfolioQuery:
    """The portfolio's filters and order: the same for the page, its JSON and its CSV."""

    month: str | None
    band: BandFilter | None
    plan: str | None
    manager: str | None
    q: str | None
    sort: SortKey
    desc: bool

    def filters(self) -> dict[str, str | None]:
        return {"band": self.band, "plan": self.plan, "manager": self.manager, "q": self.q}

    def query_string(self) -> str:
        """The query of the same selection, for the page's download links."""
        pairs = {**self.filters(), "month": self.month, "sort": self.sort,
                 "desc": "true" if self.desc else None}
        return urlencode({k: v for k, v in pairs.items() if v})


# The filter form sends its "Any" choices and empty inputs as empty strings: no filter.
_BLANK_IS_NONE = BeforeValidator(lambda value: value or None)


def portfolio_query(
    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$"), _BLANK_IS_NONE] = None,
    band: Annotated[BandFilter | None, _BLANK_IS_NONE] = None,
    plan: Annotated[str | None, _BLANK_IS_NONE] = None,
    manager: Annotated[str | None, _BLANK_IS_NONE] = None,
    q: Annotated[str | None, Query(max_length=100), _BLANK_IS_NONE] = None,
    sort: SortKey = "score",
    desc: bool = False,
) -> PortfolioQuery:
    return PortfolioQuery(month=month, band=band, plan=plan, manager=manager, q=q, sort=sort,
                          desc=desc)


PortfolioParams = Annotated[PortfolioQuery, Depends(portfolio_query)]


def _portfolio(
    request: Request, *, query: PortfolioQuery, page: int, per_page: int | None, fmt: str
) -> Portfolio:
    principal = require_principal(request)
    with scoped(read_engine(request), portfolio_scope(principal)) as conn:
        result = portfolio(
            conn=conn,
            catalog=catalog_of(settings(request)),
            now=clock.now(),
            month=query.month,
            band=query.band,
            plan=query.plan,
            account_manager=query.manager,
            q=query.q,
            sort=query.sort,
            descending=query.desc,
            page=page,
            per_page=per_page,
            amber_seconds=settings(request).freshness_amber_seconds,
        )
    record(
        request.app.state.engine,
        ctx=audit_context(request),
        action="export.csv" if fmt == "csv" else "analytics.read",
        export_kind="csv" if fmt == "csv" else None,
        target="portfolio",
        details={
            "format": fmt,
            "month": query.month,
            "accounts": result.total,
            "hidden_scores": sum(
                1 for a in result.accounts if a.aggregate_only and a.score is None
            ),
        },
        # Not a read of one cohort: scores hidden below k are counted in the details instead, so
        # browsing the portfolio never looks like probing a suppressed cohort (audit/signals.py).
        query_type="portfolio",
        suppressed=False,
    )
    return result


@router.get("/portfolio", include_in_schema=False)
def portfolio_page(
    request: Request, query: PortfolioParams, page: Annotated[int, Query(ge=1)] = 1
) -> Response:
    result = _portfolio(request, query=query, page=page, per_page=50, fmt="html")
    load_switcher(request, require_principal(request))
    pages = page_count(result.total, result.per_page)
    return render(
        request,
        "portfolio.html",
        {
            "p": result,
            "pages": pages,
            "sort": query.sort,
            "desc": query.desc,
            "filters": query.filters(),
            "query": query.query_string(),
            "follow_ups": portfolio_panel(request),
        },
    )


@router.get("/api/v1/portfolio", response_model=Portfolio, tags=["dashboards"])
def api_portfolio(
    request: Request,
    query: PortfolioParams,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    """Accounts you can see with health, 7/30-day change, top driver, last activity and
    freshness; per-account-manager aggregates and top/bottom accounts (for ``month``)."""
    result = _portfolio(request, query=query, page=page, per_page=per_page, fmt="json")
    return json_model(result)


def _course_list(
    request: Request,
    access: OrgAccess,
    *,
    unit: str | None,
    since: date | None,
    until: date | None,
    fmt: str,
) -> CourseList:
    details = {"format": fmt, "unit": unit}
    action = "export.csv" if fmt == "csv" else "analytics.read"
    with org_read(
        request, access, target="course_list", details=details, action=action
    ) as (conn, allowed):
        return course_list(
            conn=conn,
            catalog=catalog_of(settings(request)),
            org_id=access.org_id,
            now=clock.now(),
            unit_ref=unit,
            allowed_unit_ids=allowed,
            since=since,
            until=until,
        )


def _course_detail(
    request: Request,
    access: OrgAccess,
    course: str,
    *,
    unit: str | None,
    since: date | None,
    until: date | None,
    fmt: str,
) -> CourseDetail:
    details = {"format": fmt, "unit": unit, "course": course}
    with org_read(request, access, target="course_detail", details=details) as (conn, allowed):
        return course_detail(
            conn=conn,
            catalog=catalog_of(settings(request)),
            org_id=access.org_id,
            course_id=course,
            now=clock.now(),
            unit_ref=unit,
            allowed_unit_ids=allowed,
            since=since,
            until=until,
        )


@router.get("/orgs/{org}/courses", include_in_schema=False)
def courses_page(
    request: Request,
    access: ViewOrg,
    unit: str | None = None,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
) -> Response:
    result = _course_list(request, access, unit=unit, since=from_, until=to, fmt="html")
    load_switcher(request, access.principal)
    return render(request, "courses.html", {"c": result})


@router.get("/orgs/{org}/courses/{course}", include_in_schema=False)
def course_page(
    request: Request,
    access: ViewOrg,
    course: str,
    unit: str | None = None,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
) -> Response:
    result = _course_detail(request, access, course, unit=unit, since=from_, until=to, fmt="html")
    load_switcher(request, access.principal)
    return render(request, "course.html", {"d": result})


@router.get("/api/v1/orgs/{org}/courses", response_model=CourseList, tags=["dashboards"])
def api_courses(
    request: Request,
    access: ViewOrg,
    unit: str | None = None,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
) -> CourseList:
    """Completion per course for enrolments started in the window (default 90 days)."""
    return _course_list(request, access, unit=unit, since=from_, until=to, fmt="json")


@router.get("/api/v1/orgs/{org}/courses/{course}", response_model=CourseDetail, tags=["dashboards"])
def api_course(
    request: Request,
    access: ViewOrg,
    course: str,
    unit: str | None = None,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
) -> CourseDetail:
    """Lesson-by-lesson drop-off of one course."""
    return _course_detail(request, access, course, unit=unit, since=from_, until=to, fmt="json")


PORTFOLIO_HEADER = [
    "org_id",
    "org_name",
    "slug",
    "plan",
    "account_managers",
    "score",
    "band",
    "scored_on",
    "change_7d",
    "change_30d",
    "top_driver",
    "last_activity",
    "freshness",
    "aggregate_only",
    "suppressed",
]


def _blank(value: object) -> object:
    return "" if value is None else value


@router.get("/portfolio.csv", tags=["dashboards"])
def portfolio_csv(request: Request, query: PortfolioParams) -> Response:
    """Every account of the portfolio (same filters and order as the page) as CSV."""
    result = _portfolio(request, query=query, page=1, per_page=None, fmt="csv")
    rows = (
        [
            a.org_id,
            a.name,
            a.slug,
            _blank(a.plan),
            _blank(a.account_managers),
            _blank(a.score),
            a.band,
            _blank(a.scored_on and a.scored_on.isoformat()),
            _blank(a.change_7d),
            _blank(a.change_30d),
            _blank(a.top_driver),
            _blank(a.last_activity and a.last_activity.isoformat()),
            a.freshness.status,
            "true" if a.aggregate_only else "false",
            # The page shows "n/a" for a score hidden below k: here the cell is empty and this
            # column says why.
            "true" if a.aggregate_only and a.score is None else "false",
        ]
        for a in result.accounts
    )
    return csv_response(
        PORTFOLIO_HEADER, rows, filename=csv_filename("all-orgs", "portfolio", result.until)
    )


COURSES_HEADER = [
    "org_id",
    "org_name",
    "course_id",
    "enrolled",
    "completed",
    "completion_rate",
    "lessons",
    "average_reached",
]


@router.get("/orgs/{org}/courses.csv", tags=["dashboards"])
def courses_csv(
    request: Request,
    access: ViewOrg,
    unit: str | None = None,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
) -> Response:
    """Completion per course (same window and units as the page) as CSV."""
    result = _course_list(request, access, unit=unit, since=from_, until=to, fmt="csv")
    rows = (
        [
            result.org_id,
            result.name,
            c.course_id,
            c.enrolled,
            c.completed,
            _blank(c.completion_rate),
            _blank(c.lessons),
            c.average_reached,
        ]
        for c in result.courses
    )
    return csv_response(
        COURSES_HEADER, rows, filename=csv_filename(result.slug, "courses", result.window_end)
    )
