"""Deliveries and Webhooks admin pages: what they show, retry and endpoint changes (CSRF,
audited), JSON twins from the same service calls, and who may use them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from factories import Factory
from orgpulse.auth import Role, find_user_id
from orgpulse.core.tenancy import unscoped
from orgpulse.notify import Attachment, enqueue_email, enqueue_webhook


def _csrf(client: TestClient) -> str:
    token = client.cookies.get("orgpulse_csrf")
    assert token
    return token


def _endpoint(engine: Engine, name: str = "ops", url: str = "https://hooks.example.com/op",
              enabled: bool = True) -> int:
    with unscoped(engine) as conn:
        return int(conn.execute(
            text("INSERT INTO webhook_endpoints (name, url, secret, enabled)"
                 " VALUES (:n, :u, 'whsec_x', :e) RETURNING endpoint_id"),
            {"n": name, "u": url, "e": enabled},
        ).scalar_one())


def _outbox(engine: Engine, now: datetime) -> dict[str, int]:
    """One sent email (with a PDF), one dead webhook, one pending email."""
    endpoint = _endpoint(engine)
    with unscoped(engine) as conn:
        sent = enqueue_email(conn, to="am@example.com", subject="Alert: Acme health 41",
                             body_text="b", source="alert:1", now=now - timedelta(hours=2),
                             attachments=[Attachment("r.pdf", "application/pdf", b"%PDF")])
        dead = enqueue_webhook(conn, endpoint_id=endpoint, event="alert.opened",
                               payload={"alert_id": 2}, source="alert:2",
                               now=now - timedelta(hours=1))
        pending = enqueue_email(conn, to="vp@example.com", subject="Weekly portfolio",
                                body_text="b", source="subscription:3", now=now)
        conn.execute(text("UPDATE deliveries SET status = 'sent', attempts = 1, sent_at = :t"
                          " WHERE delivery_id = :d"), {"t": now - timedelta(hours=2), "d": sent})
        conn.execute(text("UPDATE deliveries SET status = 'dead', attempts = 6,"
                          " last_error = 'HTTP 410: gone', last_status_code = 410"
                          " WHERE delivery_id = :d"), {"d": dead})
    return {"sent": sent, "dead": dead, "pending": pending, "endpoint": endpoint}


def _audit(engine: Engine, action: str) -> list[dict[str, Any]]:
    with unscoped(engine) as conn:
        rows = conn.execute(
            text("SELECT actor_kind, target, outcome, details FROM audit_records"
                 " WHERE action = :a ORDER BY audit_id"), {"a": action},
        ).mappings().all()
    return [dict(r) for r in rows]


def test_deliveries_page_lists_filters_and_says_smtp_is_unset(
    client: TestClient, factory: Factory, engine: Engine, frozen: datetime
) -> None:
    ids = _outbox(engine, frozen)
    factory.login(client, factory.user(Role.PLATFORM_ADMIN))
    page = client.get("/admin/deliveries")
    assert page.status_code == 200
    html = page.text
    assert "SMTP not configured" in html
    assert "All (3)" in html and "Pending (1)" in html and "Sent (1)" in html
    assert "Dead (1)" in html
    for d in ids.values():
        if d != ids["endpoint"]:
            assert f'id="delivery-{d}"' in html
    assert "HTTP 410: gone" in html and "ops &lt;https://hooks.example.com/op&gt;" in html
    assert "6 / 6" in html and "email · 1 file" in html
    # Retry buttons on the dead and the pending row, not on the sent one.
    assert f'action="/admin/deliveries/{ids["dead"]}/retry"' in html
    assert f'action="/admin/deliveries/{ids["pending"]}/retry"' in html
    assert f'action="/admin/deliveries/{ids["sent"]}/retry"' not in html
    dead_only = client.get("/admin/deliveries?status=dead").text
    assert f'id="delivery-{ids["dead"]}"' in dead_only
    assert f'id="delivery-{ids["sent"]}"' not in dead_only
    emails = client.get("/admin/deliveries?channel=email").text
    assert "All (2)" in emails and f'id="delivery-{ids["dead"]}"' not in emails
    empty = client.get("/admin/deliveries?status=dead&channel=email").text
    assert "No deliveries dead by email yet." in empty


def test_deliveries_api_pages_fifty_at_a_time(
    client: TestClient, factory: Factory, engine: Engine, frozen: datetime
) -> None:
    endpoint = _endpoint(engine)
    with unscoped(engine) as conn:
        ids = [enqueue_webhook(conn, endpoint_id=endpoint, event="e", payload={"n": n},
                               source="test", now=frozen) for n in range(51)]
    headers = {"Authorization": f"Bearer {factory.token(factory.user(Role.PLATFORM_ADMIN))}"}
    first = client.get("/api/v1/admin/deliveries", headers=headers).json()
    assert (first["total"], first["pages"], first["page"]) == (51, 2, 1)
    assert [d["delivery_id"] for d in first["deliveries"]] == ids[::-1][:50]
    assert first["counts"] == {"pending": 51, "sent": 0, "dead": 0}
    assert first["smtp_configured"] is False
    row = first["deliveries"][0]
    assert (row["recipient"], row["status"], row["attempts"], row["endpoint_enabled"]) == (
        "ops <https://hooks.example.com/op>", "pending", 0, True
    )
    second = client.get("/api/v1/admin/deliveries?page=2", headers=headers).json()
    assert [d["delivery_id"] for d in second["deliveries"]] == [ids[0]]
    bad = client.get("/api/v1/admin/deliveries?status=lost", headers=headers)
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["field"] == "query.status"


def test_retry_now_needs_csrf_is_audited_and_refuses_sent_rows(
    client: TestClient, factory: Factory, engine: Engine, frozen: datetime
) -> None:
    ids = _outbox(engine, frozen)
    factory.login(client, factory.user(Role.PLATFORM_ADMIN))
    client.get("/admin/deliveries")
    forged = client.post(f"/admin/deliveries/{ids['dead']}/retry", data={"csrf_token": "x.y"},
                         follow_redirects=False)
    assert forged.status_code == 403
    done = client.post(f"/admin/deliveries/{ids['dead']}/retry",
                       data={"csrf_token": _csrf(client), "back": "/admin/deliveries?status=dead"},
                       follow_redirects=False)
    assert (done.status_code, done.headers["location"]) == (303, "/admin/deliveries?status=dead")
    with unscoped(engine) as conn:
        row = conn.execute(text("SELECT status, attempts, next_attempt_at FROM deliveries"
                                " WHERE delivery_id = :d"), {"d": ids["dead"]}).one()
    assert tuple(row) == ("pending", 0, frozen)
    [audit] = _audit(engine, "delivery.retried")
    assert (audit["actor_kind"], audit["target"], audit["outcome"]) == (
        "session", f"delivery:{ids['dead']}", "ok"
    )
    assert audit["details"]["before"]["status"] == "dead"
    assert audit["details"]["before"]["attempts"] == 6
    assert audit["details"]["after"] == {"status": "pending", "attempts": 0,
                                         "next_attempt_at": frozen.isoformat()}
    # The JSON twin: a cookie needs the CSRF header; a sent row is a 409; unknown is 404.
    assert client.post(f"/api/v1/admin/deliveries/{ids['sent']}/retry").status_code == 403
    headers = {"X-CSRF-Token": _csrf(client)}
    sent = client.post(f"/api/v1/admin/deliveries/{ids['sent']}/retry", headers=headers)
    assert (sent.status_code, sent.json()["error"]["message"]) == (
        409, f"delivery {ids['sent']} was already sent; it cannot be retried"
    )
    assert client.post("/api/v1/admin/deliveries/999/retry", headers=headers).status_code == 404
    pending = client.post(f"/api/v1/admin/deliveries/{ids['pending']}/retry", headers=headers)
    assert (pending.status_code, pending.json()["status"]) == (200, "pending")
    assert len(_audit(engine, "delivery.retried")) == 2


def test_cs_leader_reads_without_retry_buttons(
    client: TestClient, factory: Factory, engine: Engine, frozen: datetime
) -> None:
    ids = _outbox(engine, frozen)
    leader = factory.user(Role.CS_LEADER)
    factory.login(client, leader)
    page = client.get("/admin/deliveries")
    assert page.status_code == 200 and f'id="delivery-{ids["dead"]}"' in page.text
    assert "Retry now" not in page.text
    hooks = client.get("/admin/webhooks")
    assert hooks.status_code == 200 and "Add an endpoint" not in hooks.text
    retry = client.post(f"/admin/deliveries/{ids['dead']}/retry",
                        data={"csrf_token": _csrf(client)})
    assert retry.status_code == 403
    headers = {"Authorization": f"Bearer {factory.token(leader)}"}
    create = client.post("/api/v1/admin/webhooks", json={"name": "x", "url": "https://x.test"},
                         headers=headers)
    assert create.status_code == 403
    denied = _audit(engine, "admin.deliveries") + _audit(engine, "admin.webhooks")
    assert [(a["target"], a["outcome"]) for a in denied] == [
        (f"deliveries:{ids['dead']}", "denied"), ("webhooks", "denied")
    ]


@pytest.mark.parametrize("role", [Role.ACCOUNT_MANAGER, Role.SUPPORT, Role.ORG_ADMIN,
                                  Role.MEMBER])
def test_other_roles_are_refused(
    client: TestClient, factory: Factory, engine: Engine, role: Role
) -> None:
    org = factory.org("acme", "Acme")
    staff = role in (Role.ACCOUNT_MANAGER, Role.SUPPORT)
    user = factory.user(role, org_id=None if staff and role == Role.SUPPORT else org)
    headers = {"Authorization": f"Bearer {factory.token(user)}"}
    for path in ("/api/v1/admin/deliveries", "/api/v1/admin/webhooks"):
        response = client.get(path, headers=headers)
        assert (response.status_code, response.json()["error"]["code"]) == (403, "forbidden")
    factory.login(client, user)
    assert client.get("/admin/deliveries").status_code == 403
    assert client.get("/admin/webhooks").status_code == 403
    assert "/admin/deliveries" not in client.get("/").text


def test_anonymous_is_asked_to_sign_in(client: TestClient) -> None:
    assert client.get("/api/v1/admin/deliveries").status_code == 401


# ----------------------------------------------------------------------------- webhooks
def test_create_shows_the_secret_once_then_toggle_and_delete(
    client: TestClient, factory: Factory, engine: Engine, frozen: datetime
) -> None:
    admin = factory.user(Role.PLATFORM_ADMIN, email="admin@example.test")
    factory.login(client, admin)
    assert "No webhook endpoints yet." in client.get("/admin/webhooks").text
    created = client.post("/admin/webhooks", data={
        "csrf_token": _csrf(client), "name": "PagerDuty", "url": " https://events.example.com/x ",
    })
    assert created.status_code == 200
    with unscoped(engine) as conn:
        endpoint_id, url, secret, enabled, by = conn.execute(
            text("SELECT endpoint_id, url, secret, enabled, created_by FROM webhook_endpoints")
        ).one()
        admin_id = find_user_id(conn, email=admin)
    assert (url, enabled, by) == ("https://events.example.com/x", True, admin_id)
    assert secret.startswith("whsec_") and len(secret) == 6 + 43
    assert secret in created.text and "shown this once" in created.text
    listing = client.get("/admin/webhooks").text
    assert secret not in listing and "PagerDuty" in listing and "by admin@example.test" in listing

    off = client.post(f"/admin/webhooks/{endpoint_id}/enabled",
                      data={"csrf_token": _csrf(client), "enabled": "false"},
                      follow_redirects=False)
    assert (off.status_code, off.headers["location"]) == (303, "/admin/webhooks")
    assert ">Enable</button>" in client.get("/admin/webhooks").text
    with unscoped(engine) as conn:
        enqueue_webhook(conn, endpoint_id=endpoint_id, event="e", payload={}, source="t",
                        now=frozen)
    assert "endpoint disabled" in client.get("/admin/deliveries").text

    gone = client.post(f"/admin/webhooks/{endpoint_id}/delete",
                       data={"csrf_token": _csrf(client)}, follow_redirects=False)
    assert gone.status_code == 303
    with unscoped(engine) as conn:
        left = conn.execute(text("SELECT (SELECT count(*) FROM webhook_endpoints),"
                                 " (SELECT count(*) FROM deliveries)")).one()
    assert tuple(left) == (0, 0)
    actions = [(a, r["target"], r["details"]) for a in
               ("webhook.created", "webhook.disabled", "webhook.deleted")
               for r in _audit(engine, a)]
    target = f"webhook:{endpoint_id}"
    assert actions == [
        ("webhook.created", target, {"after": {"name": "PagerDuty",
                                               "url": "https://events.example.com/x",
                                               "enabled": True}}),
        ("webhook.disabled", target, {"before": {"enabled": True},
                                      "after": {"enabled": False}}),
        ("webhook.deleted", target, {"before": {"name": "PagerDuty",
                                                "url": "https://events.example.com/x",
                                                "enabled": False},
                                     "deliveries_dropped": {"pending": 1, "dead": 0}}),
    ]
    assert all(secret not in str(r) for a in ("webhook.created",) for r in _audit(engine, a))


@pytest.mark.parametrize(("url", "problem"), [
    ("ftp://files.example.com/x", "the URL must start with http:// or https://"),
    ("javascript:alert(1)", "the URL must start with http:// or https://"),
    ("https://", "the URL has no host"),
    ("https://a b.example.com", "the URL contains whitespace"),
    ("https://user:pw@example.com/", "the URL must not carry a user name or password"),
    ("https://example.com:99999/", "the URL's port is not a number between 0 and 65535"),
    ("", "give the URL the webhook is POSTed to"),
])
def test_bad_urls_are_refused_with_the_reason(
    client: TestClient, factory: Factory, engine: Engine, url: str, problem: str
) -> None:
    admin = factory.user(Role.PLATFORM_ADMIN)
    headers = {"Authorization": f"Bearer {factory.token(admin)}"}
    api = client.post("/api/v1/admin/webhooks", json={"name": "x", "url": url}, headers=headers)
    assert api.status_code == 422
    assert api.json()["error"]["message"] == problem
    assert api.json()["error"]["details"] == [{"field": "url", "problem": problem}]
    factory.login(client, admin)
    page = client.post("/admin/webhooks", data={"csrf_token": _csrf(client), "name": "x",
                                                "url": url})
    assert page.status_code == 422
    with unscoped(engine) as conn:
        assert conn.execute(text("SELECT count(*) FROM webhook_endpoints")).scalar_one() == 0


def test_webhook_api_round_trip(client: TestClient, factory: Factory, engine: Engine) -> None:
    headers = {"Authorization": f"Bearer {factory.token(factory.user(Role.PLATFORM_ADMIN))}"}
    created = client.post("/api/v1/admin/webhooks",
                          json={"name": "ops", "url": "http://10.0.0.5:8080/hook"},
                          headers=headers)
    assert created.status_code == 201
    body = created.json()
    endpoint_id = body["endpoint"]["endpoint_id"]
    assert body["secret"].startswith("whsec_")
    listed = client.get("/api/v1/admin/webhooks", headers=headers).json()
    assert listed == {"endpoints": [{**body["endpoint"]}]}
    assert "secret" not in listed["endpoints"][0]
    patched = client.patch(f"/api/v1/admin/webhooks/{endpoint_id}", json={"enabled": False},
                           headers=headers)
    assert (patched.status_code, patched.json()["enabled"]) == (200, False)
    assert client.patch("/api/v1/admin/webhooks/99", json={"enabled": True},
                        headers=headers).status_code == 404
    name = client.post("/api/v1/admin/webhooks", json={"name": " ", "url": "https://x.test"},
                       headers=headers)
    assert name.json()["error"]["details"] == [
        {"field": "name", "problem": "give a name of 1 to 100 characters"}
    ]
    assert client.delete(f"/api/v1/admin/webhooks/{endpoint_id}", headers=headers).status_code \
        == 204
    assert client.get("/api/v1/admin/webhooks", headers=headers).json() == {"endpoints": []}
