"""Operational endpoints: the service health panel (JSON for probes, a page for platform staff)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from orgpulse.auth import Permission, grants
from orgpulse.core import clock
from orgpulse.core.errors import PermissionDenied
from orgpulse.ops.health import Health, health
from orgpulse.web.deps import engine, load_switcher, require_principal, settings
from orgpulse.web.templating import render

router = APIRouter(tags=["operations"])


@router.get("/api/health", response_model=Health, summary="Service health (no tenant data)")
async def get_health(request: Request) -> JSONResponse:
    result = await run_in_threadpool(
        health, engine=engine(request), settings=settings(request), now=clock.now()
    )
    status = 200 if result.database == "ok" else 503
    return JSONResponse(result.model_dump(mode="json"), status_code=status)


@router.get("/admin/health", include_in_schema=False)
def health_panel(request: Request) -> Response:
    """The same health, as a page for platform staff: flags, policies, ingest, every job."""
    principal = require_principal(request)
    if not grants(principal.staff_role, Permission.VIEW_PLATFORM):
        raise PermissionDenied("the service health panel is open to platform staff only")
    result = health(engine=engine(request), settings=settings(request), now=clock.now())
    load_switcher(request, principal)
    return render(request, "service_health.html", {"h": result})
