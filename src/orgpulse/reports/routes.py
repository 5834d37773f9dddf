"""PDF downloads of the reports, and the user's report subscriptions (page and JSON)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel
from starlette.responses import RedirectResponse, Response

from orgpulse.audit import record
from orgpulse.auth import Principal, resolve_org_ref
from orgpulse.catalog import catalog_of
from orgpulse.core import clock
from orgpulse.core.errors import (
    AggregateOnly,
    BaaRequired,
    InvalidInput,
    OrgPulseError,
    PermissionDenied,
)
from orgpulse.core.logging import org_var
from orgpulse.core.tenancy import TenantScope, scoped, unscoped
from orgpulse.dashboards.portfolio import portfolio_scope
from orgpulse.reports import render
from orgpulse.reports.access import REPORT_TITLES, REPORTS, Refusal, Report, org_report_access
from orgpulse.reports.periods import parse_month, parse_quarter
from orgpulse.reports.subscriptions import (
    CADENCES,
    Subscription,
    create_subscription,
    delete_subscription,
    list_subscriptions,
    validate_choice,
)
from orgpulse.web.deps import (
    OrgAccess,
    audit_context,
    engine,
    load_switcher,
    read_engine,
    require_principal,
    settings,
    verify_csrf,
)
from orgpulse.web.responses import json_model
from orgpulse.web.templating import render as render_page

router = APIRouter()


def _pdf_response(rendered: render.RenderedReport) -> Response:
    return Response(
        rendered.pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{rendered.filename}"'},
    )


def report_access(request: Request, *, ref: str, report: Report) -> OrgAccess:
    """The route side of ``org_report_access``: refusals audited and raised as 4xx."""
    principal = require_principal(request)
    with unscoped(engine(request)) as conn:
        org_id = resolve_org_ref(conn, ref)
    # The primary, not a replica: a BAA accepted a moment ago must count.
    with scoped(engine(request), principal.scope()) as conn:
        decision = org_report_access(
            conn, principal=principal, org_id=org_id, ref=ref, report=report,
            baa_version=settings(request).baa_version,
        )
    if isinstance(decision, OrgAccess):
        org_var.set(decision.org_id)
        request.state.active_org = decision
        return decision
    _audit_refusal(request, org_id=org_id, ref=ref, report=report, refusal=decision)
    if decision.reason == "aggregate_only":
        raise AggregateOnly(decision.message)
    if decision.reason == "baa_required":
        raise BaaRequired(decision.message)
    raise PermissionDenied(decision.message)


def _audit_refusal(
    request: Request, *, org_id: int | None, ref: str, report: str, refusal: Refusal
) -> None:
    export_refusal = refusal.reason in ("baa_required", "below_k", "not_started")
    record(
        engine(request),
        ctx=audit_context(request),
        action="export.refused" if export_refusal else "org.access_denied",
        org_id=org_id,
        target=ref[:200],
        outcome="denied",
        details={"report": report, "format": "pdf", "reason": refusal.reason,
                 "path": request.url.path},
        export_kind="pdf" if export_refusal else None,
    )


def _audit_export(
    request: Request, *, org_id: int | None, report: str, rendered: render.RenderedReport
) -> None:
    record(
        engine(request),
        ctx=audit_context(request),
        action="export.pdf",
        org_id=org_id,
        target=report,
        details={"format": "pdf", "period": rendered.period, "filename": rendered.filename},
        query_type=report,
        cohort_size=rendered.cohort_size,
        suppressed=rendered.suppressed,
        export_kind="pdf",
    )


@router.get("/orgs/{org}/reports/business-review.pdf", tags=["reports"])
def business_review_pdf(request: Request, org: str, month: str | None = None) -> Response:
    """Account business review of one month (default: the last full month) as PDF."""
    access = report_access(request, ref=org, report="business_review")
    now = clock.now()
    period = parse_month(month, today=now.date())
    scope = TenantScope.of([access.org_id], user_id=access.principal.user_id)
    with scoped(read_engine(request), scope) as conn:
        prepared = render.business_review(
            conn, access=access, month=period, catalog=catalog_of(settings(request)), now=now,
            amber_seconds=settings(request).freshness_amber_seconds,
        )
    rendered = prepared.render()
    _audit_export(request, org_id=access.org_id, report="business_review", rendered=rendered)
    return _pdf_response(rendered)


@router.get("/orgs/{org}/reports/employer-quarterly.pdf", tags=["reports"])
def employer_quarterly_pdf(request: Request, org: str, quarter: str | None = None) -> Response:
    """Aggregate-only quarterly report (default: the current quarter); needs the BAA, and is
    refused for a quarter whose cohort is below k."""
    access = report_access(request, ref=org, report="employer_quarterly")
    now = clock.now()
    period = parse_quarter(quarter, today=now.date())
    scope = TenantScope.of([access.org_id], user_id=access.principal.user_id)
    try:
        with scoped(read_engine(request), scope) as conn:
            prepared = render.employer_quarterly(
                conn, access=access, quarter=period, catalog=catalog_of(settings(request)),
                now=now,
            )
    except OrgPulseError as refused:
        if refused.code in ("insufficient_cohort", "conflict"):
            refusal = Refusal(
                "below_k" if refused.code == "insufficient_cohort" else "not_started",
                refused.message,
            )
            _audit_refusal(request, org_id=access.org_id, ref=org, report="employer_quarterly",
                           refusal=refusal)
        raise
    rendered = prepared.render()
    _audit_export(request, org_id=access.org_id, report="employer_quarterly", rendered=rendered)
    return _pdf_response(rendered)


@router.get("/portfolio/summary.pdf", tags=["reports"])
def portfolio_summary_pdf(request: Request, month: str | None = None) -> Response:
    """Portfolio summary of one month (default: the last full month): the accounts you see."""
    principal = require_principal(request)
    now = clock.now()
    period = parse_month(month, today=now.date())
    with scoped(read_engine(request), portfolio_scope(principal)) as conn:
        prepared = render.portfolio_summary(
            conn, principal=principal, month=period, catalog=catalog_of(settings(request)),
            now=now, amber_seconds=settings(request).freshness_amber_seconds,
        )
    rendered = prepared.render()
    _audit_export(request, org_id=None, report="portfolio", rendered=rendered)
    return _pdf_response(rendered)


# ------------------------------------------------------------------------- subscriptions
class NewSubscription(BaseModel):
    report: str
    org: str | None = None
    cadence: str


def _subscriptions(request: Request, principal: Principal) -> list[Subscription]:
    with scoped(engine(request), principal.scope()) as conn:
        return list_subscriptions(conn, user_id=principal.user_id)


def _create(request: Request, principal: Principal, body: NewSubscription) -> dict[str, Any]:
    report = validate_choice(body.report, body.cadence)
    org_id: int | None = None
    if report == "portfolio":
        if body.org:
            raise InvalidInput(
                "the portfolio summary covers every account you see: leave org empty",
                details=[{"parameter": "org", "problem": "not accepted for this report"}],
            )
    else:
        if not body.org:
            raise InvalidInput(
                f"the {REPORT_TITLES[report].lower()} needs an organization",
                details=[{"parameter": "org", "problem": "missing"}],
            )
        org_id = report_access(request, ref=body.org, report=report).org_id
    now = clock.now()
    with scoped(engine(request), principal.scope()) as conn:
        new_id, next_run = create_subscription(
            conn, user_id=principal.user_id, report=report, org_id=org_id,
            cadence=body.cadence, now=now,
        )
        record(
            conn,
            ctx=audit_context(request),
            action="subscription.created",
            org_id=org_id,
            target=f"subscription:{new_id}",
            details={"report": report, "cadence": body.cadence},
        )
    return {"subscription_id": new_id, "next_run_at": next_run.isoformat()}


def _delete(request: Request, principal: Principal, subscription_id: int) -> None:
    with scoped(engine(request), principal.scope()) as conn:
        delete_subscription(conn, user_id=principal.user_id, subscription_id=subscription_id)
        record(
            conn,
            ctx=audit_context(request),
            action="subscription.deleted",
            target=f"subscription:{subscription_id}",
        )


@router.get("/reports/subscriptions", include_in_schema=False)
def subscriptions_page(request: Request) -> Response:
    principal = require_principal(request)
    switcher = load_switcher(request, principal)
    return render_page(
        request,
        "reports/subscriptions.html",
        {
            "subscriptions": _subscriptions(request, principal),
            "reports": [(r, REPORT_TITLES[r]) for r in REPORTS],
            "cadences": CADENCES,
            "orgs": switcher,
        },
    )


@router.post("/reports/subscriptions", include_in_schema=False)
def subscriptions_create_form(
    request: Request,
    report: Annotated[str, Form()] = "",
    org: Annotated[str, Form()] = "",
    cadence: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    verify_csrf(request, csrf_token)
    principal = require_principal(request)
    _create(request, principal, NewSubscription(report=report, org=org or None, cadence=cadence))
    return RedirectResponse("/reports/subscriptions", status_code=303)


@router.post("/reports/subscriptions/{subscription_id}/delete", include_in_schema=False)
def subscriptions_delete_form(
    request: Request, subscription_id: int, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    verify_csrf(request, csrf_token)
    _delete(request, require_principal(request), subscription_id)
    return RedirectResponse("/reports/subscriptions", status_code=303)


class SubscriptionList(BaseModel):
    subscriptions: list[Subscription]


@router.get("/api/v1/reports/subscriptions", response_model=SubscriptionList, tags=["reports"])
def api_subscriptions(request: Request) -> Response:
    """Your report subscriptions, with when each runs next and how its last run went."""
    principal = require_principal(request)
    return json_model(SubscriptionList(subscriptions=_subscriptions(request, principal)))


@router.post("/api/v1/reports/subscriptions", status_code=201, tags=["reports"])
def api_subscribe(request: Request, body: NewSubscription) -> dict[str, Any]:
    """Subscribe to a report weekly or monthly. With a session cookie, send ``X-CSRF-Token``."""
    principal = require_principal(request)
    if principal.via == "session":
        verify_csrf(request, request.headers.get("x-csrf-token"))
    return _create(request, principal, body)


@router.delete("/api/v1/reports/subscriptions/{subscription_id}", status_code=204,
               tags=["reports"])
def api_unsubscribe(request: Request, subscription_id: int) -> Response:
    """Delete one of your subscriptions."""
    principal = require_principal(request)
    if principal.via == "session":
        verify_csrf(request, request.headers.get("x-csrf-token"))
    _delete(request, principal, subscription_id)
    return Response(status_code=204)
