"""Routes of banners, the diagnostics panel and support requests (thin: parse, check, call)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from orgpulse.audit import record
from orgpulse.auth import Permission, Role, grants
from orgpulse.catalog import catalog_of
from orgpulse.core import clock
from orgpulse.core.errors import NotFound, PermissionDenied
from orgpulse.core.tenancy import TenantScope, scoped
from orgpulse.ops import banners as banner_rules
from orgpulse.ops import support
from orgpulse.ops.diagnostics import Diagnostics, diagnose, summary_text
from orgpulse.web.deps import (
    OrgAccess,
    audit_context,
    engine,
    load_switcher,
    org_access,
    org_read,
    require_principal,
    settings,
    verify_csrf,
)
from orgpulse.web.responses import json_model
from orgpulse.web.templating import render

router = APIRouter()
SeeBanners = Annotated[OrgAccess, Depends(org_access(Permission.SEE_BANNERS))]
ViewDiagnostics = Annotated[OrgAccess, Depends(org_access(Permission.VIEW_DIAGNOSTICS))]
FileRequest = Annotated[OrgAccess, Depends(org_access(Permission.FILE_SUPPORT_REQUEST))]
QUEUE_ROLES = frozenset({Role.SUPPORT, Role.PLATFORM_ADMIN})


def _upload_thresholds(request: Request) -> tuple[float, int]:
    metric = catalog_of(settings(request)).metrics.get("upload_failure_rate")
    if metric is None or metric.bad is None:
        return float("inf"), 1  # no catalogued threshold: the banner never fires
    return metric.bad, metric.min_denominator


def page_banners(request: Request) -> list[banner_rules.Banner]:
    """Banners for the page being rendered: the active org and the viewer's role there."""
    access: OrgAccess | None = getattr(request.state, "active_org", None)
    if access is None or not grants(access.role, Permission.SEE_BANNERS):
        return []
    bad, minimum = _upload_thresholds(request)
    return banner_rules.page_banners(
        engine=engine(request), org_id=access.org_id, slug=access.slug,
        user_id=access.principal.user_id, role=access.role, now=clock.now(),
        upload_bad_rate=bad, upload_min_started=minimum,
    )


def _scope(access: OrgAccess) -> TenantScope:
    return TenantScope.of([access.org_id], user_id=access.principal.user_id)


def _safe_next(target: str, fallback: str) -> str:
    """Only a path on this site: not "//host" nor "/\\host" (browsers read both as a host)."""
    local = target.startswith("/") and target[1:2] not in ("/", "\\")
    return target if local else fallback


# ---------------------------------------------------------------------------- banners
@router.post("/orgs/{org}/banners/{banner}/dismiss", include_in_schema=False)
def dismiss(
    request: Request,
    access: SeeBanners,
    banner: str,
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",  # noqa: A002 - the form field's name
) -> Response:
    verify_csrf(request, csrf_token)
    with scoped(engine(request), _scope(access)) as conn:
        banner_rules.dismiss_banner(
            conn=conn, org_id=access.org_id, user_id=access.principal.user_id, banner=banner,
            now=clock.now(),
        )
    return RedirectResponse(_safe_next(next, f"/orgs/{access.slug}/support"), status_code=303)


# ---------------------------------------------------------------------------- diagnostics
def _diagnostics(request: Request, access: ViewDiagnostics, *, fmt: str) -> Diagnostics:
    bad, minimum = _upload_thresholds(request)
    with org_read(
        request, access, target=access.slug, details={"format": fmt},
        action="diagnostics.read",
    ) as (conn, _units):
        return diagnose(
            conn=conn, org_id=access.org_id, slug=access.slug, name=access.name,
            now=clock.now(), upload_bad_rate=bad, upload_min_started=minimum,
            amber_seconds=settings(request).freshness_amber_seconds,
        )


@router.get("/orgs/{org}/diagnostics", include_in_schema=False)
def diagnostics_page(request: Request, access: ViewDiagnostics) -> Response:
    d = _diagnostics(request, access, fmt="html")
    load_switcher(request, access.principal)
    return render(request, "diagnostics.html", {"d": d, "summary": summary_text(d)})


@router.get(
    "/api/v1/orgs/{org}/diagnostics", response_model=Diagnostics, tags=["operations"]
)
def api_diagnostics(request: Request, access: ViewDiagnostics) -> Response:
    """Identity, rostering, recording and reporting checks of one org (no personal data)."""
    return json_model(_diagnostics(request, access, fmt="json"))


