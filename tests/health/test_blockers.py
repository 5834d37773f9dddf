"""Which blockers are active: the pure decision, then the health API and page on crafted data."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from datasets import build_acme, build_lakeside, in_org, track
from factories import Factory
from orgpulse.auth import Role
from orgpulse.catalog import Blocker
from orgpulse.core.tenancy import TenantScope, scoped
from orgpulse.health import active_blockers
from orgpulse.metrics import MetricValue

ROSTER = Blocker(key="rostering", label="Rostering has never synced", action="Sync.",
                 missing_events=("Roster Sync Completed", "Roster Sync Started"))
UPLOADS = Blocker(key="uploads", label="Many uploads fail", action="Diagnose.",
                  runbook="/docs/runbooks/upload-failures", metric="upload_failure_rate")
USAGE = Blocker(key="usage", label="Few teachers assign work", action="Train.",
                metric="teacher_usage")
BLOCKERS = {"rostering": ROSTER, "uploads": UPLOADS, "usage": USAGE}


def value(key: str, v: float | None, *, status: str = "ok", direction: str = "lower",
          bad: float = 0.15) -> MetricValue:
    return MetricValue(
        key=key, label=key.replace("_", " ").capitalize(), explanation="e", kind="ratio",
        format="percent", direction=direction, value=v, numerator=None, denominator=None,
        window_start=date(2026, 6, 9), window_end=date(2026, 6, 15), status=status, bad=bad,
    )


def keys(metrics: list[MetricValue], totals: dict[str, int]) -> list[str]:
    return [b.key for b in active_blockers(BLOCKERS, metrics=metrics, event_totals=totals)]


@pytest.mark.parametrize(
    ("totals", "active"),
    [
        ({}, True),  # never received
        ({"Roster Sync Completed": 0}, True),
        ({"Roster Sync Started": 1}, False),  # any of the names is enough
        ({"Roster Sync Completed": 12}, False),
    ],
)
def test_missing_events_blocker(totals: dict[str, int], active: bool) -> None:
    assert keys([], totals) == (["rostering"] if active else [])


@pytest.mark.parametrize(
    ("upload", "active"),
    [
        (value("upload_failure_rate", 0.15), True),  # at the bad threshold
        (value("upload_failure_rate", 0.4), True),
        (value("upload_failure_rate", 0.1499), False),
        (value("upload_failure_rate", 0.5, status="insufficient_data"), False),
        (value("upload_failure_rate", None, status="no_data"), False),
    ],
)
def test_metric_blocker_fires_on_the_bad_side_of_its_threshold(
    upload: MetricValue, active: bool
) -> None:
    assert keys([upload], {"Roster Sync Completed": 1}) == (["uploads"] if active else [])


def test_higher_is_better_metric_fires_at_or_below_bad() -> None:
    low = value("teacher_usage", 0.2, direction="higher", bad=0.2)
    high = value("teacher_usage", 0.21, direction="higher", bad=0.2)
    assert keys([low], {"Roster Sync Completed": 1}) == ["usage"]
    assert keys([high], {"Roster Sync Completed": 1}) == []
    # A blocker whose metric was not computed raises nothing.
    assert keys([], {"Roster Sync Completed": 1}) == []


def test_blockers_keep_catalog_order_and_explain_themselves() -> None:
    found = active_blockers(
        BLOCKERS, metrics=[value("upload_failure_rate", 0.25)], event_totals={}
    )
    assert [(b.key, b.org_level) for b in found] == [("rostering", True), ("uploads", False)]
    assert found[0].reason == (
        "No “Roster Sync Completed”, “Roster Sync Started” event has ever been received from "
        "this organization."
    )
    assert found[1].reason == (
        "Upload failure rate is 25% (2026-06-09 – 2026-06-15); 15% or more needs attention."
    )
    assert (found[1].action, found[1].runbook) == ("Diagnose.", "/docs/runbooks/upload-failures")


# ---------------------------------------------------------------- through the health service
def blockers_of(client: TestClient, factory: Factory, org: int, slug: str,
                query: str = "") -> list[str]:
    factory.login(client, factory.user(Role.ORG_ADMIN, org_id=org))
    response = client.get(f"/api/v1/orgs/{slug}/health{query}")
    assert response.status_code == 200, response.text
    return [b["key"] for b in response.json()["blockers"]]


def test_acme_never_rostered_nor_connected_and_fails_uploads(
    client: TestClient, factory: Factory, frozen: datetime
) -> None:
    acme = build_acme(factory)
    # No roster sync and no LMS event ever; logins exist; uploads 3/20 = 15% = "bad" (ok data).
    assert blockers_of(client, factory, acme, "acme") == ["rostering", "lms", "upload_failures"]
    body = client.get("/api/v1/orgs/acme/health").json()
    upload = body["blockers"][-1]
    assert upload["reason"] == (
        "Upload failure rate is 15% (2026-06-09 – 2026-06-15); 15% or more needs attention."
    )
    assert (upload["runbook"], upload["org_level"]) == ("/docs/runbooks/upload-failures", False)
    assert body["blockers"][0]["action"].startswith("Connect the student information system")
    # North: s1's 3/20 uploads. South: no uploads (insufficient data): only org-level blockers.
    assert blockers_of(client, factory, acme, "acme", "?unit=acme-north") == [
        "rostering", "lms", "upload_failures"
    ]
    assert blockers_of(client, factory, acme, "acme", "?unit=acme-south") == ["rostering", "lms"]


def test_lakeside_synced_long_ago_and_uploads_below_threshold(
    client: TestClient, factory: Factory, frozen: datetime
) -> None:
    lakeside = build_lakeside(factory)
    # Rostering synced 300 days ago (all time counts), t1 signed in, uploads 2/20 = 10% < 15%.
    assert blockers_of(client, factory, lakeside, "lakeside") == ["lms"]


def test_org_that_never_signed_in_and_one_with_nothing_to_fix(
    client: TestClient, factory: Factory, frozen: datetime, engine
) -> None:
    quiet = factory.org("quiet", "Quiet Schools")
    events = [track("a1", "Roster Sync Completed", 2), track("a1", "LMS Connected", 2),
              # 1 failure of 4 uploads: 25%, but below the minimum of 20 uploads.
              *[track("s1", "Upload Started", 1, upload_id=f"u{i}") for i in range(4)],
              track("s1", "Upload Failed", 1, upload_id="u0")]
    assert not factory.send([in_org("quiet", e) for e in events]).rejections
    assert blockers_of(client, factory, quiet, "quiet") == ["sign_in"]
    assert not factory.send([in_org("quiet", track("t1", "Login", 0))]).rejections
    assert blockers_of(client, factory, quiet, "quiet") == []
    # All-time totals come from the rollup: without its rows the org has "never" synced.
    with scoped(engine, TenantScope.of([quiet])) as conn:
        conn.execute(text("DELETE FROM rollup_daily_events WHERE name = 'Roster Sync Completed'"))
    assert blockers_of(client, factory, quiet, "quiet") == ["rostering"]


def test_health_page_shows_blockers_and_the_new_metrics(
    client: TestClient, factory: Factory, frozen: datetime
) -> None:
    acme = build_acme(factory)
    factory.login(client, factory.user(Role.ORG_ADMIN, org_id=acme))
    html = client.get("/orgs/acme/health").text
    start = html.index("<h2>Top blockers</h2>")
    card = html[start:html.index("</section>", start)]
    labels = ["Rostering has never synced", "No LMS connected", "Many uploads fail"]
    positions = [card.index(f"<strong>{label}</strong>") for label in labels]
    assert positions == sorted(positions)
    assert "No “LMS Connected” event has ever been received from this organization." in card
    assert '<a href="/docs/runbooks/rostering">Runbook</a>' in card
    assert "Connect the learning management system" in card
    assert "checked for the whole organization" not in card
    # The quality flags are in the metric grid.
    assert ">Resubmission requests</a>" in html
    assert ">Required standards covered</a>" in html
    assert "No required standards are configured for this organization" in html
    north = client.get("/orgs/acme/health?unit=acme-north").text
    assert ("Blockers about events never received (such as rostering or the LMS connection) are"
            " checked for the whole organization, not only the selected unit.") in north


def test_health_page_empty_blockers_state(
    client: TestClient, factory: Factory, frozen: datetime
) -> None:
    org = factory.org("calm", "Calm Schools")
    events = [track("a1", "Roster Sync Completed", 2), track("a1", "LMS Connected", 2),
              track("t1", "Login", 1)]
    assert not factory.send([in_org("calm", e) for e in events]).rejections
    factory.login(client, factory.user(Role.ORG_ADMIN, org_id=org))
    html = client.get("/orgs/calm/health").text
    assert ("No blockers: nothing in the catalog's list of blockers applies to this "
            "organization right now.") in html
