"""Render a report to HTML with the pages' Jinja2 environment, then to PDF with WeasyPrint.

Why a refusing ``url_fetcher``: a report is rendered from data customers control (org and unit
names); nothing in it may make the server fetch a URL. Fonts come from fontconfig (system fonts),
charts are inline SVG, the stylesheet is inline: there is nothing to fetch.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from markupsafe import Markup

from orgpulse.dashboards.aggregate import AggregateReport
from orgpulse.dashboards.charts import daily_bar_chart
from orgpulse.reports.service import BusinessReview, PortfolioSummary
from orgpulse.web.templating import TEMPLATE_DIR, templates

PDF_MEDIA_TYPE = "application/pdf"
HIDDEN_MARK = "—"
# WeasyPrint applies no stylesheet of the page to inline SVG (it warns "unknown property" and
# draws every shape black), so the charts carry their print styles inside.
CHART_PRINT_STYLE = Markup(
    "<style>.bar { fill: #2f5bd3; } .line { fill: none; stroke: #a86400; stroke-width: 2; }"
    " .grid { stroke: #dde2ea; } .axis { fill: #5b6475; font-size: 11px; }</style>"
)


class ExternalResourceRefused(RuntimeError):
    """A report tried to load something that is not part of it."""


def refuse_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """WeasyPrint URL fetcher that refuses everything but inline ``data:`` URLs."""
    if url.startswith("data:"):
        from weasyprint.urls import default_url_fetcher

        result: dict[str, Any] = default_url_fetcher(url)
        return result
    raise ExternalResourceRefused(f"reports load nothing from outside: refused {url[:80]!r}")


def html_to_pdf(html: str) -> bytes:
    """Return the PDF of ``html`` (A4 page rules come from the report's print stylesheet)."""
    from weasyprint import HTML  # imported here: loading Pango costs ~0.5 s at start-up

    pdf: bytes = HTML(
        string=html, base_url=TEMPLATE_DIR.as_uri() + "/", url_fetcher=refuse_fetch
    ).write_pdf()
    return pdf


def _render(name: str, context: dict[str, Any]) -> str:
    return templates.env.get_template(name).render(**context)


def stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def business_review_charts(review: BusinessReview) -> dict[str, Markup]:
    """The SVG charts of the business review, drawn by the pages' chart functions."""
    daily = review.overview.daily
    activity = daily_bar_chart(
        [(p.day, p.events) for p in daily],
        title=f"Events per day, {review.month_title}",
        width=720,
        height=180,
        overlay=[p.active_members for p in daily],
        overlay_label="Active members per day",
    )
    health = daily_bar_chart(
        [(d, int(v or 0)) for d, v in review.health.trend.points],
        title="Health score per day (from daily snapshots)",
        width=720,
        height=150,
    )
    return {"activity": print_styled(activity), "health": print_styled(health)}


def print_styled(chart: Markup) -> Markup:
    """Return the SVG ``chart`` with the print styles inside it, where WeasyPrint reads them."""
    svg_open, end, rest = chart.partition(">")
    return svg_open + end + CHART_PRINT_STYLE + rest


def business_review_html(review: BusinessReview) -> str:
    return _render(
        "reports/business_review.html",
        {
            "r": review,
            "h": review.health,
            "o": review.overview,
            "charts": business_review_charts(review),
            "header": f"{review.name} · {review.month_title}",
            "generated": stamp(review.generated_at),
        },
    )


def portfolio_summary_html(summary: PortfolioSummary, *, viewer: str) -> str:
    return _render(
        "reports/portfolio_summary.html",
        {
            "s": summary,
            "p": summary.portfolio,
            "viewer": viewer,
            "header": f"Portfolio · {summary.month_title}",
            "generated": stamp(summary.generated_at),
        },
    )


def employer_quarterly_html(report: AggregateReport, *, generated_at: datetime) -> str:
    return _render(
        "reports/employer_quarterly.html",
        {
            "r": report,
            "mark": HIDDEN_MARK,
            "header": f"{report.name} · {report.period}",
            "generated": stamp(generated_at),
        },
    )
