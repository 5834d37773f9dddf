"""Report exports (portfolio, metric over time, courses): the CSV parsed back equals the page's
JSON and the hand-counted numbers; headers, file names, scoping and audit records exact."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from tests.dashboards.test_portfolio import snapshot

from datasets import NOW, frozen_clock
from factories import Factory
from orgpulse.auth import Role, grant_membership
from orgpulse.core.tenancy import TenantScope, scoped, unscoped
from orgpulse.dashboards.routes import COURSES_HEADER, PORTFOLIO_HEADER
from orgpulse.metrics.routes import TREND_HEADER

TODAY = NOW.date()


def parse(body: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body)))


def exports(engine: Engine) -> list[tuple[object, ...]]:
    with unscoped(engine) as conn:
        rows = conn.execute(text(
            "SELECT org_id, target, export_kind FROM audit_records"
            " WHERE action = 'export.csv' ORDER BY audit_id"
        )).all()
    return [tuple(r) for r in rows]


def test_courses_csv_equals_page(
    client: TestClient, factory: Factory, engine: Engine, acme: int
) -> None:
    factory.login(client, factory.user(Role.ORG_ADMIN, org_id=acme))
    response = client.get("/orgs/acme/courses.csv")
    assert response.headers["content-disposition"] == (
        'attachment; filename="acme-schools_courses_2026-06-15.csv"'
    )
    assert response.text.splitlines()[0] == ",".join(COURSES_HEADER)
    # s1 and s2 enrolled in c1 (3 lessons); s1 finished: 2 enrolled, 1 completed, avg 2 lessons.
    assert parse(response.text) == [
        {"org_id": str(acme), "org_name": "Acme Schools", "course_id": "c1", "enrolled": "2",
         "completed": "1", "completion_rate": "0.5", "lessons": "3", "average_reached": "2.0"}
    ]
    page = client.get("/api/v1/orgs/acme/courses").json()["courses"]
    assert [(int(r["enrolled"]), int(r["completed"]), float(r["completion_rate"]))
            for r in parse(response.text)] == [
        (c["enrolled"], c["completed"], c["completion_rate"]) for c in page
    ]
    north = parse(client.get("/orgs/acme/courses.csv?unit=acme-north").text)
    assert [(r["enrolled"], r["completed"]) for r in north] == [("1", "1")]
    assert exports(engine) == [(acme, "course_list", "csv"), (acme, "course_list", "csv")]


def test_metric_trend_csv_equals_page(
    client: TestClient, factory: Factory, engine: Engine, acme: int
) -> None:
    factory.login(client, factory.user(Role.ORG_ADMIN, org_id=acme))
    response = client.get("/orgs/acme/metrics/assessments_assigned_7d/trend.csv")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        'attachment; filename="acme-schools_metric-assessments_assigned_7d_2026-06-15.csv"'
    )
    rows = parse(response.text)
    assert response.text.splitlines()[0] == ",".join(TREND_HEADER)
    assert {(r["org_id"], r["org_name"], r["metric"]) for r in rows} == {
        (str(acme), "Acme Schools", "assessments_assigned_7d")
    }
    # Same hand count as tests/metrics: -29 and -30 in the week ending 05-18, -10, -2.
    assert [(r["week_end"], float(r["value"])) for r in rows] == [
        ("2026-04-27", 0), ("2026-05-04", 0), ("2026-05-11", 0), ("2026-05-18", 2),
        ("2026-05-25", 0), ("2026-06-01", 0), ("2026-06-08", 1), ("2026-06-15", 1),
    ]
    page = client.get("/api/v1/orgs/acme/metrics/assessments_assigned_7d/trend").json()
    assert [(r["week_end"], r["status"]) for r in rows] == [
        (p["week_end"], p["status"]) for p in page["points"]
    ]
    api = client.get("/api/v1/orgs/acme/metrics/assessments_assigned_7d/trend.csv")
    assert api.text == response.text
    assert client.get("/orgs/acme/metrics/nope/trend.csv").status_code == 404
    assert exports(engine) == [(acme, "metric_trend", "csv"), (acme, "metric_trend", "csv")]


@pytest.fixture
def accounts(factory: Factory, engine: Engine) -> Iterator[dict[str, int]]:
    clock = frozen_clock()
    next(clock)
    try:
        orgs = {}
        for ext, name, plan in [("a", "Alpha", "growth"), ("b", "+Bravo", "starter"),
                                ("c", "Charlie", "growth")]:
            factory.send([{"type": "group", "groupId": ext,
                           "traits": {"name": name, "plan": plan}}])
            orgs[ext] = factory.org(ext, name)
        snapshot(engine, orgs["a"], TODAY, 80, "healthy", "upload_failure_rate")
        snapshot(engine, orgs["a"], TODAY - timedelta(days=7), 85, "healthy")
        snapshot(engine, orgs["a"], TODAY - timedelta(days=30), 70, "healthy")
        snapshot(engine, orgs["b"], TODAY, 40, "at_risk", "teacher_activation")
        snapshot(engine, orgs["b"], TODAY - timedelta(days=30), 55, "watch")
        snapshot(engine, orgs["c"], TODAY, 60, "watch")
        # Charlie is shown as aggregates only and has fewer than k members: score suppressed.
        with scoped(engine, TenantScope.of([orgs["c"]])) as conn:
            updated = conn.execute(
                text("UPDATE orgs SET privacy_mode = 'aggregate_only' WHERE org_id = :o"),
                {"o": orgs["c"]},
            ).rowcount
        assert updated == 1
        yield orgs
    finally:
        clock.close()


def test_portfolio_csv_equals_page_with_suppressed_cells(
    client: TestClient, factory: Factory, engine: Engine, accounts: dict[str, int]
) -> None:
    factory.login(client, factory.user(Role.CS_LEADER))
    response = client.get("/portfolio.csv")
    assert response.headers["content-disposition"] == (
        'attachment; filename="all-orgs_portfolio_2026-06-15.csv"'
    )
    assert response.text.splitlines()[0] == ",".join(PORTFOLIO_HEADER)
    rows = parse(response.text)
    assert [(r["org_id"], r["org_name"], r["score"], r["band"], r["change_7d"], r["change_30d"],
             r["top_driver"], r["aggregate_only"], r["suppressed"]) for r in rows] == [
        (str(accounts["b"]), "'+Bravo", "40.0", "at_risk", "", "-15.0", "Teachers activated",
         "false", "false"),
        (str(accounts["a"]), "Alpha", "80.0", "healthy", "-5.0", "10.0", "Upload failure rate",
         "false", "false"),
        (str(accounts["c"]), "Charlie", "", "insufficient_data", "", "", "", "true", "true"),
    ]
    page = client.get("/api/v1/portfolio").json()["accounts"]
    assert [(int(r["org_id"]), float(r["score"]) if r["score"] else None) for r in rows] == [
        (a["org_id"], a["score"]) for a in page
    ]
    assert [r["org_name"] for r in parse(client.get("/portfolio.csv?band=healthy").text)] == [
        "Alpha"
    ]
    assert exports(engine) == [(None, "portfolio", "csv"), (None, "portfolio", "csv")]


def test_account_manager_portfolio_csv_has_only_their_orgs(
    client: TestClient, factory: Factory, engine: Engine, accounts: dict[str, int]
) -> None:
    sarah = factory.user(Role.ACCOUNT_MANAGER, email="sarah@example.test")
    with unscoped(engine) as conn:
        uid = conn.execute(text("SELECT user_id FROM users WHERE email = :e"),
                           {"e": sarah}).scalar_one()
        grant_membership(conn, user_id=uid, org_id=accounts["a"], role=Role.ACCOUNT_MANAGER)
    factory.login(client, sarah)
    rows = parse(client.get("/portfolio.csv").text)
    assert [(r["org_id"], r["org_name"]) for r in rows] == [(str(accounts["a"]), "Alpha")]