@router.get("/orgs/{org}/diagnostics/summary.txt", tags=["operations"])
def diagnostics_summary(request: Request, access: ViewDiagnostics) -> Response:
    """The plain-text diagnostic summary a support agent pastes into a ticket."""
    return PlainTextResponse(summary_text(_diagnostics(request, access, fmt="text")))


# ---------------------------------------------------------------------------- support requests
def _manages(access: OrgAccess) -> bool:
    return grants(access.role, Permission.MANAGE_SUPPORT_REQUESTS)


def _file(
    request: Request, access: OrgAccess, *, category: str, severity: str, description: str,
    screenshot: UploadFile | None,
) -> support.Created:
    s = settings(request)
    data = support.validate_request(category=category, severity=severity, description=description)
    raw = screenshot.file.read(s.support_screenshot_max_bytes + 1) if screenshot else b""
    image = support.screenshot_of(raw, max_bytes=s.support_screenshot_max_bytes)
    now = clock.now()
    principal = access.principal
    privacy = {
        "mode": access.privacy.mode.value,
        "min_cohort_size": access.privacy.policy.k,
        "aggregate_only_for_requester": access.privacy.aggregate_only,
    }
    flags = {
        "environment": s.environment,
        "jobs_enabled": s.jobs_enabled,
        "catalog_override": s.catalog_file is not None,
        "freshness_amber_seconds": s.freshness_amber_seconds,
        "retention_days": s.retention_days,
        "support_context_retention_days": s.support_context_retention_days,
    }
    with scoped(engine(request), _scope(access)) as conn:
        context = support.build_context(
            conn=conn, org_id=access.org_id, user_id=principal.user_id, role=access.role.value,
            user_agent=request.headers.get("user-agent", ""),
            request_id=getattr(request.state, "request_id", None), privacy=privacy,
            flags=flags, now=now, known=(principal.email, principal.display_name),
        )
        created = support.create_request(
            conn=conn, org_id=access.org_id, user_id=principal.user_id, data=data,
            context=context, screenshot=image, now=now,
        )
        record(
            conn, ctx=audit_context(request), action="support.request_created",
            org_id=access.org_id, target=created.tracking_id,
            details={"category": data.category, "severity": data.severity,
                     "screenshot": image is not None, "errors_attached":
                     len(context["recent_errors"])},
        )
    return created


@router.get("/orgs/{org}/support", include_in_schema=False)
def support_page(request: Request, access: FileRequest) -> Response:
    with scoped(engine(request), _scope(access)) as conn:
        mine = support.list_requests(
            conn=conn, org_ids=[access.org_id],
            requester_user_id=None if _manages(access) else access.principal.user_id,
        )
    load_switcher(request, access.principal)
    return render(request, "support.html", {
        "access": access, "requests": mine, "categories": support.CATEGORIES,
        "severities": support.SEVERITIES, "manages": _manages(access),
        "max_bytes": settings(request).support_screenshot_max_bytes,
    })


@router.post("/orgs/{org}/support", include_in_schema=False)
def support_submit(
    request: Request,
    access: FileRequest,
    category: Annotated[str, Form()] = "",
    severity: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    screenshot: Annotated[UploadFile | None, File()] = None,
) -> Response:
    verify_csrf(request, csrf_token)
    created = _file(request, access, category=category, severity=severity,
                    description=description, screenshot=screenshot)
    load_switcher(request, access.principal)
    return render(request, "support_created.html", {"access": access, "created": created},
                  status_code=201)


