"""Portfolio and VP view over hand-written health snapshots."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from datasets import NOW, frozen_clock
from factories import Factory
from orgpulse.auth import Role, grant_membership
from orgpulse.core.tenancy import TenantScope, scoped, unscoped

TODAY = NOW.date()


def snapshot(engine, org: int, day: date, score: float | None, band: str,
             driver: str | None = None) -> None:
    components = (
        [{"key": driver, "normalized": 10.0, "included": True, "driver": 1}] if driver else []
    )
    with scoped(engine, TenantScope.of([org])) as conn:
        conn.execute(
            text("INSERT INTO health_snapshots (org_id, day, unit_id, score, status, profile,"
                 " components) VALUES (:o, :d, 0, :s, :b, 'default', CAST(:c AS jsonb))"),
            {"o": org, "d": day, "s": score, "b": band, "c": orjson.dumps(components).decode()},
        )


@pytest.fixture
def accounts(factory: Factory, engine) -> Iterator[dict[str, int]]:
    clock = frozen_clock()
    next(clock)
    try:
        orgs = {}
        for ext, name, plan in [("a", "Alpha", "growth"), ("b", "Bravo", "starter"),
                                ("c", "Charlie", "growth")]:
            factory.send([{"type": "group", "groupId": ext,
                           "traits": {"name": name, "plan": plan}}])
            orgs[ext] = factory.org(ext, name)
        # Alpha: 80 today, 85 a week ago, 70 a month ago; its top driver is upload failures.
        snapshot(engine, orgs["a"], TODAY, 80, "healthy", "upload_failure_rate")
        snapshot(engine, orgs["a"], TODAY - timedelta(days=7), 85, "healthy")
        snapshot(engine, orgs["a"], TODAY - timedelta(days=30), 70, "healthy")
        # Bravo: 40 (at risk) today, 55 thirty days ago.
        snapshot(engine, orgs["b"], TODAY, 40, "at_risk", "teacher_activation")
        snapshot(engine, orgs["b"], TODAY - timedelta(days=30), 55, "watch")
        # Charlie: not enough data.
        snapshot(engine, orgs["c"], TODAY, None, "insufficient_data")
        # Last month's end (May 31): Alpha 60, Bravo 75.
        snapshot(engine, orgs["a"], date(2026, 5, 31), 60, "watch")
        snapshot(engine, orgs["b"], date(2026, 5, 31), 75, "healthy")
        yield orgs
    finally:
        clock.close()


def test_portfolio_rows_sorting_and_filters(
    client: TestClient, factory: Factory, accounts: dict[str, int]
) -> None:
    factory.login(client, factory.user(Role.CS_LEADER))
    body = client.get("/api/v1/portfolio").json()
    # Sorted by health ascending (worst first); accounts without a score last.
    assert [(a["name"], a["score"], a["band"], a["change_7d"], a["change_30d"])
            for a in body["accounts"]] == [
        ("Bravo", 40.0, "at_risk", None, -15.0),
        ("Alpha", 80.0, "healthy", -5.0, 10.0),
        ("Charlie", None, "insufficient_data", None, None),
    ]
    assert [a["top_driver"] for a in body["accounts"]] == [
        "Teachers activated", "Upload failure rate", None
    ]
    assert body["bands"] == {"healthy": 1, "watch": 0, "at_risk": 1, "insufficient_data": 1}
    assert [a["name"] for a in body["top"]] == ["Alpha", "Bravo"]
    assert [a["name"] for a in body["bottom"]] == ["Bravo", "Alpha"]
    assert body["plans"] == ["growth", "starter"]
    names = lambda q: [a["name"] for a in client.get(f"/api/v1/portfolio?{q}").json()["accounts"]]  # noqa: E731
    assert names("sort=change_30d&desc=true") == ["Alpha", "Bravo", "Charlie"]
    assert names("sort=name&desc=true") == ["Charlie", "Bravo", "Alpha"]
    assert names("band=at_risk") == ["Bravo"]
    assert names("plan=growth") == ["Alpha", "Charlie"]
    assert names("q=ALP") == ["Alpha"]


def test_vp_month_view_and_manager_aggregates(
    client: TestClient, factory: Factory, engine, accounts: dict[str, int]
) -> None:
    sarah = factory.user(Role.ACCOUNT_MANAGER, email="sarah@example.test")
    with unscoped(engine) as conn:
        uid = conn.execute(text("SELECT user_id FROM users WHERE email = :e"),
                           {"e": sarah}).scalar_one()
        conn.execute(text("UPDATE users SET display_name = 'Sarah' WHERE user_id = :u"),
                     {"u": uid})
        for ext in ("a", "b"):
            grant_membership(conn, user_id=uid, org_id=accounts[ext], role=Role.ACCOUNT_MANAGER)
    factory.login(client, factory.user(Role.CS_LEADER))
    body = client.get("/api/v1/portfolio?month=2026-05").json()
    assert (body["until"], body["month"]) == ("2026-05-31", "2026-05")
    assert [(a["name"], a["score"], a["account_managers"]) for a in body["accounts"]] == [
        ("Alpha", 60.0, "Sarah"), ("Bravo", 75.0, "Sarah"), ("Charlie", None, None)
    ]
    assert body["managers"] == [
        {"account_manager": "Sarah", "accounts": 2, "scored": 2, "average_score": 67.5,
         "at_risk": 0, "declining": 0},
        {"account_manager": "Unassigned", "accounts": 1, "scored": 0, "average_score": None,
         "at_risk": 0, "declining": 0},
    ]
    today = client.get("/api/v1/portfolio?manager=Sarah").json()
    assert today["managers"][0] == {"account_manager": "Sarah", "accounts": 2, "scored": 2,
                                    "average_score": 60.0, "at_risk": 1, "declining": 1}
    assert client.get("/api/v1/portfolio?month=2026-13").status_code == 422
    assert client.get("/api/v1/portfolio?month=May").status_code == 422
    # Sarah herself sees only her two accounts.
    factory.login(client, sarah)
    assert [a["name"] for a in client.get("/api/v1/portfolio").json()["accounts"]] == [
        "Bravo", "Alpha"
    ]


def test_portfolio_scope_and_page(client: TestClient, factory: Factory,
                                  accounts: dict[str, int]) -> None:
    factory.login(client, factory.user(Role.ORG_ADMIN, org_id=accounts["c"]))
    assert [a["name"] for a in client.get("/api/v1/portfolio").json()["accounts"]] == ["Charlie"]
    factory.login(client, factory.user(Role.UNIT_ADMIN, org_id=accounts["a"]))
    assert client.get("/api/v1/portfolio").json()["accounts"] == []
    factory.login(client, factory.user(Role.PLATFORM_ADMIN))
    html = client.get("/portfolio").text
    assert '<td><a href="/orgs/bravo/health">Bravo</a></td>' in html
    assert "Least healthy" in html and "By account manager" in html


def _members(factory: Factory, org_ext: str, n: int, start: int = 0) -> None:
    result = factory.send([
        {"type": "track", "userId": f"{org_ext}-p{i}", "event": "Login",
         "context": {"groupId": org_ext}}
        for i in range(start, start + n)
    ])
    assert result.accepted == n and not result.rejections


def test_aggregate_only_accounts_hide_times_and_small_cohorts(
    client: TestClient, factory: Factory, engine, accounts: dict[str, int]
) -> None:
    """An aggregate-only org shows no event time anywhere, and no score below k members."""
    with scoped(engine, TenantScope.of([accounts["a"]])) as conn:
        conn.execute(text("UPDATE orgs SET privacy_mode = 'aggregate_only' WHERE org_id = :o"),
                     {"o": accounts["a"]})
    _members(factory, "a", 9)
    _members(factory, "b", 3)
    factory.login(client, factory.user(Role.CS_LEADER))

    def row(path: str, key: str, name: str) -> dict:
        return next(r for r in client.get(path).json()[key] if r["name"] == name)

    alpha = row("/api/v1/portfolio", "accounts", "Alpha")
    assert (alpha["score"], alpha["band"], alpha["top_driver"], alpha["change_7d"],
            alpha["last_activity"], alpha["aggregate_only"]) == (
        None, "insufficient_data", None, None, None, True)
    assert alpha["freshness"] == {"newest_event_at": None, "last_rollup_at": None,
                                  "age_seconds": None, "status": "fresh"}
    listed = row("/api/v1/orgs", "orgs", "Alpha")
    assert (listed["members"], listed["active_7d"], listed["events_total"],
            listed["aggregate_only"]) == (None, None, None, True)
    assert listed["freshness"]["newest_event_at"] is None
    # A standard org next to it keeps every number, small or not.
    bravo = row("/api/v1/orgs", "orgs", "Bravo")
    assert (bravo["members"], bravo["active_7d"], bravo["aggregate_only"]) == (3, 3, False)
    assert bravo["freshness"]["newest_event_at"] is not None

    _members(factory, "a", 1, start=9)  # the tenth member: k is reached
    alpha = row("/api/v1/portfolio", "accounts", "Alpha")
    assert (alpha["score"], alpha["band"], alpha["top_driver"], alpha["last_activity"]) == (
        80.0, "healthy", "Upload failure rate", None)
    listed = row("/api/v1/orgs", "orgs", "Alpha")
    assert (listed["members"], listed["active_7d"], listed["events_total"]) == (10, 10, None)
    page = client.get("/portfolio").text
    assert f'href="/orgs/{alpha["slug"]}/aggregate"' in page and "aggregates only" in page


def test_employer_viewer_lists_their_org_as_aggregates(
    client: TestClient, factory: Factory, accounts: dict[str, int]
) -> None:
    _members(factory, "b", 12)
    factory.login(client, factory.user(Role.EMPLOYER_VIEWER, org_id=accounts["b"]))
    body = client.get("/api/v1/orgs").json()
    assert [(o["slug"], o["members"], o["active_7d"], o["events_total"], o["aggregate_only"])
            for o in body["orgs"]] == [("bravo", 12, 12, None, True)]


def test_filter_form_with_any_choices_and_empty_inputs_filters_nothing(
    client: TestClient, factory: Factory, accounts: dict[str, int]
) -> None:
    """The page's form sends "Any" and empty fields as empty strings: they mean no filter."""
    factory.login(client, factory.user(Role.CS_LEADER))
    blank = "band=&plan=&manager=&q="
    for path in ("/portfolio", "/api/v1/portfolio", "/portfolio.csv"):
        assert client.get(f"{path}?{blank}&month=").status_code == 200, path
    body = client.get(f"/api/v1/portfolio?{blank}&month=2026-05").json()
    assert [(a["name"], a["score"]) for a in body["accounts"]] == [
        ("Alpha", 60.0), ("Bravo", 75.0), ("Charlie", None)
    ]
    html = client.get(f"/portfolio?{blank}&month=").text
    assert html.count('<td><a href="/orgs/') == 3
    assert client.get("/portfolio?band=none").status_code == 422
