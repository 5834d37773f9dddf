"""Build one report for one viewer: numbers from the service, then PDF (and CSV where it fits).

Shared by the download routes and the subscriptions job; the caller has checked access
(``reports.access``) and hands in a connection scoped to what the viewer may read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from orgpulse.auth import Principal, Role
from orgpulse.catalog import Catalog
from orgpulse.privacy import Period
from orgpulse.reports import pdf, service
from orgpulse.reports.csvs import employer_quarterly_csv, portfolio_csv
from orgpulse.reports.periods import Month
from orgpulse.web.deps import OrgAccess


@dataclass(frozen=True)
class RenderedReport:
    title: str
    period: str
    pdf: bytes
    filename: str
    csv: bytes | None = None
    csv_filename: str | None = None
    cohort_size: int | None = None
    suppressed: bool = False


@dataclass(frozen=True)
class PreparedReport:
    """A report's HTML and CSV, built from the database; ``render`` makes the PDF.

    Why two steps: WeasyPrint takes most of a report's time and needs no database, so callers
    close their read transaction before rendering instead of holding it open meanwhile.
    """

    title: str
    period: str
    html: str
    filename: str
    csv: bytes | None = None
    csv_filename: str | None = None
    cohort_size: int | None = None
    suppressed: bool = False

    def render(self) -> RenderedReport:
        return RenderedReport(
            title=self.title, period=self.period, pdf=pdf.html_to_pdf(self.html),
            filename=self.filename, csv=self.csv, csv_filename=self.csv_filename,
            cohort_size=self.cohort_size, suppressed=self.suppressed,
        )


def filename(slug: str, report: str, now: datetime, ext: str = "pdf") -> str:
    return f"{slug}_{report}_{now.date().isoformat()}.{ext}"


def allowed_units(access: OrgAccess) -> tuple[int, ...] | None:
    return access.unit_ids if access.role == Role.UNIT_ADMIN else None


def business_review(
    conn: Connection, *, access: OrgAccess, month: Month, catalog: Catalog, now: datetime,
    amber_seconds: int,
) -> PreparedReport:
    review = service.business_review(
        conn=conn, catalog=catalog, org_id=access.org_id, month=month, now=now,
        allowed_unit_ids=allowed_units(access), amber_seconds=amber_seconds,
    )
    return PreparedReport(
        title=f"Business review · {review.name} · {review.month_title}",
        period=review.month,
        html=pdf.business_review_html(review),
        filename=filename(access.slug, "business-review", now),
    )


def portfolio_summary(
    conn: Connection, *, principal: Principal, month: Month, catalog: Catalog, now: datetime,
    amber_seconds: int,
) -> PreparedReport:
    summary = service.portfolio_summary(
        conn=conn, catalog=catalog, month=month, now=now, amber_seconds=amber_seconds
    )
    html = pdf.portfolio_summary_html(summary, viewer=principal.display_name or principal.email)
    return PreparedReport(
        title=f"Portfolio summary · {summary.month_title}",
        period=summary.month,
        html=html,
        filename=filename("portfolio", "summary", now),
        csv=portfolio_csv(summary),
        csv_filename=filename("portfolio", "summary", now, "csv"),
    )


def employer_quarterly(
    conn: Connection, *, access: OrgAccess, quarter: Period, catalog: Catalog, now: datetime,
) -> PreparedReport:
    report = service.employer_quarterly(
        conn=conn, catalog=catalog, org_id=access.org_id, quarter=quarter,
        policy=access.privacy.policy, now=now, allowed_unit_ids=allowed_units(access),
    )
    return PreparedReport(
        title=f"Quarterly report · {report.name} · {report.period}",
        period=report.period,
        html=pdf.employer_quarterly_html(report, generated_at=now),
        filename=filename(access.slug, "employer-quarterly", now),
        csv=employer_quarterly_csv(report),
        csv_filename=filename(access.slug, "employer-quarterly", now, "csv"),
        cohort_size=report.cohort_for_audit,
        suppressed=any(
            f.suppressed
            for m in [report.cohort, report.active, *report.engagement, *report.wellbeing]
            if m is not None
            for f in [m.org, *m.units]
        ),
    )
