"""One audit record per kind of action, with every audit field that kind sets."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from factories import PASSWORD, Factory
from orgpulse.auth import Role, find_user_id
from orgpulse.core.tenancy import unscoped

FIELDS = ("actor_user_id", "actor_kind", "org_id", "action", "target", "outcome", "query_type",
          "cohort_size", "suppressed", "export_kind", "ip")


def records(engine: Engine) -> list[dict[str, Any]]:
    with unscoped(engine) as conn:
        rows = conn.execute(
            text("SELECT * FROM audit_records ORDER BY audit_id")
        ).mappings().all()
    return [dict(r) for r in rows]


def fields(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[f] for f in FIELDS)


def test_each_action_kind_writes_its_record(
    client: TestClient, factory: Factory, engine: Engine
) -> None:
    acme = factory.org("acme", "Acme")
    globex = factory.org("globex", "Globex")
    email = factory.user(Role.ORG_ADMIN, org_id=acme, email="oa@example.test")
    with unscoped(engine) as conn:
        uid = find_user_id(conn, email=email)

    client.get("/login")
    csrf = client.cookies.get("orgpulse_csrf")
    failed = client.post("/login", data={"email": email, "password": "wrong password!",
                                         "csrf_token": csrf, "next": "/"})
    assert failed.status_code == 401
    factory.login(client, email, PASSWORD)
    assert client.get("/api/v1/orgs/acme/overview").status_code == 200
    assert client.get("/orgs/acme/adoption.csv").status_code == 200
    assert client.get("/api/v1/orgs/globex/overview").status_code == 403
    csrf = client.cookies.get("orgpulse_csrf")
    changed = client.put("/api/v1/orgs/acme/privacy", json={"min_cohort_size": 11},
                         headers={"X-CSRF-Token": csrf})
    assert changed.status_code == 200

    rows = records(engine)
    ip = "testclient"
    assert [fields(r) for r in rows] == [
        (None, "anonymous", None, "auth.login", email, "failed", None, None, None, None, ip),
        (uid, "session", None, "auth.login", email, "ok", None, None, None, None, ip),
        (uid, "session", acme, "analytics.read", "org_overview", "ok", "org_overview", None,
         False, None, ip),
        (uid, "session", acme, "export.csv", "adoption_list", "ok", "adoption_list", None, False,
         "csv", ip),
        (uid, "session", globex, "org.access_denied", "globex", "denied", None, None, None,
         None, ip),
        (uid, "session", acme, "admin.privacy_changed", "acme", "ok", None, None, None, None,
         ip),
    ]
    assert all(r["request_id"] for r in rows)
    assert rows[4]["details"] == {"permission": "view_org_analytics",
                                  "path": "/api/v1/orgs/globex/overview", "reason": "role"}
    assert rows[5]["details"] == {
        "before": {"mode": "standard", "min_cohort_size": 10},
        "after": {"mode": "standard", "min_cohort_size": 11},
    }
