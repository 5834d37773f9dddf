"""The account manager's daily health check: portfolio → a declining account → drill down →
create a follow-up → it is on the org page."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy import Engine, text

from alertdata import TODAY, snapshot
from browser.journey import screenshot, sign_in
from datasets import build_acme, build_lakeside
from factories import Factory
from orgpulse.auth import Role, find_user_id, grant_membership
from orgpulse.catalog import catalog_of
from orgpulse.core.tenancy import unscoped
from orgpulse.health.snapshots import backfill_snapshots


def test_daily_health_check_ends_in_a_follow_up(
    page: Page, factory: Factory, engine: Engine, frozen: datetime, artifacts: Path
) -> None:
    acme = build_acme(factory)
    lakeside = build_lakeside(factory)
    email = factory.user(Role.ACCOUNT_MANAGER, org_id=acme, email="sarah@vendor.test")
    with unscoped(engine) as conn:
        sarah = find_user_id(conn, email=email)
        conn.execute(text("UPDATE users SET display_name = 'Sarah Chen' WHERE user_id = :u"),
                     {"u": sarah})
        grant_membership(conn, user_id=sarah, org_id=lakeside, role=Role.ACCOUNT_MANAGER)
        # Today's scores as the snapshot job computes them: Acme is scored, Lakeside is not.
        backfill_snapshots(conn, catalog=catalog_of(factory.settings), now=frozen, days=1)
        scores = dict(conn.execute(text(
            "SELECT org_id, score FROM health_snapshots WHERE unit_id = 0 AND day = :d"),
            {"d": TODAY}).all())
    assert scores[lakeside] is None
    score = float(scores[acme])
    # Acme was at 78 a month ago and 70 a week ago: it is declining.
    snapshot(engine, acme, TODAY - timedelta(days=30), 78.0)
    snapshot(engine, acme, TODAY - timedelta(days=7), 70.0)
    change_30d, change_7d = f"{score - 78:+.1f}", f"{score - 70:+.1f}"
    assert change_30d.startswith("-") and change_7d.startswith("-")

    sign_in(page, email)
    page.get_by_role("link", name="Portfolio", exact=True).click()
    expect(page.get_by_role("heading", name="Portfolio")).to_be_visible()
    expect(page.get_by_text("2 accounts shown")).to_be_visible()
    rows = page.locator("table.data").first.locator("tbody tr")
    expect(rows).to_have_count(2)
    acme_row = rows.filter(has=page.get_by_role("link", name="Acme Schools"))
    cells = acme_row.locator("td")
    expect(cells.nth(2)).to_have_text("Sarah Chen")
    expect(cells.nth(3)).to_have_text(f"{score:.0f}")
    expect(cells.nth(4).locator("span.down")).to_have_text(change_7d)
    expect(cells.nth(5).locator("span.down")).to_have_text(change_30d)
    # 3 of yesterday's 20 uploads failed (15%, the "bad" threshold): the largest shortfall.
    expect(cells.nth(6)).to_have_text("Upload failure rate")
    expect(rows.filter(has=page.get_by_role("link", name="Lakeside District")).locator("td")
           .nth(3)).to_have_text("n/a")
    screenshot(page, artifacts, "a-portfolio")

    # Drill into the declining account: its health, what drives it, then its overview.
    acme_row.get_by_role("link", name="Acme Schools").click()
    expect(page).to_have_url("/orgs/acme-schools/health")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Acme Schools — implementation health")
    expect(page.locator(".score-card .value")).to_have_text(f"{score:.0f}")
    expect(page.locator(".score-card .trend")).to_have_text(
        f"{change_7d} in 7 days · {change_30d} in 30 days")
    expect(page.locator("ol.drivers").last.locator("li").first).to_contain_text(
        "Upload failure rate — scoring 0 of 100.")
    page.get_by_role("link", name="Overview").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme Schools")
    panel = page.locator(".follow-ups-panel")
    expect(panel).to_contain_text("0 open")
    expect(panel).to_contain_text("No open follow-ups.")

    panel.get_by_role("link", name="New follow-up").click()
    expect(page.get_by_label("Owner")).to_have_value(str(sarah))
    expect(page.get_by_label("Due date")).to_have_value("2026-06-22")
    page.get_by_label("Title").fill("Call the principal about the score drop")
    page.get_by_label("Due date").fill("2026-06-19")
    page.get_by_label("Note").fill("Submissions wait 10 days for scoring; offer a training.")
    page.get_by_role("button", name="Create follow-up").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Acme Schools — follow-up: Call the principal about the score drop")
    expect(page.locator("main")).to_contain_text(
        "Status: open · due 2026-06-19 · owner Sarah Chen")

    page.goto("/orgs/acme-schools")
    panel = page.locator(".follow-ups-panel")
    expect(panel).to_contain_text("1 open")
    row = panel.locator("tr.follow-up")
    expect(row).to_have_count(1)
    expect(row.locator("td")).to_have_text(
        ["Call the principal about the score drop", "Sarah Chen", "2026-06-19", "open"])
    panel.scroll_into_view_if_needed()
    screenshot(page, artifacts, "a-org-follow-up")
