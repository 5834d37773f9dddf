"""The district admin's rollout: choose the rollout mode, read the deployment checklist, and
see the onboarding wizard's rostering step complete itself after a roster sync."""

from __future__ import annotations

import base64
from datetime import datetime
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from browser.journey import screenshot, sign_in
from datasets import at, build_acme, in_org
from factories import Factory
from orgpulse.auth import Role


def test_rollout_mode_checklist_and_a_step_completed_by_a_roster_sync(
    page: Page, factory: Factory, frozen: datetime, artifacts: Path
) -> None:
    acme = build_acme(factory)
    sign_in(page, factory.user(Role.ORG_ADMIN, org_id=acme, email="admin@acme.test"))
    page.get_by_role("link", name="Onboarding").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Acme Schools — rollout and onboarding")
    rollout, wizard, checklist = (page.locator(f"section#{s}")
                                  for s in ("rollout", "wizard", "checklist"))
    expect(rollout).to_contain_text("No rollout mode chosen yet.")
    expect(wizard.get_by_role("heading")).to_have_text("Guided setup — 2 of 7 steps done")
    expect(wizard).to_contain_text("Next: step 2, Choose rollout mode")

    # A pilot in the north school, launching on 1 July.
    rollout.get_by_label("Mode").select_option(label="Pilot (1–3 schools or selected teachers)")
    rollout.get_by_label("Pilot schools").fill("acme-north")
    rollout.get_by_label("Launch date").fill("2026-07-01")
    rollout.get_by_role("button", name="Save rollout mode").click()
    expect(rollout.locator("p").first).to_have_text(
        "Pilot (1–3 schools or selected teachers) · launch 2026-07-01 · pilot schools: acme-north")
    expect(wizard.get_by_role("heading")).to_have_text("Guided setup — 3 of 7 steps done")
    expect(step(wizard, 2)).to_have_text(
        ["2", "Choose rollout mode", "Complete", "Yes: rollout mode pilot"])
    # Pilot teachers are the north school's: t1 and t2 have signed in (tests/datasets.py).
    expect(step(wizard, 7)).to_have_text(
        ["7", "Invite pilot teachers", "Complete", "Yes: 2 pilot teacher(s) signed in"])
    expect(checklist.get_by_role("heading")).to_have_text(
        "Deployment checklist — 2 of 10 complete (20%)")
    expect(checklist).to_contain_text("A pilot focuses on early activation")
    sync_item = checklist.locator("tr#item-rostering td")
    expect(sync_item.nth(1)).to_have_text(
        "★ Connect rostering (Clever/ClassLink) or manual import")
    expect(sync_item.nth(2)).to_contain_text(
        "Not started Completes by itself on a 'Roster Sync Completed' event.")
    rostering = wizard.locator("tr#step-rostering")
    expect(rostering.locator("td").nth(2)).to_have_text("Not started")
    expect(rostering.locator("td").nth(3)).to_have_text(
        "Waiting: a 'Roster Sync Completed' event was received")
    expect(rostering.get_by_role("button", name="Mark complete")).to_be_disabled()
    rostering.get_by_role("button", name="Start").click()
    expect(rostering.locator("td").nth(2)).to_have_text("Started")

    # The SIS sends its first successful roster sync through the Segment API.
    key = factory.write_key()
    sent = page.request.post("/v1/batch", headers={
        "Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}, data={
        "batch": [in_org("acme", {"type": "track", "userId": "t1", "messageId": "sync-1",
                                  "event": "Roster Sync Completed", "timestamp": at(0)})]})
    assert sent.status == 200, sent.text()
    page.reload()
    expect(wizard.get_by_role("heading")).to_have_text("Guided setup — 4 of 7 steps done")
    expect(wizard).to_contain_text("Next: step 3, Configure SSO/SCIM")
    expect(step(wizard, 4)).to_have_text([
        "4", "Connect rostering provider", "Complete",
        "Yes: first 'Roster Sync Completed' event on 2026-06-15"])
    expect(rostering.locator("td").nth(4)).to_have_text(
        "started by admin@acme.test 2026-06-15 12:00\ncompleted automatically",
        use_inner_text=True)
    expect(rostering.get_by_role("button")).to_have_count(0)
    expect(checklist.get_by_role("heading")).to_have_text(
        "Deployment checklist — 3 of 10 complete (30%)")
    expect(sync_item.nth(2)).to_have_text(
        "Complete\nCompleted automatically: first 'Roster Sync Completed' event on 2026-06-15",
        use_inner_text=True)
    wizard.scroll_into_view_if_needed()
    screenshot(page, artifacts, "c-onboarding-wizard")


def step(wizard: Locator, number: int) -> Locator:
    """The first four cells (number, step, status, system check) of a wizard row."""
    return wizard.locator("tbody tr").nth(number - 1).locator("td:nth-child(-n+4)")
