"""Every page with a report offers its download, and each link gives the file it names."""

from __future__ import annotations

import html
import re
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from tests.dashboards.test_aggregate import northwind  # noqa: F401  (the fixture)

from factories import Factory
from orgpulse.auth import Role

LINK = re.compile(r'<span class="downloads">(.*?)</span>', re.S)
HREF = re.compile(r'href="([^"]+)"[^>]*>([^<]+)</a>')


def downloads(page: str) -> dict[str, str]:
    """Label → URL of the page's download buttons."""
    (block,) = LINK.findall(page)
    return {label: html.unescape(href) for href, label in HREF.findall(block)}


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("/portfolio?band=at_risk&sort=name&desc=true", {
            "Download CSV": ("/portfolio.csv?band=at_risk&sort=name&desc=true", "text/csv",
                             "all-orgs_portfolio_2026-06-15.csv"),
            "Summary PDF": ("/portfolio/summary.pdf", "application/pdf",
                            "portfolio_summary_2026-06-15.pdf"),
        }),
        ("/portfolio?month=2026-05", {
            "Download CSV": ("/portfolio.csv?month=2026-05&sort=score", "text/csv",
                             "all-orgs_portfolio_2026-05-31.csv"),
            "Summary PDF": ("/portfolio/summary.pdf?month=2026-05", "application/pdf",
                            "portfolio_summary_2026-06-15.pdf"),
        }),
        ("/orgs/acme-schools/health", {
            "Business review PDF": ("/orgs/acme-schools/reports/business-review.pdf",
                                    "application/pdf",
                                    "acme-schools_business-review_2026-06-15.pdf"),
        }),
        ("/orgs/acme-schools", {
            "Member activity CSV": ("/orgs/acme-schools/activity.csv", "text/csv",
                                    "acme-schools_member-activity_2026-06-15.csv"),
        }),
        ("/orgs/acme-schools/courses", {
            "Download CSV": ("/orgs/acme-schools/courses.csv?from=2026-03-18&to=2026-06-15",
                             "text/csv", "acme-schools_courses_2026-06-15.csv"),
        }),
        ("/orgs/acme-schools/metrics/assessments_assigned_7d?weeks=26", {
            "Download CSV": (
                "/orgs/acme-schools/metrics/assessments_assigned_7d/trend.csv?weeks=26",
                "text/csv", "acme-schools_metric-assessments_assigned_7d_2026-06-15.csv"),
        }),
    ],
)
def test_page_download_links_give_their_files(
    client: TestClient, factory: Factory, acme: int, page: str,
    expected: dict[str, tuple[str, str, str]],
) -> None:
    factory.login(client, factory.user(Role.PLATFORM_ADMIN))
    response = client.get(page)
    assert response.status_code == 200, response.text
    links = downloads(response.text)
    assert {label: url for label, (url, _, _) in expected.items()} == links
    for label, (url, media, filename) in expected.items():
        got = client.get(url)
        assert got.status_code == 200, (label, got.text[:300])
        assert got.headers["content-type"].split(";")[0] == media
        assert got.headers["content-disposition"] == f'attachment; filename="{filename}"'


def test_aggregate_page_offers_the_quarterly_pdf_once_the_baa_is_accepted(
    client: TestClient, factory: Factory, northwind: int, frozen: datetime,  # noqa: F811
) -> None:
    factory.login(client, factory.user(Role.EMPLOYER_VIEWER, org_id=northwind))
    before = client.get("/orgs/northwind/aggregate?period=2026-Q2").text
    assert "Quarterly report PDF" not in before and "Accept the BAA to export" in before
    client.post("/orgs/northwind/baa", data={"csrf_token": client.cookies.get("orgpulse_csrf")})
    page = client.get("/orgs/northwind/aggregate?period=2026-Q2").text
    href = "/orgs/northwind/reports/employer-quarterly.pdf?quarter=2026-Q2"
    assert f'href="{href}">Quarterly report PDF</a>' in page
    assert client.get(href).headers["content-type"] == "application/pdf"
    # A month is not a quarter: no quarterly link on a monthly view.
    assert "Quarterly report PDF" not in client.get(
        "/orgs/northwind/aggregate?period=2026-05").text
