"""Audit log viewer and security alerts: HTML pages, JSON and CSV from the same service calls."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from sqlalchemy import text
from starlette.responses import RedirectResponse, Response

from orgpulse.audit.service import record
from orgpulse.audit.signals import AlertList, SecurityAlert, acknowledge_alert, list_alerts
from orgpulse.audit.viewer import (
    CSV_HEADER,
    DEFAULT_PER_PAGE,
    MAX_PER_PAGE,
    AuditFilters,
    AuditPage,
    audit_page,
    compact_json,
    csv_row,
    iter_audit_entries,
    parse_filters,
    validate_filters,
)
from orgpulse.auth import Principal, Role
from orgpulse.core import clock
from orgpulse.core.errors import PermissionDenied
from orgpulse.core.tenancy import scoped, unscoped
from orgpulse.exports import csv_filename, csv_response
from orgpulse.web.deps import (
    audit_context,
    engine,
    load_switcher,
    read_engine,
    require_principal,
    verify_csrf,
)
from orgpulse.web.responses import json_model
from orgpulse.web.templating import render

router = APIRouter()

Text = Annotated[str | None, Query(max_length=200)]


def audit_filters(
    org: Text = None,
    actor: Text = None,
    action: Text = None,
    outcome: Text = None,
    query_type: Text = None,
    export_kind: Text = None,
    suppressed: Text = None,
    date_from: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    date_to: Annotated[str | None, Query(alias="to", max_length=40)] = None,
) -> AuditFilters:
    """The viewer's filters from the query string (422 naming a bad one)."""
    return parse_filters(
        org=org,
        actor=actor,
        action=action,
        outcome=outcome,
        query_type=query_type,
        export_kind=export_kind,
        suppressed=suppressed,
        date_from=date_from,
        date_to=date_to,
    )


Filters = Annotated[AuditFilters, Depends(audit_filters)]
Before = Annotated[int | None, Query(ge=1)]
PerPage = Annotated[int, Query(ge=1, le=MAX_PER_PAGE)]


def _refuse(request: Request, *, target: str, reason: str, details: dict[str, Any]) -> None:
    record(
        engine(request),
        ctx=audit_context(request),
        action="audit.read",
        target=target,
        outcome="denied",
        details={"reason": reason, "path": request.url.path, **details},
    )


def audit_reach(request: Request) -> frozenset[int] | None:
    """The orgs whose audit records the principal may read (None: all); refusals are audited.

    Platform admins read everything; an org admin reads the records of the orgs where they are
    org admin, never records without an org; everyone else is refused.
    """
    principal = require_principal(request)
    if principal.staff_role == Role.PLATFORM_ADMIN:
        return None
    orgs = frozenset(o for o in principal.memberships if principal.role_in(o) == Role.ORG_ADMIN)
    if not orgs:
        _refuse(request, target="audit", reason="role", details={})
        raise PermissionDenied("the audit log is open to platform admins and org admins only")
    return orgs


def _single_org(reach: frozenset[int] | None, page_org: int | None) -> int | None:
    if page_org is not None:
        return page_org
    return next(iter(reach)) if reach is not None and len(reach) == 1 else None


def _read_page(
    request: Request, *, filters: AuditFilters, before: int | None, per_page: int, fmt: str
) -> AuditPage:
    reach = audit_reach(request)
    try:
        with unscoped(read_engine(request)) as conn:
            org_id = validate_filters(conn=conn, org_ids=reach, filters=filters)
            page = audit_page(
                conn=conn, org_ids=reach, filters=filters, before=before, per_page=per_page
            )
    except PermissionDenied:
        _refuse(request, target="audit", reason="org", details={"org": filters.org})
        raise
    record(
        engine(request),
        ctx=audit_context(request),
        action="audit.read",
        org_id=_single_org(reach, org_id),
        target="audit",
        details={
            "format": fmt,
            "filters": dict(filters.query_pairs()),
            "before": before,
            "rows": len(page.entries),
        },
    )
    return page


@router.get("/admin/audit", include_in_schema=False)
def audit_log_page(
    request: Request, filters: Filters, before: Before = None, per_page: PerPage = DEFAULT_PER_PAGE
) -> Response:
    page = _read_page(request, filters=filters, before=before, per_page=per_page, fmt="html")
    load_switcher(request, require_principal(request))
    pairs = filters.query_pairs()
    next_link = None
    if page.next_before is not None:
        extra = [("per_page", str(per_page))] if per_page != DEFAULT_PER_PAGE else []
        next_link = "?" + urlencode([*pairs, *extra, ("before", str(page.next_before))])
    return render(
        request,
        "audit.html",
        {
            "page": page,
            "f": filters,
            "next_link": next_link,
            "first_link": "?" + urlencode(pairs) if before is not None else None,
            "csv_link": "/admin/audit.csv" + ("?" + urlencode(pairs) if pairs else ""),
            "compact_json": compact_json,
        },
    )


