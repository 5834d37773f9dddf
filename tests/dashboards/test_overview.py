"""Org overview: exact numbers from a hand-built dataset, in JSON and on the HTML page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from factories import Factory, iso
from orgpulse.auth import Role, resolve_org_ref
from orgpulse.core import clock
from orgpulse.core.config import Settings
from orgpulse.core.tenancy import TenantScope, apply_scope, unscoped
from orgpulse.web.templating import event_label

# Noon UTC today: every "k days ago" offset below lands on a known calendar day, whatever the
# hour the suite runs at (partitions exist from two years back to three months ahead).
NOW = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
TODAY = NOW.date()


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[datetime]:
    clock.freeze(NOW)
    try:
        yield NOW
    finally:
        clock.freeze(None)


def ago(days: int = 0, **delta: float) -> str:
    return iso(NOW - timedelta(days=days, **delta))


def day(days_ago: int) -> date:
    return TODAY - timedelta(days=days_ago)


def _org_with_units(ext: str, name: str, units: dict[str, str], at: str) -> list[dict[str, Any]]:
    msgs: list[dict[str, Any]] = [
        {"type": "group", "groupId": ext, "traits": {"name": name}, "timestamp": at}
    ]
    msgs += [
        {"type": "group", "groupId": f"{ext}-{u}", "timestamp": at,
         "traits": {"name": label, "kind": "school", "parent_group_id": ext}}
        for u, label in units.items()
    ]
    return msgs


def _identify(user: str, unit_ext: str, at: str) -> dict[str, Any]:
    return {"type": "identify", "userId": user, "traits": {"unit": unit_ext},
            "context": {"groupId": unit_ext}, "timestamp": at}


def _track(user: str, event: str, at: str) -> dict[str, Any]:
    return {"type": "track", "userId": user, "event": event, "timestamp": at}


LS, QC = "Lesson Started", "Quiz Completed"
# Acme: four members in two units. Profile calls (group/identify) are 60 days old, outside every
# window, so only the tracks below count. (days ago, member, event)
ACME_TRACKS = [
    (0, "m1", LS),   # today, 11:58
    (2, "m1", LS),
    (2, "m1", QC),
    (7, "m2", QC),   # first day outside the 7-day window
    (10, "m2", LS),
    (6, "m3", QC),   # last day inside the 7-day window
    (29, "m3", LS),  # last day inside the 30-day window
    (30, "m4", LS),  # first day outside the 30-day window
    (45, "m4", LS),
]
ACME_UNITS = {"m1": "north", "m2": "north", "m3": "south", "m4": "south"}


@pytest.fixture
def acme(factory: Factory) -> int:
    profile = ago(60)
    batches = [
        _org_with_units("acme", "Acme", {"north": "North", "south": "South"}, profile)
        + _org_with_units("globex", "Globex", {"east": "East"}, profile),
        [_identify(m, f"acme-{u}", profile) for m, u in ACME_UNITS.items()]
        + [_identify("g1", "globex-east", profile)],
        [_track(m, e, ago(d, minutes=2) if d == 0 else ago(d)) for d, m, e in ACME_TRACKS]
        # Globex activity on the same days must not show up in Acme's numbers.
        + [_track("g1", LS, ago(d)) for d in (0, 0, 2, 6, 29)],
    ]
    for batch in batches:
        result = factory.send(batch)
        assert result.rejections == [] and result.unattributed == 0
    with unscoped(factory.engine) as conn:
        org_id = resolve_org_ref(conn, "acme")
    assert org_id is not None
    return org_id


@pytest.fixture
def admin(factory: Factory) -> dict[str, str]:
    return {"Authorization": f"Bearer {factory.token(factory.user(Role.PLATFORM_ADMIN))}"}


# Every Acme event as (days ago, member or None, stored name, unit or None): the tracks plus the
# profile calls 60 days ago (org and unit group calls, one identify per member).
ACME_EVENTS = (
    [(d, m, e, ACME_UNITS[m]) for d, m, e in ACME_TRACKS]
    + [(60, None, "$group", None), (60, None, "$group", "north"), (60, None, "$group", "south")]
    + [(60, None, "$identify", u) for u in ACME_UNITS.values()]
)


def expected_numbers(days: int = 30, units: set[str] | None = None) -> dict[str, Any]:
    """The overview's numbers, computed from ACME_EVENTS (activity = track calls of members)."""
    events = [ev for ev in ACME_EVENTS if units is None or ev[3] in units]
    activity = [(d, m) for d, m, e, _ in events if m is not None and not e.startswith("$")]
    in_period = [ev for ev in events if ev[0] < days]
    names: dict[str, int] = {}
    for _, _, e, _ in in_period:
        names[e] = names.get(e, 0) + 1
    daily = []
    for i in range(days):
        d_ago = days - 1 - i
        daily.append(
            {"day": day(d_ago).isoformat(),
             "events": sum(1 for ev in events if ev[0] == d_ago),
             "active_members": len({m for d, m in activity if d == d_ago})}
        )
    return {
        "members_total": sum(1 for u in ACME_UNITS.values() if units is None or u in units),
        "active_7d": len({m for d, m in activity if d < 7}),
        "active_30d": len({m for d, m in activity if d < 30}),
        "events_total": len(in_period),
        "events_by_name": [
            {"name": n, "events": c} for n, c in sorted(names.items(), key=lambda x: (-x[1], x[0]))
        ],
        "daily": daily,
    }


