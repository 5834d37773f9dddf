"""The aggregate (employer) view and its BAA gate: page, JSON and CSV from one service function."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from orgpulse.audit import record
from orgpulse.auth import Permission
from orgpulse.catalog import catalog_of
from orgpulse.core import clock
from orgpulse.core.errors import BaaRequired, Conflict, InsufficientCohort, InvalidInput
from orgpulse.core.tenancy import TenantScope, scoped
from orgpulse.dashboards.aggregate import (
    TABS,
    AggregateReport,
    Breakdown,
    Figure,
    Measure,
    Tab,
    aggregate_report,
    current_quarter,
    org_today,
    recent_periods,
)
from orgpulse.dashboards.baa import BaaStatus, accept_baa, baa_status
from orgpulse.exports import CsvResponse, csv_response
from orgpulse.privacy import Period, parse_period
from orgpulse.web.deps import (
    AuditFacts,
    OrgAccess,
    audit_context,
    client_ip,
    engine,
    load_switcher,
    org_access,
    org_read,
    settings,
    verify_csrf,
)
from orgpulse.web.responses import json_model
from orgpulse.web.templating import render

router = APIRouter()
ViewAggregates = Annotated[OrgAccess, Depends(org_access(Permission.VIEW_AGGREGATES))]
ALLOWED_PARAMETERS = ("period", "breakdown", "tab")
HIDDEN_MARK = "—"
ADHOC_REFUSAL = (
    "arbitrary date ranges and filters are not available in the aggregate view: ask for a "
    "calendar week (2026-W10), month (2026-03) or quarter (2026-Q1)"
)


@dataclass(frozen=True)
class AggregateQuery:
    period: Period | None
    breakdown: Breakdown
    tab: Tab


def parse_query(request: Request) -> AggregateQuery:
    """Accept only ``period``, ``breakdown`` and ``tab``; refuse anything else by name.

    Why refuse instead of ignoring: a client asking for ``from``/``to`` or a unit filter would
    otherwise get numbers for something other than what it asked, and arbitrary ranges are
    exactly what lets two reports be subtracted to reveal a few people.
    """
    params = request.query_params
    refused = sorted({name for name in params if name not in ALLOWED_PARAMETERS})
    repeated = sorted({name for name in ALLOWED_PARAMETERS if len(params.getlist(name)) > 1})
    if refused:
        raise InvalidInput(
            f"{ADHOC_REFUSAL} (refused: {', '.join(refused)})",
            details=[{"parameter": name, "problem": "not accepted"} for name in refused],
        )
    if repeated:
        raise InvalidInput(
            f"give each parameter once (repeated: {', '.join(repeated)})",
            details=[{"parameter": name, "problem": "repeated"} for name in repeated],
        )
    breakdown = params.get("breakdown", "none")
    if breakdown not in ("none", "unit"):
        raise InvalidInput(
            "breakdown must be 'none' or 'unit'",
            details=[{"parameter": "breakdown", "problem": "not allowed"}],
        )
    tab = params.get("tab", "summary")
    if tab not in TABS:
        raise InvalidInput(
            f"tab must be one of {', '.join(TABS)}",
            details=[{"parameter": "tab", "problem": "not allowed"}],
        )
    text = params.get("period")
    period = None
    if text is not None:
        try:
            period = parse_period(text)
        except InvalidInput as exc:
            raise InvalidInput(
                exc.message, details=[{"parameter": "period", "problem": "not a predefined period"}]
            ) from None
    return AggregateQuery(period=period, breakdown=breakdown, tab=tab)  # type: ignore[arg-type]


AggregateParams = Annotated[AggregateQuery, Depends(parse_query)]


def _report(
    request: Request, access: OrgAccess, query: AggregateQuery, *, fmt: str, action: str
) -> tuple[AggregateReport, list[Period]]:
    facts = AuditFacts(query_type=query.tab)
    details: dict[str, Any] = {"format": fmt, "breakdown": query.breakdown, "tab": query.tab}
    with org_read(
        request, access, target="aggregate", details=details, action=action, facts=facts
    ) as (conn, allowed):
        today = org_today(conn=conn, org_id=access.org_id, now=clock.now())
        period = query.period or current_quarter(today)
        report = aggregate_report(
            conn=conn,
            org_id=access.org_id,
            period=period,
            breakdown=query.breakdown,
            policy=access.privacy.policy,
            catalog=catalog_of(settings(request)),
            today=today,
            allowed_unit_ids=allowed,
        )
        details["period"] = period.label
        facts.cohort_size = report.cohort_for_audit
        facts.suppressed = report.suppressed
        if action == "export.csv" and report.status != "ok":
            # Refused before the block ends: no export record, the refusal is audited instead.
            raise _ExportWithheld(report)
    return report, recent_periods(today)


class _ExportWithheld(Exception):
    def __init__(self, report: AggregateReport) -> None:
        super().__init__(report.status)
        self.report = report


def _baa(request: Request, access: OrgAccess) -> BaaStatus:
    scope = TenantScope.of([access.org_id], user_id=access.principal.user_id)
    # The primary, not a replica: an acceptance made a moment ago must count.
    with scoped(engine(request), scope) as conn:
        return baa_status(
            conn=conn,
            org_id=access.org_id,
            user_id=access.principal.user_id,
            version=settings(request).baa_version,
        )


def _refuse_export(
    request: Request,
    access: OrgAccess,
    query: AggregateQuery,
    *,
    reason: str,
    extra: dict[str, Any],
    cohort_size: int | None,
) -> None:
    record(
        engine(request),
        ctx=audit_context(request),
        action="export.refused",
        org_id=access.org_id,
        target="aggregate",
        outcome="denied",
        details={"reason": reason, "format": "csv", "tab": query.tab, **extra},
        query_type=query.tab,
        cohort_size=cohort_size,
        suppressed=True if cohort_size is not None else None,
        export_kind="csv",
    )


@router.get("/orgs/{org}/aggregate", include_in_schema=False)
def aggregate_page(request: Request, access: ViewAggregates, query: AggregateParams) -> Response:
    report, periods = _report(request, access, query, fmt="html", action="analytics.read")
    load_switcher(request, access.principal)
    return render(
        request,
        "aggregate.html",
        {
            "r": report,
            "tab": query.tab,
            "tabs": TABS,
            "periods": periods,
            "baa": _baa(request, access),
            "mark": HIDDEN_MARK,
            "access": access,
        },
    )


@router.get("/api/v1/orgs/{org}/aggregate", response_model=AggregateReport, tags=["aggregate"])
def api_aggregate(request: Request, access: ViewAggregates, query: AggregateParams) -> Response:
    """The privacy-safe aggregate view: cohort, weekly active users, engagement, wellbeing and
    ROI for one calendar week, month or quarter; hidden cells have ``suppressed: true``."""
    report, _ = _report(request, access, query, fmt="json", action="analytics.read")
    return json_model(report)


@router.get("/orgs/{org}/aggregate.csv", tags=["aggregate"], response_class=CsvResponse)
@router.get("/api/v1/orgs/{org}/aggregate.csv", tags=["aggregate"], response_class=CsvResponse)
def aggregate_csv(request: Request, access: ViewAggregates, query: AggregateParams) -> Response:
    """One tab of the aggregate view as CSV; needs the current BAA accepted for the org."""
    version = settings(request).baa_version
    if not _baa(request, access).accepted:
        _refuse_export(
            request, access, query, reason="baa_required", extra={"version": version},
            cohort_size=None,
        )
        raise BaaRequired(
            f"accept the Business Associate Agreement (version {version}) for this organization "
            f"before exporting: open /orgs/{access.slug}/baa"
        )
    try:
        report, _ = _report(request, access, query, fmt="csv", action="export.csv")
    except _ExportWithheld as withheld:
        status = withheld.report.status
        reason = "below_k" if status == "insufficient_data" else status
        _refuse_export(
            request, access, query, reason=reason, extra={"period": withheld.report.period},
            cohort_size=withheld.report.cohort_for_audit,
        )
        if status == "insufficient_data":
            raise InsufficientCohort(
                f"export refused: fewer than {withheld.report.k} people make up the cohort for "
                f"{withheld.report.period}"
            ) from None
        raise Conflict(f"export refused: {withheld.report.message}") from None
    filename = f"{report.slug}_aggregate_{report.period}_{query.tab}.csv"
    return csv_response(CSV_HEADER, csv_rows(report, query.tab), filename=filename)


CSV_HEADER = ["org_id", "org_name", "period", "section", "measure", "unit", "people", "percent",
              "value"]


def csv_rows(report: AggregateReport, tab: Tab) -> Iterator[list[Any]]:
    """Rows of one tab: hidden numbers are the neutral mark, explained in the last row."""

    def shown(value: float | int | None, figure_hidden: bool) -> Any:
        return HIDDEN_MARK if figure_hidden else ("" if value is None else value)

    prefix = [report.org_id, report.name, report.period]

    def measure_rows(section: str, measure: Measure) -> Iterator[list[Any]]:
        cells: list[tuple[str, Figure]] = [("(organization)", measure.org)]
        cells += [(u.name, f) for u, f in zip(report.units, measure.units, strict=True)]
        for unit, figure in cells:
            yield [
                *prefix, section, measure.key, unit,
                shown(figure.people, figure.suppressed), shown(figure.percent, figure.suppressed),
                "",
            ]

    if report.status != "ok":
        yield [*prefix, "status", report.status, "", "", "", report.message or ""]
        return
    if tab == "summary":
        for m in (report.cohort, report.active):
            if m is not None:
                yield from measure_rows("summary", m)
        if report.weekly is not None:
            yield [
                *prefix, "summary", "wau_average", "(organization)", "",
                shown(report.weekly.average_percent, report.weekly.average_suppressed), "",
            ]
    elif tab == "engagement":
        if report.weekly is not None:
            for w in report.weekly.weeks:
                yield [
                    *prefix, "weekly_active", w.week, "(organization)",
                    shown(w.active.people, w.active.suppressed),
                    shown(w.active.percent, w.active.suppressed), "",
                ]
        for m in report.engagement:
            yield from measure_rows("engagement", m)
    elif tab == "wellbeing":
        for m in report.wellbeing:
            yield from measure_rows("wellbeing", m)
    elif report.roi is not None:
        if report.roi.status != "ok":
            yield [*prefix, "roi", "status", "", "", "", report.roi.message or ""]
        for hr in report.roi.metrics:
            yield [
                *prefix, "roi", f"{hr.key}.cohort_size", "(organization)",
                shown(hr.cohort_size, hr.suppressed), "", "",
            ]
            for v in hr.values:
                yield [
                    *prefix, "roi", f"{hr.key}.{v.key}", "(organization)", "", "",
                    shown(v.value, hr.suppressed),
                ]
    yield [*prefix, "legend", HIDDEN_MARK, "", "", "", report.hidden_legend]


# ---------------------------------------------------------------------------------- BAA
def _accept(request: Request, access: OrgAccess) -> BaaStatus:
    version = settings(request).baa_version
    scope = TenantScope.of([access.org_id], user_id=access.principal.user_id)
    with scoped(engine(request), scope) as conn:
        status, new = accept_baa(
            conn=conn,
            org_id=access.org_id,
            user_id=access.principal.user_id,
            version=version,
            ip=client_ip(request),
            now=clock.now(),
        )
        record(
            conn,
            ctx=audit_context(request),
            action="baa.accepted",
            org_id=access.org_id,
            target="baa",
            details={"version": version, "already_accepted": not new},
        )
    return status


@router.get("/orgs/{org}/baa", include_in_schema=False)
def baa_page(request: Request, access: ViewAggregates) -> Response:
    load_switcher(request, access.principal)
    return render(request, "baa.html", {"baa": _baa(request, access), "access": access})


@router.post("/orgs/{org}/baa", include_in_schema=False)
def baa_accept_form(
    request: Request, access: ViewAggregates, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    verify_csrf(request, csrf_token)
    _accept(request, access)
    return RedirectResponse(f"/orgs/{access.slug}/baa", status_code=303)


@router.post("/api/v1/orgs/{org}/baa", response_model=BaaStatus, tags=["aggregate"])
def api_baa_accept(request: Request, access: ViewAggregates) -> Response:
    """Accept the current BAA version for the org (idempotent); exports need it.

    A browser session must send its CSRF token in ``X-CSRF-Token``; API tokens need not.
    """
    if access.principal.via == "session":
        verify_csrf(request, request.headers.get("x-csrf-token"))
    return json_model(_accept(request, access))


@router.get("/api/v1/orgs/{org}/baa", response_model=BaaStatus, tags=["aggregate"])
def api_baa_status(request: Request, access: ViewAggregates) -> Response:
    """Whether you accepted the current BAA version for the org, and when."""
    return json_model(_baa(request, access))
