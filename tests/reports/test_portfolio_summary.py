"""The portfolio summary PDF over the hand-written snapshots of tests/dashboards/test_portfolio.py:
Alpha (growth) 60 and Bravo (starter) 75 at the end of May, Charlie with no score; Sarah is the
account manager of Alpha and Bravo."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from tests.dashboards.test_portfolio import accounts  # noqa: F401  (the fixture)
from tests.reports.helpers import first_page_png, has_colour, pdf_text

from factories import Factory
from orgpulse.auth import Role, grant_membership
from orgpulse.core.tenancy import unscoped

BAND_WATCH = (168, 100, 0)  # .band-watch in the print stylesheet


@pytest.fixture
def sarah(factory: Factory, engine: Engine, accounts: dict[str, int]) -> str:  # noqa: F811
    email = factory.user(Role.ACCOUNT_MANAGER, email="sarah@example.test")
    with unscoped(engine) as conn:
        uid = conn.execute(text("SELECT user_id FROM users WHERE email = :e"),
                           {"e": email}).scalar_one()
        conn.execute(text("UPDATE users SET display_name = 'Sarah' WHERE user_id = :u"),
                     {"u": uid})
        for ext in ("a", "b"):
            grant_membership(conn, user_id=uid, org_id=accounts[ext], role=Role.ACCOUNT_MANAGER)
    return email


def test_vp_summary_of_may_has_every_account_and_the_manager_figures(
    client: TestClient, factory: Factory, sarah: str, tmp_path: Path, owner: Engine
) -> None:
    factory.login(client, factory.user(Role.CS_LEADER, email="vp@example.test"))
    response = client.get("/portfolio/summary.pdf?month=2026-05")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == (
        'attachment; filename="portfolio_summary_2026-06-15.pdf"')
    words = pdf_text(response.content, tmp_path)
    assert "Portfolio summary May 2026 · health as of 2026-05-31" in words
    # Bands at the end of May: Bravo healthy (75), Alpha watch (60), Charlie unscored.
    # (pdftotext reads the KPI tiles row by row: figures and labels interleave.)
    assert "3 1 Accounts Healthy 1 0 Watch At risk 1 Insufficient data" in words
    # By account manager: Sarah's two accounts average (60 + 75) / 2 = 67.5.
    assert "Sarah 2 67.5 0 0" in words
    assert "Unassigned 1 – 0 0" in words
    # Top and bottom, side by side: Bravo 75 / Alpha 60, then Alpha 60 / Bravo 75.
    assert "Bravo 75.0 Alpha 60.0 Alpha 60.0 Bravo 75.0" in words
    # Every account by name, with plan, managers, score and band.
    assert words.index("Alpha growth Sarah 60.0 Watch") < words.index(
        "Bravo starter Sarah 75.0 Healthy") < words.index("Charlie")
    image = first_page_png(response.content, tmp_path)
    assert image.size == (414, 585)
    assert has_colour(image, BAND_WATCH, tolerance=10) > 5  # the watch band figure
    with owner.begin() as conn:
        row = conn.execute(text(
            "SELECT action, export_kind, target, org_id, details->>'period' FROM audit_records"
            " WHERE action = 'export.pdf'")).one()
    assert tuple(row) == ("export.pdf", "pdf", "portfolio", None, "2026-05")


def test_account_manager_summary_holds_only_their_accounts(
    client: TestClient, factory: Factory, sarah: str, tmp_path: Path
) -> None:
    factory.login(client, sarah)
    response = client.get("/portfolio/summary.pdf")  # default: the last full month, May
    assert response.status_code == 200
    words = pdf_text(response.content, tmp_path)
    assert "May 2026 · health as of 2026-05-31 · accounts visible to Sarah" in words
    assert "Alpha growth Sarah 60.0 Watch" in words and "Bravo starter Sarah 75.0" in words
    assert "Charlie" not in words and "Unassigned" not in words


def test_month_in_progress_is_as_of_today_and_bad_months_are_named(
    client: TestClient, factory: Factory, sarah: str, tmp_path: Path
) -> None:
    factory.login(client, sarah)
    words = pdf_text(client.get("/portfolio/summary.pdf?month=2026-06").content, tmp_path)
    # Today's snapshots: Alpha 80 (healthy), Bravo 40 (at risk).
    assert "June 2026 · health as of 2026-06-15" in words
    assert "Alpha growth Sarah 80.0 Healthy" in words
    assert "Bravo starter Sarah 40.0 At risk" in words
    bad = client.get("/portfolio/summary.pdf?month=June")
    assert bad.status_code == 422 and "month must look like 2026-05" in bad.text
    assert client.get("/portfolio/summary.pdf?month=2026-07").status_code == 422


def test_anonymous_is_sent_to_sign_in(client: TestClient, accounts: dict[str, int]) -> None:  # noqa: F811
    response = client.get("/portfolio/summary.pdf?month=2026-05", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/portfolio/summary.pdf%3Fmonth%3D2026-05"
