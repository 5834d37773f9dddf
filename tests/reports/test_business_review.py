"""The business review PDF of the hand-built Acme dataset (tests/datasets.py)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from tests.reports.helpers import first_page_png, has_colour, page_count, pdf_text

from factories import Factory
from orgpulse.auth import Role

LINE_AMBER = (168, 100, 0)  # .line (active members) in reports.pdf.CHART_PRINT_STYLE
BAR_BLUE = (47, 91, 211)  # .bar, the same


def test_business_review_pdf_has_the_health_score_kpis_and_chart(
    client: TestClient, factory: Factory, acme: int, tmp_path: Path, owner: Engine
) -> None:
    factory.login(client, factory.user(Role.ACCOUNT_MANAGER, org_id=acme))
    response = client.get("/orgs/acme-schools/reports/business-review.pdf?month=2026-06")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == (
        'attachment; filename="acme-schools_business-review_2026-06-15.pdf"')
    words = pdf_text(response.content, tmp_path)
    assert "Acme Schools — business review" in words
    assert "June 2026 (2026-06-01 to 2026-06-30)" in words
    # Same score as the health page (tests/health/test_health_api.py): 64.1, band Watch.
    assert "64.1 / 100 · Watch" in words
    assert "Left out: Needs at least 10" in words
    # Key figures, 1–15 June: 5 members; t1, s1, s2 active in the last 7 days; all 5 in
    # 30 days (t2 signed in 15 days ago); events in June (see the table): 2 logins,
    # 2 assignments, 1 scored, 3 submissions, 2 enrolments, 4 lessons, 20 uploads started
    # and 3 failed = 37, and the 3
    # group calls of the org and its schools made today.
    assert "Key figures, 2026-06-01 to 2026-06-15" in words
    assert ("Key figures, 2026-06-01 to 2026-06-15 5 3 5 Members Active, last 7 days Active, "
            "last 30 days 40 Events in the period") in words
    assert "Upload Started 20" in words and "Upload Failed 3" in words
    # Drivers with their recommended actions, largest shortfall first.
    assert "Rostering has never synced" in words
    assert words.index("Upload failure rate — scoring 0 of 100") < words.index(
        "Teachers activated — scoring 67 of 100")
    assert "Run the recording diagnostics" in words
    assert "Generated 2026-06-15 12:00 UTC" in words and "Page 1 of" in words
    pages = page_count(response.content, tmp_path)
    assert f"Page {pages} of {pages}" in words
    image = first_page_png(response.content, tmp_path)
    assert image.size == (414, 585)  # A4 (210 x 297 mm) at 50 dpi
    assert pages == 2
    assert has_colour(image, LINE_AMBER, tolerance=10) > 5  # the activity chart is on page 1
    with owner.begin() as conn:
        row = conn.execute(text(
            "SELECT action, export_kind, target, org_id FROM audit_records"
            " WHERE action = 'export.pdf'")).one()
    assert tuple(row) == ("export.pdf", "pdf", "business_review", acme)


def test_default_month_and_validation(
    client: TestClient, factory: Factory, acme: int, tmp_path: Path
) -> None:
    factory.login(client, factory.user(Role.PLATFORM_ADMIN))
    response = client.get("/orgs/acme-schools/reports/business-review.pdf")
    assert response.status_code == 200
    assert "May 2026 (2026-05-01 to 2026-05-31)" in pdf_text(response.content, tmp_path)
    bad = client.get("/orgs/acme-schools/reports/business-review.pdf?month=2026-13")
    assert bad.status_code == 422 and "month must look like 2026-05" in bad.text
    future = client.get("/orgs/acme-schools/reports/business-review.pdf?month=2026-07")
    assert future.status_code == 422 and "2026-07 has not started" in future.text


def test_foreign_org_and_aggregate_only_viewers_are_refused(
    client: TestClient, factory: Factory, acme: int
) -> None:
    other = factory.org("other", "Other Org")
    factory.login(client, factory.user(Role.ACCOUNT_MANAGER, org_id=other))
    assert client.get("/orgs/acme-schools/reports/business-review.pdf").status_code == 403
    assert client.get("/orgs/nowhere/reports/business-review.pdf").status_code == 403
    token = factory.token(factory.user(Role.EMPLOYER_VIEWER, org_id=acme))
    viewer = {"Authorization": f"Bearer {token}"}
    refused = client.get("/orgs/acme-schools/reports/business-review.pdf", headers=viewer)
    assert refused.status_code == 403 and "aggregates only" in refused.text


def test_business_review_charts_are_drawn_in_their_print_colours(
    client: TestClient, factory: Factory, acme: int, tmp_path: Path
) -> None:
    """WeasyPrint applies no page CSS inside inline SVG: without styles of their own, the bars
    are drawn black and the active-members line as a black filled shape."""
    factory.login(client, factory.user(Role.ACCOUNT_MANAGER, org_id=acme))
    response = client.get("/orgs/acme-schools/reports/business-review.pdf?month=2026-06")
    assert response.status_code == 200, response.text
    image = first_page_png(response.content, tmp_path)
    # Page 1 holds the activity chart: its bars are blue, and nothing else on the page is.
    assert has_colour(image, BAR_BLUE, tolerance=10) > 200
