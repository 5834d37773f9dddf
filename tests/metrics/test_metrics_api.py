"""Catalog metrics from a hand-built dataset: every expected number is counted by hand from the
event list below (see the comments), independently of the SQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from datasets import NOW, at, build_acme
from factories import Factory, iso
from orgpulse.auth import Role
from orgpulse.core import clock


@pytest.fixture
def acme(factory: Factory, frozen: datetime) -> int:
    return build_acme(factory)


def metrics_of(client: TestClient, factory: Factory, org: int, query: str = "") -> dict:
    email = factory.user(Role.ORG_ADMIN, org_id=org)
    factory.login(client, email)
    response = client.get(f"/api/v1/orgs/acme/metrics{query}")
    assert response.status_code == 200, response.text
    body = response.json()
    return {m["key"]: m for m in body["metrics"]} | {"_body": body}


def triple(m: dict) -> tuple:
    return (m["value"], m["numerator"], m["denominator"], m["status"])


def test_every_catalog_metric_for_the_whole_org(
    client: TestClient, factory: Factory, acme: int
) -> None:
    m = metrics_of(client, factory, acme)
    body = m.pop("_body")
    assert (body["today"], body["timezone"], body["as_of"]) == (
        "2026-06-15", "UTC", "2026-06-15T12:00:00Z"
    )
    # t1 (-1) and t3 (-13) of 3 teachers logged in within 14 days.
    assert triple(m["teacher_activation"]) == (2 / 3, 2, 3, "ok")
    assert (m["teacher_activation"]["window_start"], m["teacher_activation"]["window_end"]) == (
        "2026-06-02", "2026-06-15"
    )
    # t1 and t3 created assignments within 30 days (t3's -29 counts, -30 does not).
    assert triple(m["teacher_usage"]) == (2 / 3, 2, 3, "ok")
    assert triple(m["assessments_assigned_7d"]) == (1, 1, None, "ok")
    assert triple(m["assessments_assigned_30d"]) == (3, 3, None, "ok")
    # Submitted within 30 days: sub1..sub4.
    assert triple(m["submissions_completed"]) == (4, 4, None, "ok")
    # Scored within 30 days (-18, -2) / submitted (4): below the minimum of 10.
    assert triple(m["scoring_completion"]) == (0.5, 2, 4, "insufficient_data")
    # Judged (opened in 30 days and more than 7 days ago): sub1, sub2, sub3; timely: sub1.
    assert triple(m["scoring_timeliness"]) == (1 / 3, 1, 3, "insufficient_data")
    # Over 90 days, judged sub1, sub2, sub3, sub5; still open: sub3 and sub5.
    assert triple(m["scoring_backlog"]) == (2, 2, 4, "ok")
    assert triple(m["upload_failure_rate"]) == (0.15, 3, 20, "ok")
    # Active in 7 days: t1 (login, assignment, scoring), s1 (uploads, course), s2 (sub4, course).
    assert triple(m["active_members"]) == (3, 3, None, "ok")
    # Teachers logged in within 30 days in north (t1, t2) and south (t3): 2 of 2 schools.
    assert triple(m["schools_onboarded"]) == (2, 2, 2, "ok")
    assert triple(m["roster_sync_errors"]) == (0, 0, None, "ok")
    # Sign-ins within 7 days: t1's one login, no failures; 1 attempt is below the minimum 20.
    assert triple(m["login_failure_rate"]) == (0, 0, 1, "insufficient_data")
    # s1 reached lesson 3 of 3; s2 stopped at 1 of (the org's highest) 3.
    assert triple(m["course_completion"]) == (0.5, 1, 2, "insufficient_data")
    assert triple(m["checklist_completion"]) == (None, None, None, "no_data")
    assert m["checklist_completion"]["detail"]


def test_unit_filter_and_minimum_denominator(
    client: TestClient, factory: Factory, acme: int
) -> None:
    m = metrics_of(client, factory, acme, "?unit=acme-north")
    m.pop("_body")
    # North teachers: t1 (active), t2 (not within 14 days): 1 of 2, below the minimum of 3.
    assert triple(m["teacher_activation"]) == (0.5, 1, 2, "insufficient_data")
    assert triple(m["assessments_assigned_30d"]) == (2, 2, None, "ok")
    # North's submissions: s1's sub1..sub3 (sub4 and sub5 are s2's, in the south).
    assert triple(m["submissions_completed"]) == (3, 3, None, "ok")
    assert triple(m["schools_onboarded"]) == (1, 1, 1, "ok")


def test_explicit_window_replaces_each_metrics_own(
    client: TestClient, factory: Factory, acme: int
) -> None:
    # 2026-05-16 .. 2026-05-17 = 30 and 29 days ago: t3's two assignments only.
    m = metrics_of(client, factory, acme, "?from=2026-05-16&to=2026-05-17")
    body = m.pop("_body")
    assert body["window"] == {"since": "2026-05-16", "until": "2026-05-17"}
    assert triple(m["assessments_assigned_30d"]) == (2, 2, None, "ok")
    assert triple(m["assessments_assigned_7d"]) == (2, 2, None, "ok")
    assert triple(m["upload_failure_rate"]) == (None, 0, 0, "insufficient_data")


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("?from=2026-06-10", "give both from and to, or neither"),
        ("?from=2026-06-10&to=2026-06-01", "from (2026-06-10) is after to (2026-06-01)"),
        ("?from=2025-01-01&to=2026-06-01", "the window may span at most 366 days"),
        ("?unit=nowhere", "unknown unit 'nowhere' for this organization"),
    ],
)
def test_bad_windows_and_units_are_422_naming_the_problem(
    client: TestClient, factory: Factory, acme: int, query: str, problem: str
) -> None:
    email = factory.user(Role.ORG_ADMIN, org_id=acme)
    factory.login(client, email)
    response = client.get(f"/api/v1/orgs/acme/metrics{query}")
    assert (response.status_code, response.json()["error"]["message"]) == (422, problem)


def test_empty_org_has_no_data_not_zero_shares(
    client: TestClient, factory: Factory, frozen: datetime
) -> None:
    org = factory.org("acme", "Acme Schools")
    m = metrics_of(client, factory, org)
    m.pop("_body")
    assert triple(m["teacher_activation"]) == (None, 0, 0, "insufficient_data")
    assert triple(m["scoring_timeliness"]) == (None, 0, 0, "insufficient_data")
    assert triple(m["assessments_assigned_7d"]) == (0, 0, None, "ok")
    assert triple(m["schools_onboarded"]) == (None, 0, 0, "no_data")


def test_days_are_the_orgs_local_days(factory: Factory, client: TestClient) -> None:
    # 2026-06-15 12:00 UTC is 07:00 in Chicago (CDT, UTC-5).
    clock.freeze(NOW)
    try:
        factory.send([{"type": "group", "groupId": "acme", "timestamp": at(30),
                       "traits": {"name": "Acme Schools", "timezone": "America/Chicago"}}])
        late = iso(datetime(2026, 6, 15, 4, 30, tzinfo=UTC))  # 23:30 on the 14th in Chicago
        early = iso(datetime(2026, 6, 15, 5, 30, tzinfo=UTC))  # 00:30 on the 15th in Chicago
        factory.send([
            {"type": "track", "userId": "t1", "event": "Assignment Created", "timestamp": ts,
             "context": {"groupId": "acme"}}
            for ts in (late, early)
        ])
        from orgpulse.auth import resolve_org_ref
        from orgpulse.core.tenancy import unscoped

        with unscoped(factory.engine) as conn:
            org = resolve_org_ref(conn, "acme")
        assert org is not None
        on_14 = metrics_of(client, factory, org, "?from=2026-06-14&to=2026-06-14")
        assert on_14["assessments_assigned_7d"]["value"] == 1
        on_15 = client.get("/api/v1/orgs/acme/metrics?from=2026-06-15&to=2026-06-15").json()
        values = {m["key"]: m["value"] for m in on_15["metrics"]}
        assert values["assessments_assigned_7d"] == 1
        assert on_15["timezone"] == "America/Chicago"
    finally:
        clock.freeze(None)


def test_metrics_need_analytics_permission_and_are_audited(
    client: TestClient, factory: Factory, acme: int
) -> None:
    member = factory.user(Role.MEMBER, org_id=acme)
    factory.login(client, member)
    assert client.get("/api/v1/orgs/acme/metrics").status_code == 403
    other = factory.org("globex", "Globex")
    admin = factory.user(Role.ORG_ADMIN, org_id=other)
    factory.login(client, admin)
    assert client.get("/api/v1/orgs/acme/metrics").status_code == 403
    assert client.get("/api/v1/orgs/globex/metrics").status_code == 200
    from sqlalchemy import text

    from orgpulse.core.tenancy import unscoped

    with unscoped(factory.engine) as conn:
        reads = conn.execute(
            text("SELECT org_id, target FROM audit_records WHERE action = 'analytics.read'")
        ).all()
    assert reads == [(other, "org_metrics")]


def test_metric_trend_weekly(client: TestClient, factory: Factory, acme: int) -> None:
    factory.login(client, factory.user(Role.ORG_ADMIN, org_id=acme))
    body = client.get("/api/v1/orgs/acme/metrics/assessments_assigned_7d/trend").json()
    points = [(p["week_end"], p["value"]) for p in body["points"]]
    # Weekly 7-day windows ending on Mondays: -2 falls in the last week, -10 in the one before,
    # -29 and -30 in the week ending 2026-05-18 (days -34 … -28).
    assert points == [
        ("2026-04-27", 0), ("2026-05-04", 0), ("2026-05-11", 0), ("2026-05-18", 2),
        ("2026-05-25", 0), ("2026-06-01", 0), ("2026-06-08", 1), ("2026-06-15", 1),
    ]
    assert body["metric"]["key"] == "assessments_assigned_7d"
    assert client.get("/api/v1/orgs/acme/metrics/nope/trend").status_code == 404
    assert client.get("/api/v1/orgs/acme/metrics/active_members/trend?weeks=9").status_code == 422
    page = client.get("/orgs/acme/metrics/teacher_activation?weeks=26")
    assert page.status_code == 200
    assert page.text.count("<rect ") == 26


def test_overview_and_metrics_agree_on_active_members(
    client: TestClient, factory: Factory, acme: int
) -> None:
    factory.login(client, factory.user(Role.ORG_ADMIN, org_id=acme))
    for unit in ("", "?unit=acme-north", "?unit=acme-south"):
        overview = client.get(f"/api/v1/orgs/acme/overview{unit}").json()
        metrics = {m["key"]: m for m in client.get(f"/api/v1/orgs/acme/metrics{unit}").json()[
            "metrics"]}
        assert overview["active_7d"] == metrics["active_members"]["value"]
    # Whole org: t1, s1, s2 (see test_every_catalog_metric_for_the_whole_org).
    assert client.get("/api/v1/orgs/acme/overview").json()["active_7d"] == 3
