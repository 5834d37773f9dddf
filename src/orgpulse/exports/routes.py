"""Raw exports streamed straight from PostgreSQL (report exports live next to their pages)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from orgpulse.audit import record
from orgpulse.auth import Permission, Role
from orgpulse.core import clock
from orgpulse.core.tenancy import TenantScope
from orgpulse.exports.activity import ActivityExport, activity_csv, activity_window
from orgpulse.exports.csv import CsvResponse, csv_filename, csv_stream_response
from orgpulse.web.deps import OrgAccess, audit_context, engine, org_access, read_engine

router = APIRouter(tags=["exports"])
ViewOrg = Annotated[OrgAccess, Depends(org_access(Permission.VIEW_ORG_ANALYTICS))]


@router.get("/orgs/{org}/activity.csv", response_class=CsvResponse)
@router.get("/api/v1/orgs/{org}/activity.csv", response_class=CsvResponse)
def member_activity_csv(
    request: Request,
    access: ViewOrg,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
) -> Response:
    """Events per member, day and event name (default: last 90 days), streamed as CSV.

    The export is audited when it starts, before the first row leaves (docs/exports.md).
    """
    since, until = activity_window(today=clock.now().date(), since=from_, until=to)
    export = ActivityExport(
        org_id=access.org_id,
        since=since,
        until=until,
        unit_ids=access.unit_ids if access.role == Role.UNIT_ADMIN else None,
    )
    record(
        engine(request),
        ctx=audit_context(request),
        action="export.csv",
        org_id=access.org_id,
        target="member_activity",
        details={
            "format": "csv",
            "from": since.isoformat(),
            "to": until.isoformat(),
            "units": None if export.unit_ids is None else list(export.unit_ids),
            "rows": None,
        },
        query_type="member_activity",
        suppressed=False,
        export_kind="csv",
    )
    chunks = activity_csv(
        engine=read_engine(request),
        scope=TenantScope.of([access.org_id], user_id=access.principal.user_id),
        export=export,
    )
    return csv_stream_response(
        chunks, filename=csv_filename(access.slug, "member-activity", until)
    )
