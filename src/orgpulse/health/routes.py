"""Health score API."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import JSONResponse, Response

from orgpulse.auth import Permission, Role
from orgpulse.catalog import catalog_of
from orgpulse.core import clock
from orgpulse.dashboards.charts import daily_bar_chart
from orgpulse.health.service import OrgHealth, org_health
from orgpulse.metrics.service import org_metrics
from orgpulse.ops import job_statuses
from orgpulse.web.deps import OrgAccess, load_switcher, org_access, org_read, settings
from orgpulse.web.templating import render

router = APIRouter(tags=["health"])
ViewOrg = Annotated[OrgAccess, Depends(org_access(Permission.VIEW_ORG_ANALYTICS))]
WEIGHT_FIELDS = ("weight", "effective_weight", "contribution", "shortfall")


def health_for(request: Request, access: OrgAccess, *, unit: str | None, weeks: int) -> OrgHealth:
    """The health service for one request, scoped to the org and audited."""
    details = {"format": "json", "unit": unit}
    with org_read(request, access, target="org_health", details=details) as (conn, allowed):
        return org_health(
            conn=conn,
            catalog=catalog_of(settings(request)),
            org_id=access.org_id,
            now=clock.now(),
            unit_ref=unit,
            allowed_unit_ids=allowed,
            weeks=weeks,
        )


def public_view(result: OrgHealth, role: Role) -> dict[str, Any]:
    """Weights are internal: only platform admins see them (seed 002: not in the UI, v1)."""
    body = result.model_dump(mode="json")
    if role != Role.PLATFORM_ADMIN:
        for component in body["health"]["components"]:
            for name in WEIGHT_FIELDS:
                component.pop(name, None)
        for driver in body["health"]["drivers"]:
            driver.pop("shortfall", None)
    return body


@router.get("/orgs/{org}/health", include_in_schema=False)
def health_page(
    request: Request,
    access: ViewOrg,
    unit: str | None = None,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
) -> Response:
    """Implementation health: score, drivers with actions, components, and every metric."""
    catalog = catalog_of(settings(request))
    now = clock.now()
    details = {"format": "html", "unit": unit, "from": str(from_), "to": str(to)}
    with org_read(request, access, target="org_health", details=details) as (conn, allowed):
        result = org_health(
            conn=conn,
            catalog=catalog,
            org_id=access.org_id,
            now=now,
            unit_ref=unit,
            allowed_unit_ids=allowed,
        )
        metrics = org_metrics(
            conn=conn,
            catalog=catalog,
            org_id=access.org_id,
            now=now,
            unit_ref=unit,
            allowed_unit_ids=allowed,
            since=from_,
            until=to,
        )
        # Platform admins run the jobs that keep this page current: tell them when one fails.
        jobs = (
            job_statuses(conn=conn, now=now, settings=settings(request))
            if access.role == Role.PLATFORM_ADMIN
            else None
        )
    load_switcher(request, access.principal)
    chart = daily_bar_chart(
        [(d, int(v or 0)) for d, v in result.trend.points],
        title="Health score per day (from daily snapshots)",
        width=720,
        height=160,
    )
    return render(
        request,
        "health.html",
        {
            "h": result,
            "m": metrics,
            "chart": chart,
            "show_weights": access.role == Role.PLATFORM_ADMIN,
            "access": access,
            "jobs": jobs,
        },
    )


@router.get("/api/v1/orgs/{org}/health")
def api_health(
    request: Request,
    access: ViewOrg,
    unit: str | None = None,
    weeks: Annotated[int, Query(ge=1, le=52)] = 8,
) -> JSONResponse:
    """Health score (0–100 or insufficient data), components, top drivers, trend."""
    result = health_for(request, access, unit=unit, weeks=weeks)
    return JSONResponse(public_view(result, access.role))
