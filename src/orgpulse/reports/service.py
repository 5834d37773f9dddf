"""The numbers of each report, taken from the page services (never computed a second time).

* Business review: the health slice's ``org_health`` and the overview's ``org_overview``, both
  as of the end of the month (or now, for the month in progress).
* Portfolio summary: ``dashboards.portfolio.portfolio`` for the month, in the viewer's scope.
* Employer quarterly: ``dashboards.aggregate.aggregate_report`` with the viewer's privacy policy
  and a unit breakdown; a quarter whose result is withheld is refused, not printed.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel
from sqlalchemy import Connection

from orgpulse.catalog import Catalog
from orgpulse.core import clock
from orgpulse.core.errors import Conflict, InsufficientCohort
from orgpulse.dashboards.aggregate import AggregateReport, aggregate_report, org_today
from orgpulse.dashboards.portfolio import Portfolio, portfolio
from orgpulse.dashboards.service import Freshness, OrgOverview, freshness_of, org_overview
from orgpulse.health import OrgHealth, org_health
from orgpulse.metrics import org_view
from orgpulse.privacy import Period, PrivacyPolicy
from orgpulse.reports.periods import Month, end_of_month


class BusinessReview(BaseModel):
    slug: str
    name: str
    month: str
    month_title: str
    first_day: date
    last_day: date
    as_of: datetime
    generated_at: datetime
    health: OrgHealth
    overview: OrgOverview
    freshness: Freshness


class PortfolioSummary(BaseModel):
    month: str
    month_title: str
    generated_at: datetime
    portfolio: Portfolio


def business_review(
    *,
    conn: Connection,
    catalog: Catalog,
    org_id: int,
    month: Month,
    now: datetime,
    allowed_unit_ids: tuple[int, ...] | None = None,
    amber_seconds: int = 600,
) -> BusinessReview:
    """Return the business review of one org for ``month`` (as of its end, or now)."""
    view = org_view(conn, org_id=org_id, allowed_unit_ids=allowed_unit_ids)
    as_of = end_of_month(month, timezone=view.timezone, now=now)
    health = org_health(
        conn=conn,
        catalog=catalog,
        org_id=org_id,
        now=as_of,
        allowed_unit_ids=allowed_unit_ids,
        weeks=5,
    )
    days = (clock.local_date(as_of, view.timezone) - month.first_day).days + 1
    overview = org_overview(
        conn=conn,
        org_id=org_id,
        now=as_of,
        days=days,
        allowed_unit_ids=allowed_unit_ids,
        amber_seconds=amber_seconds,
    )
    # Freshness is about the data now, not at the month's end.
    current = freshness_of(
        overview.freshness.newest_event_at,
        overview.freshness.last_rollup_at,
        now=now,
        amber_seconds=amber_seconds,
    )
    return BusinessReview(
        slug=view.slug,
        name=view.name,
        month=month.label,
        month_title=month.title,
        first_day=month.first_day,
        last_day=month.last_day,
        as_of=as_of,
        generated_at=now,
        health=health,
        overview=overview,
        freshness=current,
    )


def portfolio_summary(
    *, conn: Connection, catalog: Catalog, month: Month, now: datetime, amber_seconds: int = 600
) -> PortfolioSummary:
    """Return every account in the connection's scope as of the end of ``month``."""
    result = portfolio(
        conn=conn,
        catalog=catalog,
        now=now,
        month=month.label,
        sort="name",
        per_page=None,
        amber_seconds=amber_seconds,
    )
    return PortfolioSummary(
        month=month.label, month_title=month.title, generated_at=now, portfolio=result
    )


def employer_quarterly(
    *,
    conn: Connection,
    catalog: Catalog,
    org_id: int,
    quarter: Period,
    policy: PrivacyPolicy,
    now: datetime,
    allowed_unit_ids: tuple[int, ...] | None = None,
) -> AggregateReport:
    """Return the aggregate report of a quarter by unit; refuse a withheld one.

    Why refuse: a report whose cohort is below k (or whose quarter has not started) has no
    numbers to give, and a PDF that looks like a report but says nothing invites misreading.
    """
    today = org_today(conn=conn, org_id=org_id, now=now)
    report = aggregate_report(
        conn=conn,
        org_id=org_id,
        period=quarter,
        breakdown="unit",
        policy=policy,
        catalog=catalog,
        today=today,
        allowed_unit_ids=allowed_unit_ids,
    )
    if report.status == "insufficient_data":
        raise InsufficientCohort(
            f"report refused: fewer than {report.k} people make up the cohort for "
            f"{report.period}, so no numbers can be shown"
        )
    if report.status != "ok":
        raise Conflict(f"report refused: {report.message}")
    return report
