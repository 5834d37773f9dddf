"""Metrics API and metric trend pages."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from orgpulse.auth import Permission
from orgpulse.catalog import catalog_of
from orgpulse.core import clock
from orgpulse.dashboards.charts import daily_bar_chart
from orgpulse.exports import CsvResponse, csv_filename, csv_response
from orgpulse.metrics.service import MetricTrend, OrgMetrics, metric_trend, org_metrics
from orgpulse.web.deps import OrgAccess, load_switcher, org_access, org_read, settings
from orgpulse.web.responses import json_model
from orgpulse.web.templating import render

router = APIRouter(tags=["metrics"])
ViewOrg = Annotated[OrgAccess, Depends(org_access(Permission.VIEW_ORG_ANALYTICS))]


@router.get("/api/v1/orgs/{org}/metrics", response_model=OrgMetrics)
def api_metrics(
    request: Request,
    access: ViewOrg,
    unit: str | None = None,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: date | None = None,
) -> Response:
    """Every catalog metric with value, numerator, denominator, window and as-of time."""
    details = {"format": "json", "unit": unit, "from": str(from_), "to": str(to)}
    with org_read(request, access, target="org_metrics", details=details) as (conn, allowed):
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
    return json_model(result)


def _trend(
    request: Request, access: OrgAccess, key: str, *, weeks: int, unit: str | None, fmt: str
) -> MetricTrend:
    details = {"format": fmt, "metric": key, "weeks": weeks, "unit": unit}
    action = "export.csv" if fmt == "csv" else "analytics.read"
    with org_read(
        request, access, target="metric_trend", details=details, action=action
    ) as (conn, allowed):
        return metric_trend(
            conn=conn,
            catalog=catalog_of(settings(request)),
            org_id=access.org_id,
            key=key,
            now=clock.now(),
            weeks=weeks,
            unit_ref=unit,
            allowed_unit_ids=allowed,
        )


@router.get("/api/v1/orgs/{org}/metrics/{key}/trend", response_model=MetricTrend)
def api_metric_trend(
    request: Request, access: ViewOrg, key: str, weeks: int = 8, unit: str | None = None
) -> MetricTrend:
    """One metric at the end of each of the last 8, 26 or 52 weeks."""
    return _trend(request, access, key, weeks=weeks, unit=unit, fmt="json")


@router.get("/orgs/{org}/metrics/{key}", include_in_schema=False)
def metric_page(
    request: Request, access: ViewOrg, key: str, weeks: int = 8, unit: str | None = None
) -> Response:
    trend = _trend(request, access, key, weeks=weeks, unit=unit, fmt="html")
    load_switcher(request, access.principal)
    percent = trend.metric.format == "percent"
    chart = daily_bar_chart(
        [(p.week_end, round((p.value or 0) * (100 if percent else 1))) for p in trend.points],
        title=f"{trend.metric.label}, weekly",
    )
    return render(request, "metric.html", {"t": trend, "chart": chart, "percent": percent})


TREND_HEADER = [
    "org_id",
    "org_name",
    "metric",
    "label",
    "week_end",
    "value",
    "numerator",
    "denominator",
    "status",
]


@router.get("/orgs/{org}/metrics/{key}/trend.csv", response_class=CsvResponse)
@router.get("/api/v1/orgs/{org}/metrics/{key}/trend.csv", response_class=CsvResponse)
def metric_trend_csv(
    request: Request, access: ViewOrg, key: str, weeks: int = 8, unit: str | None = None
) -> Response:
    """The metric over time (one row per week, as on the page) as CSV."""
    trend = _trend(request, access, key, weeks=weeks, unit=unit, fmt="csv")
    rows = (
        [
            trend.org_id,
            trend.name,
            trend.metric.key,
            trend.metric.label,
            p.week_end.isoformat(),
            "" if p.value is None else p.value,
            "" if p.numerator is None else p.numerator,
            "" if p.denominator is None else p.denominator,
            p.status,
        ]
        for p in trend.points
    )
    last = trend.points[-1].week_end
    return csv_response(
        TREND_HEADER, rows, filename=csv_filename(trend.slug, f"metric-{trend.metric.key}", last)
    )
