"""Operational endpoints."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from orgpulse.core import clock
from orgpulse.ops.health import Health, health
from orgpulse.web.deps import engine

router = APIRouter(tags=["operations"])


@router.get("/api/health", response_model=Health, summary="Service health (no tenant data)")
async def get_health(request: Request) -> JSONResponse:
    result = await run_in_threadpool(health, engine=engine(request), now=clock.now())
    status = 200 if result.database == "ok" else 503
    return JSONResponse(result.model_dump(mode="json"), status_code=status)
