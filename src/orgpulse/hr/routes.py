"""HR metrics API: ``POST /api/v1/orgs/{org}/hr-metrics`` (submit), ``GET`` (list versions)."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse

from orgpulse.auth import Permission
from orgpulse.core import clock
from orgpulse.core.errors import InvalidInput, NotAuthenticated, PayloadTooLarge
from orgpulse.core.tenancy import TenantScope, scoped
from orgpulse.hr.service import list_hr_submissions, record_hr_rejection, submit_hr_metrics
from orgpulse.web.deps import (
    OrgAccess,
    audit_context,
    check_org_access,
    engine,
    org_access,
    org_read,
    require_principal,
)

router = APIRouter(prefix="/api/v1/orgs/{org}/hr-metrics", tags=["hr"])

# A quarter's aggregates are a few hundred bytes; anything near this limit is not a submission.
MAX_BODY_BYTES = 64 * 1024


def _token_access(request: Request, org: str) -> OrgAccess:
    """Org access for a bearer token only.

    Why: this is a JSON write without a CSRF token; a browser would attach the session cookie to
    a cross-site POST, so a session may never submit here (a script holding a token may).
    """
    principal = require_principal(request)
    if principal.via != "token":
        raise NotAuthenticated(
            "submitting HR metrics takes an API token (Authorization: Bearer …); "
            "a browser session is not accepted"
        )
    return check_org_access(request, ref=org, permission=Permission.SUBMIT_HR_METRICS)


async def _read_json(request: Request) -> Any:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"request body is {declared} bytes; the limit is {MAX_BODY_BYTES}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"request body exceeds the limit of {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    try:
        return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as exc:
        message = f"request body is not valid JSON: {exc}"
        raise InvalidInput(message, details=[{"field": "body", "message": message}]) from None


_EXAMPLE = {
    "org_id": "conocophillips",
    "submission_date": "2024-10-22",
    "period_start": "2024-07-01",
    "period_end": "2024-09-30",
    "metrics": {
        "retention": {"cohort_size": 45, "retained_count": 42, "retention_rate": 93.3},
        "absenteeism": {
            "cohort_size": 45,
            "pre_avg_absence_days": 8.2,
            "post_avg_absence_days": 3.1,
            "reduction_pct": 62.2,
        },
        "return_to_work": {"cohort_size": 12, "successful_rtw_count": 11, "success_rate": 91.7},
    },
}


@router.post(
    "",
    status_code=201,
    summary="Submit one quarter of pre-aggregated HR metrics (docs/hr-metrics.md)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}, "example": _EXAMPLE}},
        }
    },
)
async def submit(
    request: Request, access: Annotated[OrgAccess, Depends(_token_access)]
) -> JSONResponse:
    ctx = audit_context(request)
    try:
        body = await _read_json(request)

        def work() -> dict[str, Any]:
            scope = TenantScope.of([access.org_id], user_id=access.principal.user_id)
            with scoped(engine(request), scope) as conn:
                receipt = submit_hr_metrics(
                    conn=conn,
                    org_id=access.org_id,
                    payload=body,
                    submitted_by=access.principal.user_id,
                    now=clock.now(),
                    ctx=ctx,
                )
            return receipt.as_dict()

        receipt = await run_in_threadpool(work)
    except InvalidInput as exc:
        await run_in_threadpool(
            record_hr_rejection,
            engine=engine(request),
            ctx=ctx,
            org_id=access.org_id,
            problems=exc.details,
        )
        raise
    return JSONResponse(receipt, status_code=201)


@router.get("", summary="List the stored versions of the org's HR submissions")
def versions(
    request: Request,
    access: Annotated[OrgAccess, Depends(org_access(Permission.VIEW_HR_SUBMISSIONS))],
) -> JSONResponse:
    with org_read(request, access, target="hr_metrics", details={},
                  action="hr_metrics.listed") as (conn, _):
        rows = list_hr_submissions(conn=conn, org_id=access.org_id)
    return JSONResponse(
        {"org": access.slug, "submissions": [r.as_dict() for r in rows]}
    )
