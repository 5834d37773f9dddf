"""The employer viewer: aggregates only, small groups shown as hidden, and no export until the
Business Associate Agreement is accepted."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

from playwright.sync_api import Page, expect

from browser.journey import download, screenshot, sign_in
from dashboards.test_aggregate import A, B, C, D, build, northwind_tracks
from factories import Factory
from orgpulse.auth import Role

HIDDEN = "—"


def show_may_by_location(page: Page) -> None:
    page.get_by_label("Period").select_option("2026-05")
    page.get_by_label("Breakdown").select_option(label="By location (unit)")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url("/orgs/northwind/aggregate?period=2026-05&breakdown=unit&tab=summary")


def test_small_groups_are_hidden_and_export_waits_for_the_baa(
    page: Page, factory: Factory, frozen: datetime, artifacts: Path
) -> None:
    # Northwind's 65 people: aberdeen 12, bristol 20, cardiff 28, dover 5 (below k = 10).
    org = build(factory, "northwind", {A: 12, B: 20, C: 28, D: 5}, northwind_tracks())
    email = factory.user(Role.EMPLOYER_VIEWER, org_id=org, email="hr@northwind.test")
    sign_in(page, email)
    expect(page).to_have_url("/orgs/northwind/aggregate")
    expect(page.get_by_role("heading", level=1)).to_have_text("Northwind · aggregate view")
    show_may_by_location(page)
    rows = page.locator('tr[data-measure="cohort"]')
    expect(rows.locator("td:nth-child(2)")).to_have_text(
        ["Whole organization", A, B, C, D])
    # Dover (5) is below k; aberdeen (12, the smallest other unit) is hidden too, or
    # 65 - 20 - 28 - 12 would give dover's 5 away.
    expect(rows.locator("td:nth-child(3)")).to_have_text(["65", HIDDEN, "20", "28", HIDDEN])
    expect(rows.locator("td.hidden").first).to_have_attribute(
        "title", "hidden to protect privacy (fewer than 10 people, or to keep another hidden"
        " number from being worked out)")
    # Weekly active: W19 65, W20 9, W21 48, W22 28 of 65 → 150 / 260.
    expect(page.locator("#wau-average")).to_have_text("57.7%")
    expect(page.get_by_role("link", name="Export CSV")).to_have_count(0)
    export_url = "/orgs/northwind/aggregate.csv?period=2026-05&breakdown=unit&tab=summary"
    screenshot(page, artifacts, "d-aggregate-suppressed")
    # The export's address, typed in (or bookmarked), is refused too, saying why.
    refused = page.goto(export_url)
    assert refused is not None and refused.status == 403
    expect(page.locator("main")).to_contain_text(
        "accept the Business Associate Agreement (version 2026-01) for this organization before"
        " exporting: open /orgs/northwind/baa")
    page.go_back()

    page.get_by_role("link", name="Accept the BAA to export").click()
    state = page.locator("#baa-state")
    expect(state).to_have_text("Not accepted yet: exports stay disabled until you accept.")
    page.get_by_role("button", name="Accept BAA version 2026-01").click()
    # Stamped by the app's clock (frozen at datasets.NOW), like every other time it shows.
    expect(state).to_have_text(
        f"Accepted by {email} on 2026-06-15 12:00 UTC. You can export from the aggregate view.")
    state.get_by_role("link", name="aggregate view").click()
    show_may_by_location(page)
    expect(page.get_by_role("link", name="Accept the BAA to export")).to_have_count(0)
    exported = download(page, link="Export CSV", url=export_url)
    assert exported.filename == "northwind_aggregate_2026-05_summary.csv"
    rows = list(csv.reader(io.StringIO(exported.body.decode())))
    assert rows[0] == ["org_id", "org_name", "period", "section", "measure", "unit", "people",
                       "percent", "value"]
    assert {r[1] for r in rows[1:]} == {"Northwind"}
    # The same cells as the page, hidden ones as the same mark.
    assert [r[4:8] for r in rows[1:-1]] == [
        ["cohort", "(organization)", "65", ""], ["cohort", A, HIDDEN, HIDDEN],
        ["cohort", B, "20", ""], ["cohort", C, "28", ""], ["cohort", D, HIDDEN, HIDDEN],
        ["active", "(organization)", "65", "100.0"], ["active", A, HIDDEN, HIDDEN],
        ["active", B, "20", "100.0"], ["active", C, "28", "100.0"], ["active", D, HIDDEN, HIDDEN],
        ["wau_average", "(organization)", "", "57.7"],
    ]
    assert rows[-1][3:5] == ["legend", HIDDEN]
    screenshot(page, artifacts, "d-aggregate-exported")
