"""Health score of the hand-built Acme dataset (tests/datasets.py), computed by hand."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from datasets import NOW, at, frozen_clock
from factories import Factory
from orgpulse.auth import Role
from orgpulse.catalog import load_catalog
from orgpulse.core.tenancy import TenantScope, scoped
from orgpulse.health.snapshots import refresh_snapshots

# Included: activation 2/3 → (0.667-0.4)/0.4 = 66.67; usage 2/3 → 100 (good 0.6);
# upload failures 0.15 → 0 (bad 0.15). Excluded: scoring timeliness (3 < 10 judged) and the
# checklist (no data). Coverage 65/100; score = (25·66.67 + 25·100 + 15·0) / 65 = 64.1.
EXPECTED_SCORE = round((25 * 200 / 3 + 25 * 100 + 15 * 0) / 65, 1)


def test_health_score_is_explained_by_its_components(
    client: TestClient, factory: Factory, acme: int
) -> None:
    factory.login(client, factory.user(Role.PLATFORM_ADMIN))
    body = client.get("/api/v1/orgs/acme/health").json()
    health = body["health"]
    assert EXPECTED_SCORE == 64.1
    assert (health["score"], health["band"], health["coverage"]) == (64.1, "watch", 0.65)
    assert health["excluded"] == ["scoring_timeliness", "checklist_completion"]
    parts = {c["key"]: c for c in health["components"]}
    assert parts["teacher_activation"]["normalized"] == pytest.approx(200 / 3, abs=1e-4)
    assert parts["upload_failure_rate"]["effective_weight"] == pytest.approx(15 / 65, abs=1e-6)
    assert parts["scoring_timeliness"]["reason_excluded"].startswith("Needs at least 10")
    # Largest weighted shortfalls: uploads 15/65·100 = 23.1, activation 25/65·33.3 = 12.8.
    assert [d["key"] for d in health["drivers"]] == ["upload_failure_rate", "teacher_activation"]
    assert health["drivers"][0]["action"].startswith("Run the recording diagnostics")
    assert (body["day"], body["profile"]) == ("2026-06-15", "default")


def test_weights_are_hidden_from_everyone_but_platform_admins(
    client: TestClient, factory: Factory, acme: int
) -> None:
    factory.login(client, factory.user(Role.ORG_ADMIN, org_id=acme))
    health = client.get("/api/v1/orgs/acme/health").json()["health"]
    assert health["score"] == EXPECTED_SCORE
    assert all("weight" not in c and "effective_weight" not in c for c in health["components"])
    factory.login(client, factory.user(Role.MEMBER, org_id=acme))
    assert client.get("/api/v1/orgs/acme/health").status_code == 403


def test_snapshots_give_the_trend_and_refresh_only_when_needed(
    client: TestClient, factory: Factory, engine, acme: int
) -> None:
    catalog = load_catalog()
    with scoped(engine, TenantScope.of([])) as conn:
        assert refresh_snapshots(conn, catalog=catalog, now=NOW) == "refreshed 1 orgs"
    with scoped(engine, TenantScope.of([])) as conn:
        assert refresh_snapshots(conn, catalog=catalog, now=NOW) == "refreshed 0 orgs"
    # A quiet org is still re-scored once its local day changes (a quiet day changes a score).
    with scoped(engine, TenantScope.of([])) as conn:
        tomorrow = NOW + timedelta(days=1)
        assert refresh_snapshots(conn, catalog=catalog, now=tomorrow) == "refreshed 1 orgs"
    with scoped(engine, TenantScope.of([acme])) as conn:
        conn.execute(text("DELETE FROM health_snapshots WHERE day > :d"), {"d": NOW.date()})
    with scoped(engine, TenantScope.of([acme])) as conn:
        rows = conn.execute(
            text("SELECT unit_id, day, score, status FROM health_snapshots ORDER BY unit_id")
        ).all()
        # Seven days ago the org scored 80: the 7-day change is the difference.
        conn.execute(
            text(
                "INSERT INTO health_snapshots (org_id, day, unit_id, score, status, profile,"
                " components) VALUES (:o, :d, 0, 80, 'healthy', 'default', '[]')"
            ),
            {"o": acme, "d": (NOW - timedelta(days=7)).date()},
        )
    day = NOW.date()
    assert (rows[0][0], rows[0][1], float(rows[0][2]), rows[0][3]) == (
        0, day, EXPECTED_SCORE, "watch"
    )
    assert len(rows) == 3  # the org and its two schools
    factory.login(client, factory.user(Role.PLATFORM_ADMIN))
    trend = client.get("/api/v1/orgs/acme/health?weeks=2").json()["trend"]
    assert trend["change_7d"] == round(EXPECTED_SCORE - 80, 1)
    assert trend["change_30d"] is None
    assert len(trend["points"]) == 14
    assert trend["points"][-8] == [str(day - timedelta(days=7)), 80.0]
    assert trend["points"][-1] == [str(day), EXPECTED_SCORE]


def test_unit_admin_sees_their_school_only(
    client: TestClient, factory: Factory, engine, acme: int
) -> None:
    with scoped(engine, TenantScope.of([acme])) as conn:
        north = conn.execute(
            text("SELECT unit_id FROM units WHERE external_id = 'acme-north'")
        ).scalar_one()
    factory.login(client, factory.user(Role.UNIT_ADMIN, org_id=acme, unit_ids=(north,)))
    body = client.get("/api/v1/orgs/acme/health").json()
    # North: activation 1/2 (< 3 teachers: excluded), usage 1/2 (excluded), timeliness
    # excluded, uploads 3/20 → 0: only 15 of 100 weight → insufficient data.
    assert (body["health"]["score"], body["health"]["band"]) == (None, "insufficient_data")
    assert client.get("/api/v1/orgs/acme/health?unit=acme-south").status_code == 422




def test_health_page_shows_score_drivers_and_reasons(
    client: TestClient, factory: Factory, acme: int
) -> None:
    factory.login(client, factory.user(Role.ORG_ADMIN, org_id=acme))
    page = client.get("/orgs/acme/health")
    assert page.status_code == 200
    html = page.text
    assert '<div class="score watch"><span class="value">64</span>' in html
    # Drivers in order, with their actions.
    assert html.index("<strong>Upload failure rate</strong>") < html.index(
        "<strong>Teachers activated</strong>"
    )
    assert "Run the recording diagnostics" in html
    # Every left-out part says why; weights are not shown to an org admin.
    assert "Left out: Needs at least 10 to be meaningful; there are 3." in html
    assert (
        "Left out: Available once a rollout mode is chosen or the checklist is in use." in html
    )
    assert "<th class=\"num\">Weight</th>" not in html
    factory.login(client, factory.user(Role.PLATFORM_ADMIN))
    assert "<th class=\"num\">Weight</th>" in client.get("/orgs/acme/health").text


def test_health_page_filters_by_unit_and_date_range(
    client: TestClient, factory: Factory, acme: int
) -> None:
    factory.login(client, factory.user(Role.ORG_ADMIN, org_id=acme))
    html = client.get("/orgs/acme/health?unit=acme-north&from=2026-05-16&to=2026-05-17").text
    assert '<option value="acme-north" selected>north</option>' in html
    assert "All metrics, 2026-05-16 to 2026-05-17" in html
    # North in that window: no assessments (the two then were t3's, in the south).
    metrics = client.get(
        "/api/v1/orgs/acme/metrics?unit=acme-north&from=2026-05-16&to=2026-05-17"
    ).json()["metrics"]
    assert {m["key"]: m["value"] for m in metrics}["assessments_assigned_30d"] == 0


def test_employers_are_scored_with_their_own_profile(
    client: TestClient, factory: Factory
) -> None:
    clock = frozen_clock()
    next(clock)
    try:
        factory.send([{"type": "group", "groupId": "nw", "traits": {"name": "Northwind",
                                                                   "kind": "employer"}}])
        people = [{"type": "identify", "userId": f"e{i}", "traits": {"role": "employee"},
                   "context": {"groupId": "nw"}, "timestamp": at(40)} for i in range(10)]
        # 7 of 10 employees sign in 3 times each within 14 days; 2 failed sign-ins.
        logins = [{"type": "track", "userId": f"e{i}", "event": "Login", "timestamp": at(d),
                   "context": {"groupId": "nw"}} for i in range(7) for d in (1, 3, 5)]
        fails = [{"type": "track", "userId": "e0", "event": "Login Failed", "timestamp": at(2),
                  "context": {"groupId": "nw"}} for _ in range(2)]
        assert not factory.send(people + logins + fails).rejections
        factory.login(client, factory.user(Role.PLATFORM_ADMIN))
        body = client.get("/api/v1/orgs/northwind/health").json()
    finally:
        clock.close()
    failure_rate = 2 / 23
    login_part = (failure_rate - 0.2) / (0.02 - 0.2) * 100
    # member activation 7/10 → above "good" (0.6) → 100; course completion and uploads: no data.
    expected = round((50 * 100 + 20 * login_part) / 70, 1)
    assert body["profile"] == "employer"
    assert body["health"]["score"] == expected
    assert body["health"]["excluded"] == ["course_completion", "upload_failure_rate"]
