"""Routes of the alert inbox, alert detail and alert-rule administration (thin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from orgpulse.alerts import rules as logic
from orgpulse.alerts import service
from orgpulse.audit import record
from orgpulse.audit.routes import require_api_write
from orgpulse.auth import Principal, Role
from orgpulse.catalog import catalog_of
from orgpulse.core import clock
from orgpulse.core.errors import InvalidInput, PermissionDenied
from orgpulse.core.tenancy import scoped, unscoped
from orgpulse.web.deps import (
    audit_context,
    engine,
    load_switcher,
    require_principal,
    settings,
    verify_csrf,
)
from orgpulse.web.responses import json_model
from orgpulse.web.templating import render

router = APIRouter()
RULE_ADMINS = frozenset({Role.PLATFORM_ADMIN, Role.CS_LEADER})


def _reach(principal: Principal) -> dict[str, Any]:
    return {
        "org_ids": sorted(principal.org_ids),
        "platform": principal.staff_role == Role.PLATFORM_ADMIN,
    }


def _inbox(request: Request, *, status: str | None, page: int) -> service.AlertInbox:
    principal = require_principal(request)
    with scoped(engine(request), principal.scope()) as conn:
        return service.inbox(
            conn=conn, settings=settings(request), user_id=principal.user_id,
            status=status or None, page=page, **_reach(principal),
        )


@router.get("/alerts", include_in_schema=False)
def inbox_page(request: Request, status: str | None = None, page: int = 1) -> Response:
    result = _inbox(request, status=status, page=page)
    load_switcher(request, require_principal(request))
    pages = max(1, -(-result.total // result.per_page))
    return render(request, "alerts.html", {"inbox": result, "pages": pages})


@router.get("/api/v1/alerts", response_model=service.AlertInbox, tags=["alerts"])
def api_inbox(request: Request, status: str | None = None, page: int = 1) -> Response:
    """The caller's alert inbox, newest first (``status``: open or resolved; 25 a page)."""
    return json_model(_inbox(request, status=status, page=page))


def _detail(request: Request, alert_id: int) -> service.AlertItem:
    principal = require_principal(request)
    with scoped(engine(request), principal.scope()) as conn:
        alert = service.alert_detail(
            conn=conn, settings=settings(request), alert_id=alert_id,
            user_id=principal.user_id, every_org=principal.reaches_every_org,
            **_reach(principal),
        )
        service.mark_read(conn, user_id=principal.user_id, alert_id=alert_id, now=clock.now())
    record(
        engine(request), ctx=audit_context(request), action="alert.read",
        target=f"alert:{alert_id}", details={"rule": alert.rule_key},
        org_id=alert.org_id,
    )
    return alert


@router.get("/alerts/{alert_id}", include_in_schema=False)
def detail_page(request: Request, alert_id: int) -> Response:
    alert = _detail(request, alert_id)
    load_switcher(request, require_principal(request))
    return render(request, "alert_detail.html", {"alert": alert})


@router.get("/api/v1/alerts/{alert_id}", response_model=service.AlertItem, tags=["alerts"])
def api_detail(request: Request, alert_id: int) -> Response:
    """One alert routed to the caller (404 when it is not theirs to see)."""
    return json_model(_detail(request, alert_id))


