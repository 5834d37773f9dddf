"""Cross-tenant access matrix over every dashboard route, per role, pages and API alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from factories import Factory
from orgpulse.auth import Role, find_user_id, grant_membership, resolve_org_ref
from orgpulse.core.tenancy import unscoped

ORGS = ("acme", "globex")


@dataclass(frozen=True)
class World:
    acme: int
    globex: int
    north: int  # Acme's unit ids
    south: int


@pytest.fixture
def world(factory: Factory) -> World:
    """Acme: units north (u1) and south (u2); Globex: one member. All activity is today."""
    factory.org("acme", "Acme", units=("north", "south"))
    factory.org("globex", "Globex", units=("east",))
    batches: list[list[dict[str, Any]]] = [
        [
            {"type": "identify", "userId": "u1", "traits": {"unit": "acme-north"},
             "context": {"groupId": "acme-north"}},
            {"type": "identify", "userId": "u2", "traits": {"unit": "acme-south"},
             "context": {"groupId": "acme-south"}},
            {"type": "identify", "userId": "g1", "traits": {"unit": "globex-east"},
             "context": {"groupId": "globex-east"}},
        ],
        [{"type": "track", "userId": "u1", "event": "Lesson Started"} for _ in range(3)]
        + [{"type": "track", "userId": "u2", "event": "Quiz Completed"}]
        + [{"type": "track", "userId": "g1", "event": "Login"} for _ in range(2)],
    ]
    for batch in batches:
        result = factory.send(batch)
        assert result.rejections == [] and result.unattributed == 0
    with unscoped(factory.engine) as conn:
        ids = {ref: resolve_org_ref(conn, ref) for ref in ("acme", "globex", "acme-north",
                                                           "acme-south")}
        units = dict(
            conn.execute(
                text("SELECT external_id, unit_id FROM directory_groups"
                     " WHERE external_id IN ('acme-north', 'acme-south')")
            ).all()
        )
    assert ids["acme"] is not None and ids["globex"] is not None
    return World(ids["acme"], ids["globex"], units["acme-north"], units["acme-south"])


# Whole-org numbers. Acme: group calls (org + 2 units), 2 identifies, 4 tracks; Globex: group
# calls (org + 1 unit), 1 identify, 2 tracks.
ACME_TOTALS = {"members_total": 2, "active_7d": 2, "active_30d": 2, "events_total": 9}
GLOBEX_TOTALS = {"members_total": 1, "active_7d": 1, "active_30d": 1, "events_total": 5}
# North only: its group call, u1's identify and three tracks.
NORTH_TOTALS = {"members_total": 1, "active_7d": 1, "active_30d": 1, "events_total": 5}


def bearer(factory: Factory, email: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {factory.token(email)}"}


def kpi_subset(body: dict[str, Any]) -> dict[str, int]:
    return {k: body[k] for k in ACME_TOTALS}


def audit(engine: Engine, action: str, **where: Any) -> list[dict[str, Any]]:
    clauses = " ".join(f"AND {k} IS NOT DISTINCT FROM :{k}" for k in where)
    with unscoped(engine) as conn:
        rows = conn.execute(
            text(f"SELECT * FROM audit_records WHERE action = :action {clauses}"  # noqa: S608
                 " ORDER BY audit_id"),
            {"action": action, **where},
        ).mappings().all()
    return [dict(r) for r in rows]


def listed(client: TestClient, headers: dict[str, str]) -> list[tuple[str, int, int, int]]:
    response = client.get("/api/v1/orgs", headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["orgs"])
    return [(o["slug"], o["members"], o["active_7d"], o["events_total"]) for o in body["orgs"]]


# ---------------------------------------------------------------------------------- org admin
def test_org_admin_reaches_only_their_org(
    client: TestClient, factory: Factory, engine: Engine, world: World
) -> None:
    email = factory.user(Role.ORG_ADMIN, org_id=world.acme)
    factory.login(client, email)
    user_id = _user_id(engine, email)

    # Pages: own org 200, another org and an unknown org the same 403 (existence not revealed).
    page = client.get("/orgs/acme")
    assert page.status_code == 200
    assert "<h1>Acme" in page.text
    for ref in ("globex", "no-such-org", str(world.globex)):
        response = client.get(f"/orgs/{ref}")
        assert response.status_code == 403, ref
        assert "Not allowed" in response.text
        assert "Globex" not in response.text

    # API, same answers, one JSON error shape.
    response = client.get("/api/v1/orgs/acme/overview")
    assert response.status_code == 200
    assert kpi_subset(response.json()) == ACME_TOTALS
    denied = {}
    for ref in ("globex", "no-such-org"):
        response = client.get(f"/api/v1/orgs/{ref}/overview")
        assert response.status_code == 403
        denied[ref] = response.json()
    # A foreign org and an unknown one get the same answer, apart from echoing the reference.
    for ref, body in denied.items():
        assert body == {"error": {"code": "forbidden", "details": [],
                                  "message": f"you do not have access to organization {ref!r}"}}

    # The list and the home page show Acme only.
    assert listed(client, {}) == [("acme", 2, 2, 9)]
    home = client.get("/", follow_redirects=False)
    assert (home.status_code, home.headers["location"]) == (303, "/orgs/acme")
    switcher = client.get("/orgs/acme").text
    assert '<option value="acme"' in switcher and '<option value="globex"' not in switcher

    # Every refusal is audited as denied, attributed to the user and (when known) the org.
    rows = audit(engine, "org.access_denied")
    assert [(r["target"], r["org_id"], r["outcome"], r["actor_user_id"], r["actor_kind"])
            for r in rows] == [
        ("globex", world.globex, "denied", user_id, "session"),
        ("no-such-org", None, "denied", user_id, "session"),
        (str(world.globex), None, "denied", user_id, "session"),
        ("globex", world.globex, "denied", user_id, "session"),
        ("no-such-org", None, "denied", user_id, "session"),
    ]
    assert rows[0]["details"] == {
        "permission": "view_org_analytics", "path": "/orgs/globex", "reason": "role"
    }
    assert rows[3]["details"]["path"] == "/api/v1/orgs/globex/overview"


def _user_id(engine: Engine, email: str) -> int:
    with unscoped(engine) as conn:
        return find_user_id(conn, email=email)


# ---------------------------------------------------------------------------------- staff roles
@pytest.mark.parametrize("role", [Role.PLATFORM_ADMIN, Role.CS_LEADER, Role.SUPPORT])
def test_all_org_staff_see_every_org(
    client: TestClient, factory: Factory, world: World, role: Role
) -> None:
    headers = bearer(factory, factory.user(role))
    assert listed(client, headers) == [("acme", 2, 2, 9), ("globex", 1, 1, 5)]
    for slug, totals in (("acme", ACME_TOTALS), ("globex", GLOBEX_TOTALS)):
        response = client.get(f"/api/v1/orgs/{slug}/overview", headers=headers)
        assert response.status_code == 200
        assert kpi_subset(response.json()) == totals
        assert client.get(f"/orgs/{slug}", headers=headers).status_code == 200
    assert client.get("/api/v1/orgs/no-such-org/overview", headers=headers).status_code == 403


def test_account_manager_sees_only_managed_orgs(
    client: TestClient, factory: Factory, engine: Engine, world: World
) -> None:
    email = factory.user(Role.ACCOUNT_MANAGER)
    headers = bearer(factory, email)
    # No account yet: nothing.
    assert listed(client, headers) == []
    for slug in ORGS:
        assert client.get(f"/api/v1/orgs/{slug}/overview", headers=headers).status_code == 403

    with unscoped(engine) as conn:
        grant_membership(conn, user_id=find_user_id(conn, email=email), org_id=world.globex,
                         role=Role.ACCOUNT_MANAGER)
    assert listed(client, headers) == [("globex", 1, 1, 5)]
    assert client.get("/api/v1/orgs/globex/overview", headers=headers).status_code == 200
    assert client.get("/api/v1/orgs/acme/overview", headers=headers).status_code == 403
    assert client.get("/orgs/acme", headers=headers).status_code == 403
    assert client.get("/orgs/globex", headers=headers).status_code == 200


# ---------------------------------------------------------------------------------- org roles
@pytest.mark.parametrize("role", [Role.EMPLOYER_VIEWER, Role.HR_SUBMITTER, Role.MEMBER])
def test_roles_without_analytics_fail_closed(
    client: TestClient, factory: Factory, engine: Engine, world: World, role: Role
) -> None:
    email = factory.user(role, org_id=world.acme)
    headers = bearer(factory, email)
    employer = role == Role.EMPLOYER_VIEWER
    for path in ("/api/v1/orgs/acme/overview", "/orgs/acme", "/api/v1/orgs/globex/overview",
                 "/orgs/globex"):
        response = client.get(path, headers=headers, follow_redirects=False)
        if employer and path == "/orgs/acme":
            # The org's page is its aggregate view for an employer viewer.
            assert (response.status_code, response.headers["location"]) == (
                303, "/orgs/acme/aggregate")
        else:
            assert response.status_code == 403, path
    # The org list carries analytics too (members, active, events): nothing for the member and
    # the HR submitter; the employer viewer's org as aggregates only (2 members < k: hidden).
    assert listed(client, headers) == ([("acme", None, None, None)] if employer else [])
    denied = audit(engine, "org.access_denied", actor_user_id=_user_id(engine, email))
    assert [(r["target"], r["outcome"], r["actor_kind"]) for r in denied] == [
        ("acme", "denied", "token"), *([] if employer else [("acme", "denied", "token")]),
        ("globex", "denied", "token"), ("globex", "denied", "token"),
    ]
    assert audit(engine, "analytics.read", target="org_overview") == []


def test_unit_admin_sees_only_their_units(
    client: TestClient, factory: Factory, world: World
) -> None:
    headers = bearer(factory, factory.user(Role.UNIT_ADMIN, org_id=world.acme,
                                           unit_ids=(world.north,)))
    body = client.get("/api/v1/orgs/acme/overview", headers=headers).json()
    assert kpi_subset(body) == NORTH_TOTALS
    assert body["events_by_name"] == [{"name": "Lesson Started", "events": 3},
                                      {"name": "$group", "events": 1},
                                      {"name": "$identify", "events": 1}]
    assert [u["external_id"] for u in body["units"]] == ["acme-north"]
    assert kpi_subset(
        client.get("/api/v1/orgs/acme/overview?unit=acme-north", headers=headers).json()
    ) == NORTH_TOTALS
    for other in ("acme-south", "globex-east", "no-such-unit"):
        response = client.get(f"/api/v1/orgs/acme/overview?unit={other}", headers=headers)
        assert response.status_code == 422, other
        assert response.json()["error"]["code"] == "invalid_input"
        assert client.get(f"/orgs/acme?unit={other}", headers=headers).status_code == 422
    assert client.get("/api/v1/orgs/globex/overview", headers=headers).status_code == 403
    # The org list shows the unit's numbers, not the whole org's.
    assert listed(client, headers) == [("acme", 1, 1, 5)]
    page = client.get("/orgs/acme", headers=headers)
    assert page.status_code == 200
    assert '<span class="value">5</span>' in page.text and "acme-south" not in page.text


def test_unit_admin_without_units_sees_no_numbers(
    client: TestClient, factory: Factory, world: World
) -> None:
    headers = bearer(factory, factory.user(Role.UNIT_ADMIN, org_id=world.acme))
    body = client.get("/api/v1/orgs/acme/overview", headers=headers).json()
    assert kpi_subset(body) == dict.fromkeys(ACME_TOTALS, 0)
    assert body["units"] == []
    assert listed(client, headers) == [("acme", 0, 0, 0)]


# ---------------------------------------------------------------------------------- redirects
def test_org_deep_links_redirect_to_the_overview(
    client: TestClient, factory: Factory, world: World
) -> None:
    factory.login(client, factory.user(Role.PLATFORM_ADMIN))
    for path in ("/?org=globex", "/dashboard?org=globex"):
        response = client.get(path, follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, "/orgs/globex"), path
    followed = client.get("/dashboard?org=acme")
    assert followed.status_code == 200 and str(followed.url).endswith("/orgs/acme")
    # Staff land on the org list, which links to both orgs.
    home = client.get("/")
    assert home.status_code == 200
    assert 'href="/orgs/acme"' in home.text and 'href="/orgs/globex"' in home.text


def test_anonymous_users_are_sent_to_sign_in(client: TestClient, world: World) -> None:
    for path, location in (("/", "/login"), ("/orgs/acme", "/login?next=/orgs/acme")):
        response = client.get(path, follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, location)
    for path in ("/api/v1/orgs", "/api/v1/orgs/acme/overview"):
        response = client.get(path)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"


# ---------------------------------------------------------------------------------- audit
def test_every_successful_overview_read_is_audited(
    client: TestClient, factory: Factory, engine: Engine, world: World
) -> None:
    email = factory.user(Role.ORG_ADMIN, org_id=world.acme)
    headers = bearer(factory, email)
    user_id = _user_id(engine, email)
    assert client.get("/api/v1/orgs/acme/overview?days=7", headers=headers).status_code == 200
    assert client.get("/orgs/acme?unit=acme-north", headers=headers).status_code == 200
    assert client.get("/api/v1/orgs/globex/overview", headers=headers).status_code == 403
    assert client.get("/api/v1/orgs/acme/overview?unit=nope", headers=headers).status_code == 422
    rows = audit(engine, "analytics.read", target="org_overview")
    assert [(r["org_id"], r["actor_user_id"], r["actor_kind"], r["outcome"], r["details"])
            for r in rows] == [
        (world.acme, user_id, "token", "ok", {"format": "json", "days": 7, "unit": None}),
        (world.acme, user_id, "token", "ok", {"format": "html", "days": 30, "unit": "acme-north"}),
    ]
    assert all(r["request_id"] for r in rows)
