"""Routes of follow-up action items (thin: parse, check, call one service function, render)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from pydantic import BaseModel
from starlette.responses import RedirectResponse, Response

from orgpulse.audit import record
from orgpulse.auth import Permission, Principal, grants
from orgpulse.core import clock
from orgpulse.core.errors import InvalidInput
from orgpulse.core.tenancy import TenantScope, scoped
from orgpulse.followups import service
from orgpulse.followups.service import FollowUp, FollowUpList, FollowUpOverview
from orgpulse.web.deps import (
    OrgAccess,
    PageNumber,
    audit_context,
    engine,
    load_switcher,
    org_access,
    require_principal,
    verify_csrf,
)
from orgpulse.web.responses import json_model
from orgpulse.web.templating import render

router = APIRouter()
ManageFollowUps = Annotated[OrgAccess, Depends(org_access(Permission.MANAGE_FOLLOW_UPS))]
PANEL_ITEMS = 10
DEFAULT_DUE_DAYS = 7


class FollowUpCreate(BaseModel):
    """A new follow-up; ``owner_user_id`` defaults to you, ``due_date`` is ISO (2026-06-30)."""

    title: str = ""
    note: str = ""
    owner_user_id: int | None = None
    due_date: str = ""
    alert_id: int | None = None


class FollowUpPatch(BaseModel):
    """Fields to change; leave out what stays. ``status``: open, done or cancelled."""

    title: str | None = None
    note: str | None = None
    owner_user_id: int | None = None
    due_date: str | None = None
    status: str | None = None


def _scope(access: OrgAccess) -> TenantScope:
    return TenantScope.of([access.org_id], user_id=access.principal.user_id)


def _pages(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


def _session_csrf(request: Request, access: OrgAccess) -> None:
    """JSON writes with a session cookie need the ``X-CSRF-Token`` header; tokens do not."""
    if access.principal.via == "session":
        verify_csrf(request, request.headers.get("x-csrf-token"))


# ---------------------------------------------------------------------------- one org's list
def _org_list(
    request: Request, access: OrgAccess, *, status: str | None, page: int, per_page: int,
    fmt: str,
) -> FollowUpList:
    wanted = service.parse_status_filter(status)
    with scoped(engine(request), _scope(access)) as conn:
        result = service.org_follow_ups(
            conn=conn, org_id=access.org_id, now=clock.now(), status=wanted, page=page,
            per_page=per_page,
        )
        record(
            conn, ctx=audit_context(request), action="follow_up.list_read",
            org_id=access.org_id, target=access.slug,
            details={"format": fmt, "status": wanted or "all", "page": page,
                     "rows": len(result.items)},
        )
    return result


def org_panel(request: Request, access: OrgAccess) -> FollowUpList | None:
    """The org page's panel (open items, soonest due first), or None for roles without it."""
    if not grants(access.role, Permission.MANAGE_FOLLOW_UPS):
        return None
    return _org_list(request, access, status="open", page=1, per_page=PANEL_ITEMS, fmt="panel")


@router.get("/orgs/{org}/follow-ups", include_in_schema=False)
def list_page(
    request: Request,
    access: ManageFollowUps,
    status: str | None = None,
    page: PageNumber = 1,
) -> Response:
    result = _org_list(request, access, status=status, page=page, per_page=50, fmt="html")
    load_switcher(request, access.principal)
    return render(request, "follow_ups.html", {
        "access": access, "f": result, "pages": _pages(result.total, result.per_page),
        "status_param": status or "open",
    })