def test_expected_numbers_are_what_the_dataset_says() -> None:
    """Pin the independently computed expectations to hand-counted literals."""
    assert {k: v for k, v in expected_numbers().items() if k != "daily"} == {
        "members_total": 4,
        "active_7d": 2,   # m1, m3
        "active_30d": 3,  # m1, m2, m3 (m4 only 30+ days ago)
        "events_total": 7,
        "events_by_name": [{"name": LS, "events": 4}, {"name": QC, "events": 3}],
    }
    nonzero = {p["day"]: (p["events"], p["active_members"])
               for p in expected_numbers()["daily"] if p["events"]}
    assert nonzero == {
        day(0).isoformat(): (1, 1), day(2).isoformat(): (2, 1), day(6).isoformat(): (1, 1),
        day(7).isoformat(): (1, 1), day(10).isoformat(): (1, 1), day(29).isoformat(): (1, 1),
    }


def _ts(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_overview_json_numbers(client: TestClient, acme: int, admin: dict[str, str]) -> None:
    response = client.get("/api/v1/orgs/acme/overview", headers=admin)
    assert response.status_code == 200, response.text
    body = response.json()
    assert {k: body[k] for k in expected_numbers()} == expected_numbers()
    assert body["org_id"] == acme
    assert (body["slug"], body["name"], body["external_id"]) == ("acme", "Acme", "acme")
    assert _ts(body["as_of"]) == NOW
    assert body["period_days"] == 30
    assert body["period_start"] == day(29).isoformat()
    assert body["period_end"] == TODAY.isoformat()
    assert len(body["daily"]) == 30
    assert body["unit"] is None
    assert body["units"] == [
        {"external_id": "acme-north", "name": "North", "kind": "school"},
        {"external_id": "acme-south", "name": "South", "kind": "school"},
    ]
    fresh = body["freshness"]
    assert _ts(fresh["newest_event_at"]) == NOW - timedelta(minutes=2)
    assert fresh["age_seconds"] == 120
    assert fresh["status"] == "fresh"
    assert fresh["last_rollup_at"] is not None


@pytest.mark.parametrize(
    ("query", "days", "units"),
    [
        ("?days=7", 7, None),
        ("?days=1", 1, None),
        ("?days=90", 90, None),
        ("?days=61", 61, None),
        ("?days=60", 60, None),
        ("?unit=acme-north&days=90", 90, {"north"}),
        ("?unit=acme-north", 30, {"north"}),
        ("?unit=acme-south", 30, {"south"}),
        ("?unit=acme-south&days=7", 7, {"south"}),
    ],
)
def test_overview_json_filters(
    client: TestClient, acme: int, admin: dict[str, str], query: str, days: int,
    units: set[str] | None,
) -> None:
    body = client.get(f"/api/v1/orgs/acme/overview{query}", headers=admin).json()
    assert {k: body[k] for k in expected_numbers()} == expected_numbers(days, units)
    if units:
        (unit,) = units
        assert body["unit"] == {"external_id": f"acme-{unit}", "name": unit.title(),
                                "kind": "school"}


def test_overview_filter_literals(client: TestClient, acme: int, admin: dict[str, str]) -> None:
    north = client.get("/api/v1/orgs/acme/overview?unit=acme-north", headers=admin).json()
    assert (north["members_total"], north["active_7d"], north["active_30d"],
            north["events_total"]) == (2, 1, 2, 5)
    south = client.get("/api/v1/orgs/acme/overview?unit=acme-south", headers=admin).json()
    assert (south["members_total"], south["active_7d"], south["active_30d"],
            south["events_total"]) == (2, 1, 1, 2)
    week = client.get("/api/v1/orgs/acme/overview?days=7", headers=admin).json()
    assert week["events_total"] == 4
    assert week["events_by_name"] == [{"name": LS, "events": 2}, {"name": QC, "events": 2}]
    # 90 days reach the profile calls (3 group, 4 identify) and Acme's two oldest tracks.
    quarter = client.get("/api/v1/orgs/acme/overview?days=90", headers=admin).json()
    assert quarter["events_total"] == 16
    assert quarter["events_by_name"] == [
        {"name": LS, "events": 6}, {"name": "$identify", "events": 4},
        {"name": "$group", "events": 3}, {"name": QC, "events": 3},
    ]
    assert (quarter["active_7d"], quarter["active_30d"]) == (2, 3)  # windows do not move


def test_overview_rejects_bad_parameters(
    client: TestClient, acme: int, admin: dict[str, str]
) -> None:
    for query in ("?unit=globex-east", "?unit=nope", "?days=0", "?days=367"):
        response = client.get(f"/api/v1/orgs/acme/overview{query}", headers=admin)
        assert response.status_code == 422, query
        assert response.json()["error"]["code"] == "invalid_input"


KPI = re.compile(r'<div class="kpi"><(?:span|a) class="label"[^>]*>([^<]*)</(?:span|a)>'
                 r'<span class="value">([0-9,]+)</span></div>')
KPI_LINK = re.compile(r'<div class="kpi"><a class="label" href="([^"]+)"[^>]*>([^<]*)</a>')
# Any src/href/action pointing off-site: a scheme ("https:", "javascript:") or protocol-relative.
EXTERNAL = re.compile(r'(?:src|href|action)\s*=\s*["\']?\s*(?:[a-z][a-z0-9+.-]*:|//)', re.I)


def kpis(html: str) -> dict[str, int]:
    return {label: int(value.replace(",", "")) for label, value in KPI.findall(html)}


def test_overview_page_shows_the_same_numbers(
    client: TestClient, factory: Factory, acme: int
) -> None:
    factory.login(client, factory.user(Role.PLATFORM_ADMIN))
    for query, days, units in (("", 30, None), ("?unit=acme-north", 30, {"north"}),
                               ("?days=7", 7, None)):
        response = client.get(f"/orgs/acme{query}")
        assert response.status_code == 200
        html = response.text
        n = expected_numbers(days, units)
        assert kpis(html) == {
            "Members": n["members_total"],
            "Active, last 7 days": n["active_7d"],
            "Active, last 30 days": n["active_30d"],
            f"Events, {days} days": n["events_total"],
        }
        json_body = client.get(f"/api/v1/orgs/acme/overview{query}").json()
        assert list(kpis(html).values()) == [
            json_body["members_total"], json_body["active_7d"], json_body["active_30d"],
            json_body["events_total"],
        ]
        # Inline SVG chart, no scripts, nothing loaded from anywhere else.
        assert html.count("<svg") == 1
        assert "<script" not in html.lower()
        assert EXTERNAL.findall(html) == []
        assert re.findall(r'<link[^>]+href="([^"]+)"', html) == ["/static/app.css"]
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "style-src 'self'" in csp
        assert 'class="badge green"' in html
        # Every people card drills down, keeping the unit filter.
        unit = "?unit=acme-north" if units else ""
        assert {label: href for href, label in KPI_LINK.findall(html)} == {
            "Members": f"/orgs/acme/adoption{unit}",
            "Active, last 7 days": f"/orgs/acme/metrics/active_members{unit}",
            "Active, last 30 days": f"/orgs/acme/metrics/member_activation{unit}",
        }
        for href, _ in KPI_LINK.findall(html):
            assert client.get(href).status_code == 200, href
        for e in n["events_by_name"]:
            label = event_label(e["name"])
            row = f'<tr><td title="{e["name"]}">{label}</td><td class="num">{e["events"]}</td></tr>'
            assert row in html


def test_page_for_org_without_activity_has_no_chart(
    client: TestClient, factory: Factory, acme: int
) -> None:
    factory.login(client, factory.user(Role.PLATFORM_ADMIN))
    html = client.get("/orgs/acme?days=1&unit=acme-south").text
    assert kpis(html) == {"Members": 2, "Active, last 7 days": 1, "Active, last 30 days": 1,
                          "Events, 1 days": 0}
    assert "<svg" not in html
    assert "No activity in this period" in html


# ---------------------------------------------------------------------------------- freshness
def test_freshness_turns_amber_after_the_limit(
    client: TestClient, factory: Factory, settings: Settings, admin: dict[str, str]
) -> None:
    limit = settings.freshness_amber_seconds
    newest = NOW - timedelta(seconds=limit)
    factory.send(_org_with_units("initech", "Initech", {}, ago(1))
                 + [{"type": "track", "userId": "i1", "event": LS, "timestamp": iso(newest),
                     "context": {"groupId": "initech"}}])

    def freshness() -> dict[str, Any]:
        return client.get("/api/v1/orgs/initech/overview", headers=admin).json()["freshness"]

    # Exactly at the limit: still fresh. One second later: stale.
    assert freshness()["status"] == "fresh"
    assert freshness()["age_seconds"] == limit
    clock.freeze(NOW + timedelta(seconds=1))
    assert freshness()["status"] == "stale"
    assert freshness()["age_seconds"] == limit + 1
    assert _ts(freshness()["newest_event_at"]) == newest

    clock.freeze(NOW + timedelta(minutes=1))  # newest event is now 11 minutes old
    factory.login(client, factory.user(Role.PLATFORM_ADMIN))
    page = client.get("/orgs/initech").text
    badge = re.findall(r'<span class="badge (\w+)" title="Newest event ([^"]+)">([^<]+)</span>',
                       page)
    assert [(b[0], b[2]) for b in badge] == [("amber", f"Data {(limit + 60) // 60} min old")]
    assert _ts(badge[0][1].replace(" ", "T")) == newest
    assert "badge green" not in page
    listing = client.get("/api/v1/orgs").json()
    assert [(o["slug"], o["freshness"]["status"]) for o in listing["orgs"]] == [
        ("initech", "stale")
    ]


def test_freshness_fresh_and_no_data(
    client: TestClient, factory: Factory, owner: Engine, admin: dict[str, str]
) -> None:
    factory.send(_org_with_units("hooli", "Hooli", {}, ago(0, seconds=30)))
    # An org provisioned without a single event (directory and org row only).
    with owner.begin() as conn:
        org = conn.execute(text("SELECT nextval('org_id_seq')")).scalar_one()
        apply_scope(conn, TenantScope.of([org]))
        conn.execute(text("INSERT INTO directory_groups (external_id, org_id, slug)"
                          " VALUES ('empty', :o, 'empty')"), {"o": org})
        conn.execute(text("INSERT INTO orgs (org_id, external_id, slug, name)"
                          " VALUES (:o, 'empty', 'empty', 'Empty Co')"), {"o": org})

    hooli = client.get("/api/v1/orgs/hooli/overview", headers=admin).json()["freshness"]
    assert (hooli["status"], hooli["age_seconds"]) == ("fresh", 30)
    empty = client.get("/api/v1/orgs/empty/overview", headers=admin).json()
    assert empty["freshness"] == {"newest_event_at": None, "last_rollup_at": None,
                                  "age_seconds": None, "status": "no_data"}
    assert (empty["members_total"], empty["active_7d"], empty["active_30d"],
            empty["events_total"], empty["events_by_name"]) == (0, 0, 0, 0, [])
    assert {p["events"] for p in empty["daily"]} == {0}

    factory.login(client, factory.user(Role.PLATFORM_ADMIN))
    assert 'class="badge green"' in client.get("/orgs/hooli").text
    page = client.get("/orgs/empty").text
    assert '<span class="badge grey" title="No events received yet">No data yet</span>' in page
    assert kpis(page) == {"Members": 0, "Active, last 7 days": 0, "Active, last 30 days": 0,
                          "Events, 30 days": 0}