@router.get("/api/v1/audit", response_model=AuditPage, tags=["audit"])
def api_audit_log(
    request: Request, filters: Filters, before: Before = None, per_page: PerPage = DEFAULT_PER_PAGE
) -> Response:
    """Audit records you may read, newest first; pass ``next_before`` as ``before`` to page."""
    page = _read_page(request, filters=filters, before=before, per_page=per_page, fmt="json")
    return json_model(page)


@router.get("/admin/audit.csv", tags=["audit"])
def audit_log_csv(request: Request, filters: Filters) -> Response:
    """Every audit record matching the filters, as streamed CSV (the JSON fields, in order)."""
    reach = audit_reach(request)
    try:
        with unscoped(read_engine(request)) as conn:
            org_id = validate_filters(conn=conn, org_ids=reach, filters=filters)
    except PermissionDenied:
        _refuse(request, target="audit", reason="org", details={"org": filters.org})
        raise
    record(
        engine(request),
        ctx=audit_context(request),
        action="export.csv",
        org_id=_single_org(reach, org_id),
        target="audit",
        details={"filters": dict(filters.query_pairs())},
        export_kind="csv",
    )
    entries = iter_audit_entries(
        connect=lambda: unscoped(read_engine(request)), org_ids=reach, filters=filters
    )
    # Org names are tenant data: read them in the reader's own scope (one row per org).
    principal = require_principal(request)
    with scoped(read_engine(request), principal.scope()) as conn:
        names = {int(r[0]): str(r[1]) for r in conn.execute(text("SELECT org_id, name FROM orgs"))}
        one_org = _single_org(reach, org_id)
        slug = (
            conn.execute(text("SELECT slug FROM orgs WHERE org_id = :o"), {"o": one_org})
            .scalar_one_or_none()
            if one_org is not None else None
        )
    return csv_response(
        CSV_HEADER,
        (csv_row(e, names) for e in entries),
        filename=csv_filename(slug or "all-orgs", "audit", clock.now().date()),
    )


# ------------------------------------------------------------------------- security alerts
def require_platform_admin(request: Request, *, target: str) -> Principal:
    """Return the principal if they are a platform admin; otherwise an audited 403."""
    principal = require_principal(request)
    if principal.staff_role != Role.PLATFORM_ADMIN:
        _refuse(request, target=target, reason="role", details={})
        raise PermissionDenied("security alerts are open to platform admins only")
    return principal


def require_api_write(request: Request) -> None:
    """Refuse a cookie-authenticated API write without the CSRF header (tokens need none).

    Why: a browser sends the session cookie with a cross-site form post too; a bearer token is
    never sent by the browser on its own.
    """
    principal = require_principal(request)
    if principal.via == "session":
        verify_csrf(request, request.headers.get("x-csrf-token"))


def _alerts(request: Request, *, fmt: str) -> AlertList:
    require_platform_admin(request, target="security_alerts")
    with unscoped(read_engine(request)) as conn:
        result = list_alerts(conn=conn)
    record(
        engine(request),
        ctx=audit_context(request),
        action="audit.read",
        target="security_alerts",
        details={"format": fmt, "rows": len(result.alerts)},
    )
    return result


def _acknowledge(request: Request, alert_id: int) -> SecurityAlert:
    principal = require_platform_admin(request, target=f"security_alert:{alert_id}")
    with unscoped(engine(request)) as conn:
        alert = acknowledge_alert(conn=conn, alert_id=alert_id, user_id=principal.user_id)
        record(
            conn,
            ctx=audit_context(request),
            action="security_alert.acknowledged",
            org_id=alert.org_id,
            target=f"security_alert:{alert_id}",
            details={
                "kind": alert.kind,
                "user_id": alert.user_id,
                "before": {"acknowledged_at": None},
                "after": {
                    "acknowledged_at": alert.acknowledged_at.isoformat()
                    if alert.acknowledged_at
                    else None,
                    "acknowledged_by": alert.acknowledged_by,
                },
            },
        )
    return alert


@router.get("/admin/security-alerts", include_in_schema=False)
def alerts_page(request: Request) -> Response:
    result = _alerts(request, fmt="html")
    load_switcher(request, require_principal(request))
    return render(request, "security_alerts.html", {"a": result, "compact_json": compact_json})


@router.get("/api/v1/security-alerts", response_model=AlertList, tags=["audit"])
def api_alerts(request: Request) -> Response:
    """Security alerts, open ones first (platform admins)."""
    return json_model(_alerts(request, fmt="json"))


@router.post("/admin/security-alerts/{alert_id}/acknowledge", include_in_schema=False)
def acknowledge_page(
    request: Request, alert_id: int, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    verify_csrf(request, csrf_token)
    _acknowledge(request, alert_id)
    return RedirectResponse("/admin/security-alerts", status_code=303)


@router.post(
    "/api/v1/security-alerts/{alert_id}/acknowledge",
    response_model=SecurityAlert,
    tags=["audit"],
)
def api_acknowledge(request: Request, alert_id: int) -> Response:
    """Acknowledge an open alert (409 when it already was); send ``X-CSRF-Token`` with a cookie."""
    require_api_write(request)
    return json_model(_acknowledge(request, alert_id))
