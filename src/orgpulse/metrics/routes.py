"""Metrics API."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from orgpulse.audit import record
from orgpulse.auth import Permission, Role
from orgpulse.catalog import catalog_of
from orgpulse.core import clock
from orgpulse.core.tenancy import TenantScope, scoped
from orgpulse.metrics.service import OrgMetrics, org_metrics
from orgpulse.web.deps import OrgAccess, audit_context, org_access, read_engine, settings

router = APIRouter(tags=["metrics"])
ViewOrg = Annotated[OrgAccess, Depends(org_access(Permission.VIEW_ORG_ANALYTICS))]


@router.get("/api/v1/orgs/{org}/metrics", response_model=OrgMetrics)
def api_metrics(
    request: Request,
    access: ViewOrg,
    unit: str | None = None,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
) -> OrgMetrics:
    """Every catalog metric with value, numerator, denominator, window and as-of time."""
    allowed = access.unit_ids if access.role == Role.UNIT_ADMIN else None
    scope = TenantScope.of([access.org_id], user_id=access.principal.user_id)
    with scoped(read_engine(request), scope) as conn:
        result = org_metrics(
            conn=conn,
            catalog=catalog_of(settings(request)),
            org_id=access.org_id,
            now=clock.now(),
            unit_ref=unit,
            allowed_unit_ids=allowed,
            since=from_,
            until=to,
        )
    record(
        request.app.state.engine,
        ctx=audit_context(request),
        action="analytics.read",
        org_id=access.org_id,
        target="org_metrics",
        details={"format": "json", "unit": unit, "from": str(from_), "to": str(to)},
    )
    return result
