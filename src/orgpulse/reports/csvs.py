"""CSV attachments of the reports where a table fits: portfolio accounts, quarterly aggregates."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from orgpulse.dashboards.aggregate import TABS, AggregateReport
from orgpulse.dashboards.aggregate_routes import CSV_HEADER, csv_rows
from orgpulse.exports import safe_cell
from orgpulse.reports.service import PortfolioSummary


def _csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return buffer.getvalue().encode()


def portfolio_csv(summary: PortfolioSummary) -> bytes:
    header = ["account", "slug", "plan", "account_managers", "score", "band", "scored_on",
              "change_7d", "change_30d", "top_driver"]
    rows = (
        [a.name, a.slug, a.plan or "", a.account_managers or "", _blank(a.score), a.band,
         _blank(a.scored_on), _blank(a.change_7d), _blank(a.change_30d), a.top_driver or ""]
        for a in summary.portfolio.accounts
    )
    return _csv(header, rows)


def employer_quarterly_csv(report: AggregateReport) -> bytes:
    """Every tab of the aggregate CSV, hidden cells as the neutral mark (same as the page)."""
    return _csv(CSV_HEADER, (row for tab in TABS for row in csv_rows(report, tab)))


def _blank(value: object) -> object:
    return "" if value is None else value