@router.get(
    "/api/v1/orgs/{org}/follow-ups", response_model=FollowUpList, tags=["follow-ups"]
)
def api_list(
    request: Request,
    access: ManageFollowUps,
    status: str | None = None,
    page: PageNumber = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    """The org's follow-ups (``status``: open (default), done, cancelled or all)."""
    return json_model(
        _org_list(request, access, status=status, page=page, per_page=per_page, fmt="json")
    )


# ---------------------------------------------------------------------------- create
def _create(
    request: Request, access: OrgAccess, *, title: str, note: str,
    owner_user_id: str | int | None, due_date: str, alert_id: str | int | None,
) -> FollowUp:
    now = clock.now()
    with scoped(engine(request), _scope(access)) as conn:
        today = service.org_today(conn=conn, org_id=access.org_id, now=now)
        data = service.validate_new(
            conn=conn, org_id=access.org_id, today=today, title=title, note=note,
            owner_user_id=owner_user_id, due_date=due_date, alert_id=alert_id,
        )
        item = service.create_item(
            conn=conn, org_id=access.org_id, data=data, actor_user_id=access.principal.user_id,
            now=now,
        )
        record(
            conn, ctx=audit_context(request), action="follow_up.created", org_id=access.org_id,
            target=f"follow_up:{item.item_id}", details={"after": service.audit_fields(item)},
        )
    return item


def _form_page(
    request: Request, access: OrgAccess, *, values: dict[str, Any],
    problems: list[dict[str, Any]], item: FollowUp | None = None, status_code: int = 200,
) -> Response:
    with scoped(engine(request), _scope(access)) as conn:
        owners = service.eligible_owners(conn=conn, org_id=access.org_id)
    load_switcher(request, access.principal)
    return render(request, "follow_up_form.html", {
        "access": access, "values": values, "owners": owners, "item": item,
        "problems": problems, "errors": {p["field"]: p["problem"] for p in problems},
        "next_statuses": sorted(service.TRANSITIONS[item.status]) if item else [],
    }, status_code=status_code)


@router.get("/orgs/{org}/follow-ups/new", include_in_schema=False)
def new_page(
    request: Request, access: ManageFollowUps, alert: str | None = None
) -> Response:
    """The create form; ``?alert=<id>`` (the alert page's link) prefills the alert's title."""
    now = clock.now()
    with scoped(engine(request), _scope(access)) as conn:
        today = service.org_today(conn=conn, org_id=access.org_id, now=now)
        title = ""
        if alert:
            if not alert.isdigit():
                raise InvalidInput(
                    f"alert must be an alert id, got {alert!r}",
                    details=[{"field": "alert", "problem": "not a number"}],
                )
            title = service.alert_title(conn=conn, org_id=access.org_id, alert_id=int(alert))
    values = {
        "title": title[: service.MAX_TITLE], "note": "", "alert_id": alert or "",
        "owner_user_id": access.principal.user_id,
        "due_date": (today + timedelta(days=DEFAULT_DUE_DAYS)).isoformat(),
    }
    return _form_page(request, access, values=values, problems=[])


@router.post("/orgs/{org}/follow-ups", include_in_schema=False)
def create_submit(
    request: Request,
    access: ManageFollowUps,
    title: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    owner_user_id: Annotated[str, Form()] = "",
    due_date: Annotated[str, Form()] = "",
    alert_id: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    verify_csrf(request, csrf_token)
    try:
        item = _create(request, access, title=title, note=note, owner_user_id=owner_user_id,
                       due_date=due_date, alert_id=alert_id)
    except InvalidInput as exc:
        values = {"title": title, "note": note, "owner_user_id": owner_user_id,
                  "due_date": due_date, "alert_id": alert_id}
        return _form_page(request, access, values=values, problems=exc.details,
                          status_code=422)
    return RedirectResponse(f"/orgs/{access.slug}/follow-ups/{item.item_id}", status_code=303)


@router.post(
    "/api/v1/orgs/{org}/follow-ups", response_model=FollowUp, status_code=201,
    tags=["follow-ups"],
)
def api_create(request: Request, access: ManageFollowUps, body: FollowUpCreate) -> Response:
    """Create a follow-up. With a session cookie, send ``X-CSRF-Token``."""
    _session_csrf(request, access)
    owner = body.owner_user_id if body.owner_user_id is not None else access.principal.user_id
    item = _create(request, access, title=body.title, note=body.note, owner_user_id=owner,
                   due_date=body.due_date, alert_id=body.alert_id)
    response = json_model(item)
    response.status_code = 201
    return response


# ---------------------------------------------------------------------------- one item
def _get(request: Request, access: OrgAccess, item_id: int) -> FollowUp:
    with scoped(engine(request), _scope(access)) as conn:
        return service.get_item(conn=conn, org_id=access.org_id, item_id=item_id,
                                now=clock.now())


def _update(
    request: Request, access: OrgAccess, item_id: int, changes: dict[str, Any]
) -> FollowUp:
    now = clock.now()
    with scoped(engine(request), _scope(access)) as conn:
        today = service.org_today(conn=conn, org_id=access.org_id, now=now)
        item, before, after = service.update_item(
            conn=conn, org_id=access.org_id, item_id=item_id, changes=changes, today=today,
            now=now,
        )
        if after:
            record(
                conn, ctx=audit_context(request), action="follow_up.updated",
                org_id=access.org_id, target=f"follow_up:{item_id}",
                details={"before": before, "after": after},
            )
    return item


def _item_values(item: FollowUp) -> dict[str, Any]:
    return {"title": item.title, "note": item.note, "owner_user_id": item.owner_user_id,
            "due_date": item.due_date.isoformat(), "alert_id": item.alert_id or ""}


@router.get("/orgs/{org}/follow-ups/{item_id}", include_in_schema=False)
def item_page(request: Request, access: ManageFollowUps, item_id: int) -> Response:
    item = _get(request, access, item_id)
    return _form_page(request, access, values=_item_values(item), problems=[], item=item)


@router.post("/orgs/{org}/follow-ups/{item_id}", include_in_schema=False)
def item_submit(
    request: Request,
    access: ManageFollowUps,
    item_id: int,
    title: Annotated[str | None, Form()] = None,
    note: Annotated[str | None, Form()] = None,
    owner_user_id: Annotated[str | None, Form()] = None,
    due_date: Annotated[str | None, Form()] = None,
    status: Annotated[str | None, Form()] = None,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """The edit form and the status buttons (which send ``status`` alone)."""
    verify_csrf(request, csrf_token)
    changes = {"title": title, "note": note, "owner_user_id": owner_user_id,
               "due_date": due_date, "status": status}
    try:
        _update(request, access, item_id, {k: v for k, v in changes.items() if v is not None})
    except InvalidInput as exc:
        item = _get(request, access, item_id)
        values = {**_item_values(item), **{k: v for k, v in changes.items() if v is not None}}
        return _form_page(request, access, values=values, problems=exc.details, item=item,
                          status_code=422)
    return RedirectResponse(f"/orgs/{access.slug}/follow-ups/{item_id}", status_code=303)


@router.get(
    "/api/v1/orgs/{org}/follow-ups/{item_id}", response_model=FollowUp, tags=["follow-ups"]
)
def api_item(request: Request, access: ManageFollowUps, item_id: int) -> Response:
    """One follow-up."""
    return json_model(_get(request, access, item_id))


@router.patch(
    "/api/v1/orgs/{org}/follow-ups/{item_id}", response_model=FollowUp, tags=["follow-ups"]
)
def api_update(
    request: Request, access: ManageFollowUps, item_id: int, body: FollowUpPatch
) -> Response:
    """Change status (open → done/cancelled, reopen), owner, due date, note or title."""
    _session_csrf(request, access)
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    return json_model(_update(request, access, item_id, changes))


# ---------------------------------------------------------------------------- across orgs
def follow_up_orgs(principal: Principal) -> list[int]:
    """Orgs whose follow-ups the user may see (an account manager: their own orgs)."""
    return sorted(
        o for o in principal.org_ids
        if grants(principal.role_in(o), Permission.MANAGE_FOLLOW_UPS)
    )


def _overview(
    request: Request, *, owner: str, status: str | None, page: int, per_page: int, fmt: str,
    audit: bool = True,
) -> FollowUpOverview:
    principal = require_principal(request)
    if owner not in ("me", "any"):
        raise InvalidInput(
            f"owner must be me or any, got {owner!r}",
            details=[{"field": "owner", "problem": "me or any"}],
        )
    wanted = service.parse_status_filter(status)
    orgs = follow_up_orgs(principal)
    scope = (
        principal.scope()
        if principal.reaches_every_org and len(orgs) == len(principal.org_ids)
        else TenantScope.of(orgs, user_id=principal.user_id)
    )
    with scoped(engine(request), scope) as conn:
        result = service.overview(
            conn=conn, org_ids=orgs, now=clock.now(),
            owner_user_id=principal.user_id if owner == "me" else None, status=wanted,
            page=page, per_page=per_page,
        )
        if audit:
            record(
                conn, ctx=audit_context(request), action="follow_up.list_read", org_id=None,
                target="follow_ups",
                details={"format": fmt, "owner": owner, "status": wanted or "all",
                         "page": page, "rows": len(result.items)},
            )
    return result


def portfolio_panel(request: Request) -> FollowUpOverview:
    """The portfolio's panel: open/overdue counts per org and the user's own open items.

    Not audited on its own: the portfolio read that shows it is.
    """
    return _overview(request, owner="me", status="open", page=1, per_page=PANEL_ITEMS,
                     fmt="portfolio", audit=False)


@router.get("/follow-ups", include_in_schema=False)
def overview_page(
    request: Request,
    owner: str = "me",
    status: str | None = None,
    page: PageNumber = 1,
) -> Response:
    result = _overview(request, owner=owner, status=status, page=page, per_page=50, fmt="html")
    load_switcher(request, require_principal(request))
    return render(request, "follow_ups_all.html", {
        "f": result, "owner": owner, "status_param": status or "open",
        "pages": _pages(result.total, result.per_page),
    })


@router.get("/api/v1/follow-ups", response_model=FollowUpOverview, tags=["follow-ups"])
def api_overview(
    request: Request,
    owner: str = "me",
    status: str | None = None,
    page: PageNumber = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    """Follow-ups across your orgs: counts per org and items (``owner``: me (default) or any)."""
    return json_model(
        _overview(request, owner=owner, status=status, page=page, per_page=per_page,
                  fmt="json")
    )
