"""Rollout mode, deployment checklist and onboarding wizard: one page and its JSON API."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import RedirectResponse, Response

from orgpulse.auth import Permission, grants
from orgpulse.catalog import catalog_of
from orgpulse.core import clock
from orgpulse.core.errors import InvalidInput
from orgpulse.core.tenancy import TenantScope, scoped
from orgpulse.ops.checklist import ItemChange, Status, set_item_status
from orgpulse.ops.onboarding import Onboarding, onboarding, org_timezone
from orgpulse.ops.rollout import RolloutChange, RolloutMode, current_rollout, set_rollout
from orgpulse.ops.wizard import StepAction, StepChange, act_on_step
from orgpulse.web.deps import (
    OrgAccess,
    audit_context,
    engine,
    load_switcher,
    org_access,
    org_read,
    settings,
    verify_csrf,
)
from orgpulse.web.responses import json_model
from orgpulse.web.templating import render

router = APIRouter(tags=["onboarding"])
ViewRollout = Annotated[OrgAccess, Depends(org_access(Permission.VIEW_ROLLOUT))]
ManageRollout = Annotated[OrgAccess, Depends(org_access(Permission.MANAGE_ROLLOUT))]


def _read(request: Request, access: OrgAccess, *, fmt: str) -> Onboarding:
    with org_read(
        request, access, target="onboarding", details={"format": fmt}
    ) as (conn, allowed):
        return onboarding(
            conn=conn,
            catalog=catalog_of(settings(request)),
            org_id=access.org_id,
            now=clock.now(),
            can_edit=grants(access.role, Permission.MANAGE_ROLLOUT),
            allowed_unit_ids=allowed,
        )


@router.get("/orgs/{org}/onboarding", include_in_schema=False)
def onboarding_page(request: Request, access: ViewRollout) -> Response:
    """Rollout mode, the onboarding wizard (with where to resume) and the deployment checklist."""
    result = _read(request, access, fmt="html")
    load_switcher(request, access.principal)
    return render(request, "onboarding.html", {"o": result})


@router.get("/api/v1/orgs/{org}/onboarding", response_model=Onboarding)
def api_onboarding(request: Request, access: ViewRollout) -> Response:
    """The org's rollout mode, wizard steps and checklist items (the page's data)."""
    return json_model(_read(request, access, fmt="json"))


class RolloutUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: RolloutMode
    pilot_units: list[str] = Field(default_factory=list, max_length=500)
    pilot_members: list[str] = Field(default_factory=list, max_length=5000)
    launch_date: date | None = None


class ChecklistUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Status
    reason: str | None = Field(default=None, max_length=500)


class StepUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: StepAction


def _json_write(request: Request, access: OrgAccess) -> None:
    if access.principal.via == "session":
        verify_csrf(request, request.headers.get("x-csrf-token"))


def _apply_rollout(request: Request, access: OrgAccess, body: RolloutUpdate) -> RolloutChange:
    now = clock.now()
    scope = TenantScope.of([access.org_id], user_id=access.principal.user_id)
    with scoped(engine(request), scope) as conn:
        _, _, timezone = org_timezone(conn, access.org_id)
        return set_rollout(
            conn=conn,
            org_id=access.org_id,
            mode=body.mode,
            pilot_units=body.pilot_units,
            pilot_members=body.pilot_members,
            launch_date=body.launch_date,
            actor_user_id=access.principal.user_id,
            ctx=audit_context(request),
            now=now,
            today=clock.local_date(now, timezone),
        )


def _apply_item(
    request: Request, access: OrgAccess, item: str, body: ChecklistUpdate
) -> ItemChange:
    scope = TenantScope.of([access.org_id], user_id=access.principal.user_id)
    with scoped(engine(request), scope) as conn:
        return set_item_status(
            conn=conn,
            org_id=access.org_id,
            item=item,
            status=body.status,
            reason=body.reason,
            actor_user_id=access.principal.user_id,
            ctx=audit_context(request),
            now=clock.now(),
        )


def _apply_step(request: Request, access: OrgAccess, step: str, body: StepUpdate) -> StepChange:
    now = clock.now()
    scope = TenantScope.of([access.org_id], user_id=access.principal.user_id)
    with scoped(engine(request), scope) as conn:
        _, _, timezone = org_timezone(conn, access.org_id)
        rollout = current_rollout(conn=conn, org_id=access.org_id)
        return act_on_step(
            conn=conn,
            catalog=catalog_of(settings(request)),
            org_id=access.org_id,
            step=step,
            action=body.action,
            actor_user_id=access.principal.user_id,
            ctx=audit_context(request),
            now=now,
            until=clock.local_date(now, timezone),
            timezone=timezone,
            mode=rollout.settings.mode if rollout.settings else None,
        )


@router.put("/api/v1/orgs/{org}/rollout", response_model=RolloutChange)
def api_set_rollout(request: Request, access: ManageRollout, body: RolloutUpdate) -> Response:
    """Set the rollout mode (org and platform admins); answers the settings before and after.

    With a session cookie, send ``X-CSRF-Token``.
    """
    _json_write(request, access)
    return json_model(_apply_rollout(request, access, body))


@router.put("/api/v1/orgs/{org}/checklist/{item}", response_model=ItemChange)
def api_set_item(
    request: Request, access: ManageRollout, item: str, body: ChecklistUpdate
) -> Response:
    """Move a checklist item to a new status (``blocked`` needs a ``reason``)."""
    _json_write(request, access)
    return json_model(_apply_item(request, access, item, body))


@router.post("/api/v1/orgs/{org}/wizard/{step}", response_model=StepChange)
def api_step(request: Request, access: ManageRollout, step: str, body: StepUpdate) -> Response:
    """Start, mark complete (only once the system confirms it) or skip an onboarding step."""
    _json_write(request, access)
    return json_model(_apply_step(request, access, step, body))


def _back(access: OrgAccess, anchor: str) -> Response:
    return RedirectResponse(f"/orgs/{access.slug}/onboarding#{anchor}", status_code=303)


def _refs(raw: str) -> list[str]:
    return [r.strip() for r in raw.replace("\n", ",").split(",") if r.strip()]


@router.post("/orgs/{org}/onboarding/rollout", include_in_schema=False)
def form_set_rollout(
    request: Request,
    access: ManageRollout,
    mode: Annotated[str, Form(max_length=20)],
    csrf_token: Annotated[str, Form()] = "",
    pilot_units: Annotated[str, Form(max_length=20000)] = "",
    pilot_members: Annotated[str, Form(max_length=200000)] = "",
    launch_date: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    verify_csrf(request, csrf_token)
    try:
        body = RolloutUpdate(
            mode=RolloutMode(mode),
            pilot_units=_refs(pilot_units),
            pilot_members=_refs(pilot_members),
            launch_date=date.fromisoformat(launch_date) if launch_date else None,
        )
    except ValueError as exc:
        raise InvalidInput(f"invalid rollout settings: {exc}") from exc
    _apply_rollout(request, access, body)
    return _back(access, "rollout")


@router.post("/orgs/{org}/onboarding/checklist/{item}", include_in_schema=False)
def form_set_item(
    request: Request,
    access: ManageRollout,
    item: str,
    status: Annotated[str, Form(max_length=20)],
    csrf_token: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    verify_csrf(request, csrf_token)
    try:
        body = ChecklistUpdate(status=Status(status), reason=reason or None)
    except ValueError as exc:
        raise InvalidInput(f"unknown status {status!r}") from exc
    _apply_item(request, access, item, body)
    return _back(access, f"item-{item}")


@router.post("/orgs/{org}/onboarding/wizard/{step}", include_in_schema=False)
def form_step(
    request: Request,
    access: ManageRollout,
    step: str,
    action: Annotated[str, Form(max_length=20)],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    verify_csrf(request, csrf_token)
    try:
        body = StepUpdate(action=StepAction(action))
    except ValueError as exc:
        raise InvalidInput(f"unknown action {action!r}") from exc
    _apply_step(request, access, step, body)
    return _back(access, f"step-{step}")