@router.post(
    "/api/v1/orgs/{org}/support-requests", response_model=support.Created, status_code=201,
    tags=["support"],
)
def api_support_submit(
    request: Request,
    access: FileRequest,
    category: Annotated[str, Form()] = "",
    severity: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    screenshot: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """File a support request (multipart form). With a session cookie, send ``X-CSRF-Token``."""
    if access.principal.via == "session":
        verify_csrf(request, request.headers.get("x-csrf-token"))
    created = _file(request, access, category=category, severity=severity,
                    description=description, screenshot=screenshot)
    response = json_model(created)
    response.status_code = 201
    return response


@router.get(
    "/api/v1/orgs/{org}/support-requests", response_model=list[support.RequestSummary],
    tags=["support"],
)
def api_support_list(request: Request, access: FileRequest) -> Response:
    """The org's requests for support staff; one's own requests for everyone else."""
    with scoped(engine(request), _scope(access)) as conn:
        rows = support.list_requests(
            conn=conn, org_ids=[access.org_id],
            requester_user_id=None if _manages(access) else access.principal.user_id,
        )
    return Response(
        "[" + ",".join(r.model_dump_json() for r in rows) + "]", media_type="application/json"
    )


def _detail(request: Request, access: OrgAccess, tracking_id: str) -> support.RequestDetail:
    """Support staff see any request of the org; a requester only their own (others: 404)."""
    with scoped(engine(request), _scope(access)) as conn:
        detail = support.get_request(conn=conn, org_id=access.org_id, tracking_id=tracking_id)
        if not _manages(access) and detail.requester_user_id != access.principal.user_id:
            raise NotFound(f"no support request {tracking_id!r}")
        record(conn, ctx=audit_context(request), action="support.request_read",
               org_id=access.org_id, target=tracking_id, details={})
    return detail


@router.get("/orgs/{org}/support/{tracking_id}", include_in_schema=False)
def support_detail_page(request: Request, access: FileRequest, tracking_id: str) -> Response:
    detail = _detail(request, access, tracking_id)
    load_switcher(request, access.principal)
    return render(request, "support_detail.html", {
        "access": access, "r": detail, "manages": _manages(access),
        "next_statuses": sorted(support.TRANSITIONS[detail.status]),
    })


@router.get(
    "/api/v1/orgs/{org}/support-requests/{tracking_id}", response_model=support.RequestDetail,
    tags=["support"],
)
def api_support_detail(request: Request, access: FileRequest, tracking_id: str) -> Response:
    """One request with its attached context and history."""
    return json_model(_detail(request, access, tracking_id))


@router.get("/orgs/{org}/support/{tracking_id}/screenshot", tags=["support"])
def support_screenshot(request: Request, access: FileRequest, tracking_id: str) -> Response:
    """The screenshot, as a download with its image type (never rendered as a page)."""
    _detail(request, access, tracking_id)
    with scoped(engine(request), _scope(access)) as conn:
        image = support.screenshot(conn=conn, org_id=access.org_id, tracking_id=tracking_id)
    extension = "png" if image.content_type == "image/png" else "jpg"
    return Response(
        image.data,
        media_type=image.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{tracking_id}.{extension}"',
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )


@router.post("/orgs/{org}/support/{tracking_id}/status", include_in_schema=False)
def support_status(
    request: Request,
    access: FileRequest,
    tracking_id: str,
    status: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    verify_csrf(request, csrf_token)
    if not _manages(access):
        raise PermissionDenied("only support staff change a request's status")
    with scoped(engine(request), _scope(access)) as conn:
        before, after = support.change_status(
            conn=conn, org_id=access.org_id, tracking_id=tracking_id, to=status,
            actor_user_id=access.principal.user_id, now=clock.now(),
        )
        record(conn, ctx=audit_context(request), action="support.status_changed",
               org_id=access.org_id, target=tracking_id,
               details={"before": {"status": before}, "after": {"status": after}})
    return RedirectResponse(f"/orgs/{access.slug}/support/{tracking_id}", status_code=303)


# ---------------------------------------------------------------------------- the queue
def _queue(request: Request, status: str | None) -> tuple[Any, list[support.RequestSummary]]:
    principal = require_principal(request)
    if principal.staff_role not in QUEUE_ROLES:
        raise PermissionDenied("the support queue is for support staff and platform admins")
    with scoped(engine(request), principal.scope()) as conn:
        rows = support.list_requests(
            conn=conn, org_ids=None, requester_user_id=None,
            status=status if status in support.TRANSITIONS else None,
        )
    record(engine(request), ctx=audit_context(request), action="support.queue_read",
           org_id=None, target="support_queue", details={"status": status, "rows": len(rows)})
    return principal, rows


@router.get("/support/queue", include_in_schema=False)
def queue_page(request: Request, status: str | None = None) -> Response:
    principal, rows = _queue(request, status)
    load_switcher(request, principal)
    return render(request, "support_queue.html", {
        "requests": rows, "status": status, "statuses": list(support.TRANSITIONS),
    })


@router.get(
    "/api/v1/support-requests", response_model=list[support.RequestSummary], tags=["support"]
)
def api_queue(request: Request, status: str | None = None) -> Response:
    """Every org's requests, newest first (support staff and platform admins)."""
    _principal, rows = _queue(request, status)
    return Response(
        "[" + ",".join(r.model_dump_json() for r in rows) + "]", media_type="application/json"
    )
