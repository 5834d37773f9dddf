"""Admin change of an org's privacy settings (JSON API; the CLI calls the same service)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from orgpulse.audit import record
from orgpulse.auth import Permission
from orgpulse.core.errors import InvalidInput, PermissionDenied
from orgpulse.core.tenancy import TenantScope, scoped
from orgpulse.privacy.policy import PrivacyMode
from orgpulse.privacy.settings import PrivacyChange, set_privacy
from orgpulse.web.deps import OrgAccess, audit_context, engine, org_access, verify_csrf
from orgpulse.web.responses import json_model

router = APIRouter()
# Aggregates, not analytics: an org admin of an aggregate-only org must still reach its settings.
OrgAdmin = Annotated[OrgAccess, Depends(org_access(Permission.VIEW_AGGREGATES))]


class PrivacyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: PrivacyMode | None = None
    # The column is an integer: a larger k is refused here, not by the database.
    min_cohort_size: Annotated[int, Field(le=2**31 - 1)] | None = None


@router.put("/api/v1/orgs/{org}/privacy", response_model=PrivacyChange, tags=["privacy"])
def api_set_privacy(request: Request, access: OrgAdmin, body: PrivacyUpdate) -> Response:
    """Set the org's privacy mode and/or minimum cohort size; org admins may only tighten.

    Answers the settings before and after. With a session cookie, send ``X-CSRF-Token``.
    """
    if access.principal.via == "session":
        verify_csrf(request, request.headers.get("x-csrf-token"))
    if body.mode is None and body.min_cohort_size is None:
        raise InvalidInput("give mode, min_cohort_size or both")
    scope = TenantScope.of([access.org_id], user_id=access.principal.user_id)
    try:
        with scoped(engine(request), scope) as conn:
            change = set_privacy(
                conn=conn,
                org_id=access.org_id,
                mode=body.mode,
                min_cohort_size=body.min_cohort_size,
                actor_role=access.role,
                ctx=audit_context(request),
            )
    except PermissionDenied as exc:
        record(
            engine(request),
            ctx=audit_context(request),
            action="admin.privacy_changed",
            org_id=access.org_id,
            target=access.slug,
            outcome="denied",
            details={"requested": body.model_dump(mode="json"), "reason": exc.message},
        )
        raise
    return json_model(change)
