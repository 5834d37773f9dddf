"""The support teammate: open the customer's org, read the diagnostics, copy the diagnostic
summary and file a support request carrying it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from playwright.sync_api import Page, expect

from browser.journey import screenshot, sign_in
from factories import Factory
from opsdata import PII, acme
from orgpulse.auth import Role


def test_copy_the_diagnostic_summary_into_a_support_request(
    page: Page, factory: Factory, frozen: datetime, artifacts: Path
) -> None:
    acme(factory)
    email = factory.user(Role.SUPPORT, email="sam@vendor.test")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(page, email)
    page.get_by_label("Organization").select_option(label="Acme Schools")
    page.get_by_role("button", name="Open").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme Schools")
    expect(page.locator(".pagehead .badge")).to_have_text("Fresh")
    page.goto("/orgs/acme-schools/diagnostics")
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme Schools — diagnostics")
    # tests/opsdata.py: the last sync failed yesterday; 3 of 10 uploads failed in 7 days.
    expect(page.locator("#rostering")).to_contain_text(
        "Last sync: failed at 2026-06-14 10:00 UTC — SIS timeout")
    expect(page.locator("#recording")).to_contain_text(
        "Uploads, last 7 days: 10 started, 3 failed — failure rate 30.0%.")
    shown = page.locator("main").inner_text()
    assert [secret for secret in PII if secret in shown] == []

    page.get_by_role("button", name="Copy diagnostic summary").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.locator("#diag-summary").input_value()
    lines = copied.splitlines()
    assert lines[0] == "OrgPulse diagnostics — acme-schools (org 1) at 2026-06-15 12:00 UTC"
    assert "[rostering: problem] last sync failed 2026-06-14 10:00 UTC: SIS timeout" in lines
    assert "  - 1× duplicate student id [id] for [name] <[email]>" in lines
    assert "[recording: warning] uploads 7d: 10 started, 3 failed (failure rate 30.0%)" in lines
    assert [secret for secret in PII if secret in copied] == []

    # Escalate: a support request whose description is the pasted summary.
    page.get_by_role("link", name="File a support request").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme Schools — support")
    page.get_by_label("Category").select_option("recording")
    page.get_by_label("Severity").select_option("high")
    description = page.get_by_label("What happened?")
    description.fill("Uploads fail for the customer's teachers; diagnostics below.\n\n")
    description.press("End")
    description.press("Control+V")
    expect(description).to_have_value(
        "Uploads fail for the customer's teachers; diagnostics below.\n\n" + copied)
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Request received")
    expect(page.locator(".tracking-id")).to_have_text("SR-2026-000001")
    page.get_by_role("link", name="Follow this request").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "SR-2026-000001 — recording (high)")
    expect(page.locator("main")).to_contain_text(
        "Status: open · filed 2026-06-15 12:00 UTC by sam")
    # The pasted summary reads as it was copied, line by line.
    assert page.locator("main section.card").first.locator("p").nth(1).inner_text() == (
        "Uploads fail for the customer's teachers; diagnostics below.\n\n" + copied.rstrip())
    expect(page.locator("main")).to_contain_text('"browser": "Chrome"')
    screenshot(page, artifacts, "e-support-request")
