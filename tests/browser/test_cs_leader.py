"""The VP of customer success's monthly export: the portfolio as of last month's end, its CSV,
and one account's business review PDF."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy import Engine, text

from browser.journey import download, screenshot, sign_in
from datasets import build_acme, build_lakeside
from factories import Factory
from orgpulse.auth import Role
from orgpulse.catalog import catalog_of
from orgpulse.core.tenancy import TenantScope, scoped
from orgpulse.health.snapshots import snapshot_org
from reports.helpers import pdf_text

MAY_END = date(2026, 5, 31)


def test_monthly_export_of_the_portfolio_and_a_business_review(
    page: Page, factory: Factory, engine: Engine, frozen: datetime, artifacts: Path,
    tmp_path: Path,
) -> None:
    acme = build_acme(factory)
    lakeside = build_lakeside(factory)
    # The scores of 31 May as the snapshot job computed them that day (the monthly view reads
    # each account's last snapshot of the month).
    catalog = catalog_of(factory.settings)
    with scoped(engine, TenantScope.of([acme, lakeside])) as conn:
        for org in (acme, lakeside):
            snapshot_org(conn, catalog=catalog, org_id=org, day=MAY_END)
        may_scores = dict(conn.execute(text(
            "SELECT org_id, score FROM health_snapshots WHERE unit_id = 0 AND day = :d"),
            {"d": MAY_END}).all())
    assert may_scores[lakeside] is None  # Lakeside had too little data to be scored in May
    score = float(may_scores[acme])
    sign_in(page, factory.user(Role.CS_LEADER, email="marcus@vendor.test"))

    page.get_by_role("link", name="Portfolio", exact=True).click()
    page.get_by_label("Month").fill("2026-05")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url("/portfolio?band=&plan=&manager=&q=&month=2026-05")
    expect(page.locator(".pagehead .hint")).to_have_text("as of the end of 2026-05 (2026-05-31)")
    rows = page.locator("table.data").first.locator("tbody tr")
    expect(rows.locator("td:first-child")).to_have_text(["Acme Schools", "Lakeside District"])
    expect(rows.locator("td:nth-child(4)")).to_have_text([f"{score:.0f}", "n/a"])
    screenshot(page, artifacts, "b-portfolio-month")

    exported = download(page, link="Download CSV", url="/portfolio.csv?month=2026-05&sort=score")
    assert exported.filename == "all-orgs_portfolio_2026-05-31.csv"
    table = list(csv.DictReader(io.StringIO(exported.body.decode())))
    assert [(r["org_name"], r["slug"], r["score"], r["band"], r["scored_on"]) for r in table] == [
        ("Acme Schools", "acme-schools", f"{score:.1f}", "watch", "2026-05-31"),
        ("Lakeside District", "lakeside-district", "", "insufficient_data", "2026-05-31"),
    ]

    page.get_by_role("link", name="Acme Schools").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Acme Schools — implementation health")
    # The link gives the last full month: May, today being 15 June.
    review = download(page, link="Business review PDF",
                      url="/orgs/acme-schools/reports/business-review.pdf")
    # Named by the day it was made (the clock's today); about May, with the portfolio's score.
    assert review.filename == "acme-schools_business-review_2026-06-15.pdf"
    assert review.body.startswith(b"%PDF-")
    words = pdf_text(review.body, tmp_path)
    assert "Acme Schools — business review May 2026 (2026-05-01 to 2026-05-31)" in words
    assert f"Health score {score:.1f} / 100 · Watch" in words
    # As of 31 May (tests/datasets.py): 5 members; t1, s1 (26 May) and t2 (31 May) active in
    # the last 7 days; t3 (16-17 May) and s2 (6 May) too in 30 days; 7 events in May: 2 logins,
    # 2 assignments, 2 submissions, 1 scored. Nothing of Lakeside's.
    assert ("Key figures, 2026-05-01 to 2026-05-31 5 3 5 Members Active, last 7 days Active, "
            "last 30 days 7 Events in the period") in words
    assert "Lakeside" not in words
    screenshot(page, artifacts, "b-account-reviewed")