@router.post("/alerts/{alert_id}/read", include_in_schema=False)
def mark_read_page(
    request: Request, alert_id: int, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    verify_csrf(request, csrf_token)
    principal = require_principal(request)
    with unscoped(engine(request)) as conn:
        service.mark_read(conn, user_id=principal.user_id, alert_id=alert_id, now=clock.now())
    return RedirectResponse("/alerts", status_code=303)


@router.post("/alerts/read-all", include_in_schema=False)
def mark_all_read_page(request: Request, csrf_token: Annotated[str, Form()] = "") -> Response:
    verify_csrf(request, csrf_token)
    principal = require_principal(request)
    with unscoped(engine(request)) as conn:
        service.mark_read(conn, user_id=principal.user_id, alert_id=None, now=clock.now())
    return RedirectResponse("/alerts", status_code=303)


# ---------------------------------------------------------------- rule administration
def _rule_admin(request: Request, *, target: str) -> Principal:
    principal = require_principal(request)
    if principal.staff_role not in RULE_ADMINS:
        record(
            engine(request), ctx=audit_context(request), action="alert_rules.access_denied",
            target=target, outcome="denied", details={"path": request.url.path},
        )
        raise PermissionDenied("alert rules are managed by platform admins and cs leaders")
    return principal


EDITABLE = {"enabled", "params", "notify_org_admins", "channels", "cooldown_minutes"}


@router.get("/admin/alert-rules", include_in_schema=False)
def rules_page(request: Request) -> Response:
    principal = _rule_admin(request, target="alert_rules")
    with unscoped(engine(request)) as conn:
        result = service.list_rules(conn=conn)
    load_switcher(request, principal)
    return render(request, "alert_rules.html", {"rules": result.rules})


@router.get("/api/v1/alert-rules", response_model=service.RuleList, tags=["alerts"])
def api_rules(request: Request) -> Response:
    """Every alert rule with its parameters, channels, audience and cooldown."""
    _rule_admin(request, target="alert_rules")
    with unscoped(engine(request)) as conn:
        return json_model(service.list_rules(conn=conn))


@router.get("/admin/alert-rules/{rule_key}", include_in_schema=False)
def rule_edit_page(request: Request, rule_key: str) -> Response:
    principal = _rule_admin(request, target=f"alert_rule:{rule_key}")
    with unscoped(engine(request)) as conn:
        rule = service.get_rule(conn=conn, rule_key=rule_key)
    load_switcher(request, principal)
    fields = logic.PARAM_MODELS[rule.kind].model_fields
    return render(
        request, "alert_rule_edit.html",
        {"rule": rule, "fields": fields, "channels": logic.CHANNELS, "error": None,
         "values": rule.model_dump(include=EDITABLE)},
    )


def _form_params(form: Any, kind: str) -> dict[str, Any]:
    """Read ``param_<name>`` fields; list fields are comma-separated."""
    params: dict[str, Any] = {}
    for name, info in logic.PARAM_MODELS[kind].model_fields.items():
        raw = form.get(f"param_{name}")
        if raw is None:
            continue
        raw = str(raw).strip()
        if "tuple" in str(info.annotation):
            params[name] = [part.strip() for part in raw.split(",") if part.strip()]
        else:
            params[name] = raw
    return params


def _save(
    request: Request, principal: Principal, rule_key: str, data: dict[str, Any]
) -> service.Rule:
    edit = service.parse_edit(data)
    with unscoped(engine(request)) as conn:
        before, after = service.update_rule(
            conn=conn, rule_key=rule_key, edit=edit, catalog=catalog_of(settings(request)),
            user_id=principal.user_id, now=clock.now(),
        )
        changed = EDITABLE
        record(
            conn, ctx=audit_context(request), action="alert_rule.updated",
            target=f"alert_rule:{rule_key}",
            details={
                "before": before.model_dump(mode="json", include=changed),
                "after": after.model_dump(mode="json", include=changed),
            },
        )
    return after


@router.post("/admin/alert-rules/{rule_key}", include_in_schema=False)
async def rule_save_page(request: Request, rule_key: str) -> Response:
    form = await request.form()
    return await run_in_threadpool(_save_form, request, form, rule_key)


def _save_form(request: Request, form: Any, rule_key: str) -> Response:
    verify_csrf(request, str(form.get("csrf_token", "")))
    principal = _rule_admin(request, target=f"alert_rule:{rule_key}")
    with unscoped(engine(request)) as conn:
        rule = service.get_rule(conn=conn, rule_key=rule_key)
    data = {
        "enabled": form.get("enabled") == "on",
        "notify_org_admins": form.get("notify_org_admins") == "on",
        "channels": form.getlist("channels"),
        "cooldown_minutes": form.get("cooldown_minutes", ""),
        "params": _form_params(form, rule.kind),
    }
    try:
        _save(request, principal, rule_key, data)
    except InvalidInput as exc:
        load_switcher(request, principal)
        return render(
            request, "alert_rule_edit.html",
            {"rule": rule, "fields": logic.PARAM_MODELS[rule.kind].model_fields,
             "channels": logic.CHANNELS, "error": exc, "values": data},
            status_code=422,
        )
    return RedirectResponse("/admin/alert-rules", status_code=303)


@router.put("/api/v1/alert-rules/{rule_key}", response_model=service.Rule, tags=["alerts"])
async def api_rule_save(request: Request, rule_key: str) -> Response:
    """Replace a rule's settings: enabled, channels, notify_org_admins, cooldown_minutes and
    params (422 names the bad field); send ``X-CSRF-Token`` with a session cookie."""
    try:
        body = await request.json()
    except ValueError:
        raise InvalidInput("request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidInput("request body must be a JSON object")
    return await run_in_threadpool(_save_api, request, rule_key, body)


def _save_api(request: Request, rule_key: str, body: dict[str, Any]) -> Response:
    principal = _rule_admin(request, target=f"alert_rule:{rule_key}")
    require_api_write(request)
    return json_model(_save(request, principal, rule_key, body))
