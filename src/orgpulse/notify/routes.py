"""Deliveries and Webhooks admin pages and their JSON twins (thin: parse, check, call, render)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from pydantic import BaseModel, ConfigDict
from starlette.responses import RedirectResponse, Response

from orgpulse.audit import record
from orgpulse.auth import Principal, Role
from orgpulse.core import clock
from orgpulse.core.errors import InvalidInput, PermissionDenied
from orgpulse.core.tenancy import unscoped
from orgpulse.notify import admin
from orgpulse.web.deps import (
    PageNumber,
    audit_context,
    engine,
    load_switcher,
    read_engine,
    require_principal,
    settings,
    verify_csrf,
)
from orgpulse.web.responses import json_model
from orgpulse.web.templating import render

router = APIRouter()

READ_ROLES = frozenset({Role.PLATFORM_ADMIN, Role.CS_LEADER})
StatusFilter = Annotated[admin.DeliveryStatus | None, Query()]
ChannelFilter = Annotated[admin.Channel | None, Query()]


def _require(request: Request, *, write: bool, target: str) -> Principal:
    """The principal, if a platform admin (or, to read, a CS leader); otherwise an audited 403."""
    principal = require_principal(request)
    allowed = principal.staff_role == Role.PLATFORM_ADMIN or (
        not write and principal.staff_role in READ_ROLES
    )
    if not allowed:
        record(
            engine(request),
            ctx=audit_context(request),
            action="admin.deliveries" if target.startswith("deliver") else "admin.webhooks",
            target=target,
            outcome="denied",
            details={"reason": "role", "path": request.url.path, "write": write},
        )
        who = "platform admins" if write else "platform admins and CS leaders"
        raise PermissionDenied(f"{target.split(':')[0]} are open to {who} only")
    return principal


def _api_write(request: Request, principal: Principal) -> None:
    if principal.via == "session":
        verify_csrf(request, request.headers.get("x-csrf-token"))


# --------------------------------------------------------------------------- deliveries
def _deliveries(
    request: Request, *, status: admin.DeliveryStatus | None, channel: admin.Channel | None,
    page: int,
) -> admin.DeliveryPage:
    _require(request, write=False, target="deliveries")
    s = settings(request)
    with unscoped(read_engine(request)) as conn:
        return admin.delivery_page(
            conn=conn, status=status, channel=channel, page=page,
            smtp_configured=bool(s.smtp_host), max_attempts=s.delivery_max_attempts,
        )


def _retry(request: Request, delivery_id: int) -> admin.DeliveryRow:
    _require(request, write=True, target=f"deliveries:{delivery_id}")
    with unscoped(engine(request)) as conn:
        before, after = admin.retry_delivery(conn=conn, delivery_id=delivery_id, now=clock.now())
        record(
            conn,
            ctx=audit_context(request),
            action="delivery.retried",
            target=f"delivery:{delivery_id}",
            details={
                "channel": after.channel,
                "source": after.source,
                "before": {"status": before.status, "attempts": before.attempts,
                           "next_attempt_at": before.next_attempt_at.isoformat()},
                "after": {"status": after.status, "attempts": after.attempts,
                          "next_attempt_at": after.next_attempt_at.isoformat()},
            },
        )
    return after


def _link(status: str | None, channel: str | None, page: int | None = None) -> str:
    pairs = [(k, v) for k, v in (("status", status), ("channel", channel)) if v]
    if page and page > 1:
        pairs.append(("page", str(page)))
    return "/admin/deliveries" + ("?" + urlencode(pairs) if pairs else "")


@router.get("/admin/deliveries", include_in_schema=False)
def deliveries_page(
    request: Request, status: StatusFilter = None, channel: ChannelFilter = None,
    page: PageNumber = 1,
) -> Response:
    result = _deliveries(request, status=status, channel=channel, page=page)
    principal = require_principal(request)
    load_switcher(request, principal)
    return render(
        request,
        "deliveries.html",
        {
            "d": result,
            "can_retry": principal.staff_role == Role.PLATFORM_ADMIN,
            "link": _link,
            "back": _link(status, channel, page),
        },
    )


@router.get("/api/v1/admin/deliveries", response_model=admin.DeliveryPage, tags=["deliveries"])
def api_deliveries(
    request: Request, status: StatusFilter = None, channel: ChannelFilter = None,
    page: PageNumber = 1,
) -> Response:
    """The outbox, newest first, 50 a page: attempts, last error and next attempt of each."""
    return json_model(_deliveries(request, status=status, channel=channel, page=page))


def _safe_back(target: str) -> str:
    return target if target.startswith("/admin/deliveries") else "/admin/deliveries"


@router.post("/admin/deliveries/{delivery_id}/retry", include_in_schema=False)
def retry_page(
    request: Request,
    delivery_id: int,
    csrf_token: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
) -> Response:
    verify_csrf(request, csrf_token)
    _retry(request, delivery_id)
    return RedirectResponse(_safe_back(back), status_code=303)


@router.post(
    "/api/v1/admin/deliveries/{delivery_id}/retry",
    response_model=admin.DeliveryRow,
    tags=["deliveries"],
)
def api_retry(request: Request, delivery_id: int) -> Response:
    """Make a dead or pending delivery due now (409 when already sent); audited."""
    _api_write(request, require_principal(request))
    return json_model(_retry(request, delivery_id))


# ----------------------------------------------------------------------------- webhooks
def _endpoint_details(e: admin.WebhookEndpoint) -> dict[str, Any]:
    return {"name": e.name, "url": e.url, "enabled": e.enabled}


def _webhooks(request: Request) -> admin.WebhookList:
    _require(request, write=False, target="webhooks")
    with unscoped(read_engine(request)) as conn:
        return admin.list_endpoints(conn=conn)


def _create(request: Request, *, name: str, url: str) -> admin.CreatedEndpoint:
    principal = _require(request, write=True, target="webhooks")
    with unscoped(engine(request)) as conn:
        created = admin.create_endpoint(
            conn=conn, name=name, url=url, created_by=principal.user_id, now=clock.now()
        )
        record(
            conn,
            ctx=audit_context(request),
            action="webhook.created",
            target=f"webhook:{created.endpoint.endpoint_id}",
            details={"after": _endpoint_details(created.endpoint)},
        )
    return created


def _set_enabled(request: Request, endpoint_id: int, *, enabled: bool) -> admin.WebhookEndpoint:
    _require(request, write=True, target=f"webhooks:{endpoint_id}")
    with unscoped(engine(request)) as conn:
        before, after = admin.set_endpoint_enabled(
            conn=conn, endpoint_id=endpoint_id, enabled=enabled
        )
        record(
            conn,
            ctx=audit_context(request),
            action="webhook.enabled" if enabled else "webhook.disabled",
            target=f"webhook:{endpoint_id}",
            details={"before": {"enabled": before.enabled}, "after": {"enabled": after.enabled}},
        )
    return after


def _delete(request: Request, endpoint_id: int) -> admin.WebhookEndpoint:
    _require(request, write=True, target=f"webhooks:{endpoint_id}")
    with unscoped(engine(request)) as conn:
        before = admin.delete_endpoint(conn=conn, endpoint_id=endpoint_id)
        record(
            conn,
            ctx=audit_context(request),
            action="webhook.deleted",
            target=f"webhook:{endpoint_id}",
            details={"before": _endpoint_details(before),
                     "deliveries_dropped": {"pending": before.pending, "dead": before.dead}},
        )
    return before


def _webhooks_page(
    request: Request, *, created: admin.CreatedEndpoint | None = None,
    form: dict[str, str] | None = None, error: str | None = None, status_code: int = 200,
) -> Response:
    result = _webhooks(request)
    principal = require_principal(request)
    load_switcher(request, principal)
    return render(
        request,
        "webhooks.html",
        {
            "w": result,
            "created": created,
            "form": form or {"name": "", "url": ""},
            "error": error,
            "can_manage": principal.staff_role == Role.PLATFORM_ADMIN,
        },
        status_code=status_code,
    )


@router.get("/admin/webhooks", include_in_schema=False)
def webhooks_page(request: Request) -> Response:
    return _webhooks_page(request)


@router.post("/admin/webhooks", include_in_schema=False)
def create_page(
    request: Request,
    csrf_token: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    url: Annotated[str, Form()] = "",
) -> Response:
    """Create, then show the secret on this answer only (never in a URL, never again)."""
    verify_csrf(request, csrf_token)
    try:
        created = _create(request, name=name, url=url)
    except InvalidInput as exc:
        return _webhooks_page(
            request, form={"name": name, "url": url}, error=exc.message, status_code=422
        )
    return _webhooks_page(request, created=created)


@router.post("/admin/webhooks/{endpoint_id}/enabled", include_in_schema=False)
def enable_page(
    request: Request,
    endpoint_id: int,
    csrf_token: Annotated[str, Form()] = "",
    enabled: Annotated[bool, Form()] = False,
) -> Response:
    verify_csrf(request, csrf_token)
    _set_enabled(request, endpoint_id, enabled=enabled)
    return RedirectResponse("/admin/webhooks", status_code=303)


@router.post("/admin/webhooks/{endpoint_id}/delete", include_in_schema=False)
def delete_page(
    request: Request, endpoint_id: int, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    verify_csrf(request, csrf_token)
    _delete(request, endpoint_id)
    return RedirectResponse("/admin/webhooks", status_code=303)


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    url: str


class EndpointUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool


@router.get("/api/v1/admin/webhooks", response_model=admin.WebhookList, tags=["deliveries"])
def api_webhooks(request: Request) -> Response:
    """Webhook endpoints with their pending and dead deliveries (secrets are never listed)."""
    return json_model(_webhooks(request))


@router.post(
    "/api/v1/admin/webhooks",
    response_model=admin.CreatedEndpoint,
    status_code=201,
    tags=["deliveries"],
)
def api_create(request: Request, body: EndpointCreate) -> Response:
    """Add an endpoint; the answer carries its signing secret, shown this once only."""
    _api_write(request, require_principal(request))
    created = _create(request, name=body.name, url=body.url)
    return Response(created.model_dump_json(), status_code=201, media_type="application/json")


@router.patch(
    "/api/v1/admin/webhooks/{endpoint_id}",
    response_model=admin.WebhookEndpoint,
    tags=["deliveries"],
)
def api_update(request: Request, endpoint_id: int, body: EndpointUpdate) -> Response:
    """Enable or disable an endpoint (deliveries to a disabled one wait)."""
    _api_write(request, require_principal(request))
    return json_model(_set_enabled(request, endpoint_id, enabled=body.enabled))


@router.delete("/api/v1/admin/webhooks/{endpoint_id}", status_code=204, tags=["deliveries"])
def api_delete(request: Request, endpoint_id: int) -> Response:
    """Delete an endpoint together with its deliveries."""
    _api_write(request, require_principal(request))
    _delete(request, endpoint_id)
    return Response(status_code=204)
