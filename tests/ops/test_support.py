"""Support requests: context and tracking id, audit, screenshot rules, queue, status, purge."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from datasets import NOW, track
from factories import Factory
from opsdata import PII, acme, csrf, session
from orgpulse.auth import Role, find_user_id
from orgpulse.core import clock
from orgpulse.core.tenancy import TenantScope, scoped, unscoped
from orgpulse.ops.support import purge_expired_support_context

pytestmark = pytest.mark.usefixtures("frozen")

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15"
          " (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


def file_request(client: TestClient, *, org: str = "acme", files: Any = None,
                 **fields: str) -> Any:
    data = {"category": "recording", "severity": "high",
            "description": "Uploads keep failing in room 12", "csrf_token": csrf(client)}
    data.update(fields)
    return client.post(f"/orgs/{org}/support", data=data, files=files,
                       headers={"User-Agent": IPHONE})


def stored(owner: Engine) -> list[dict[str, Any]]:
    with owner.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(text(
            "SELECT org_id, tracking_id, requester_user_id, status, context_json,"
            " screenshot_type, octet_length(screenshot) AS size FROM support_requests"
            " ORDER BY request_id"))]


def audit(engine: Engine, action: str) -> list[dict[str, Any]]:
    with unscoped(engine) as conn:
        return [dict(r._mapping) for r in conn.execute(text(
            "SELECT actor_user_id, org_id, target, details FROM audit_records"
            " WHERE action = :a ORDER BY audit_id"), {"a": action})]


def user_id(factory: Factory, email: str) -> int:
    with unscoped(factory.engine) as conn:
        return find_user_id(conn, email=email)


def test_request_carries_context_and_tracking_id_and_is_audited(
    factory: Factory, owner: Engine
) -> None:
    org = acme(factory)
    # 55 more failed uploads: only the newest 50 errors of the org are attached.
    factory.send([track("s1", "Upload Failed", 0, upload_id=f"n{i}",
                        error=f"quota for amelia.watts@acme.org #{i}") for i in range(55)])
    email = factory.user(Role.MEMBER, org_id=org, email="teacher.one@acme.org")
    client = session(factory, email)
    response = file_request(client, files={"screenshot": ("shot.png", PNG, "image/png")})
    assert response.status_code == 201
    assert "SR-2026-000001" in response.text

    [row] = stored(owner)
    assert (row["org_id"], row["tracking_id"], row["status"]) == (org, "SR-2026-000001", "open")
    assert (row["screenshot_type"], row["size"]) == ("image/png", len(PNG))
    ctx = row["context_json"]
    assert ctx["tenant_id"] == org and ctx["user_id"] == user_id(factory, email)
    assert ctx["role"] == "member"
    assert {k: ctx["client"][k] for k in ("browser", "os", "device")} == {
        "browser": "Safari", "os": "iOS", "device": "mobile"}
    assert ctx["privacy"] == {"mode": "standard", "min_cohort_size": 10,
                              "aggregate_only_for_requester": False}
    assert ctx["flags"]["support_context_retention_days"] == 180
    errors = ctx["recent_errors"]
    assert len(errors) == 50
    assert {e["event"] for e in errors} == {"Upload Failed"}
    assert all(re.fullmatch(r"quota for \[email\] #\d+", e["message"]) for e in errors)
    dumped = json.dumps(ctx)
    for secret in (*PII, "amelia.watts", "teacher.one@acme.org"):
        assert secret not in dumped

    [entry] = audit(factory.engine, "support.request_created")
    assert (entry["org_id"], entry["target"]) == (org, "SR-2026-000001")
    assert entry["actor_user_id"] == user_id(factory, email)
    assert entry["details"] == {"category": "recording", "severity": "high",
                                "screenshot": True, "errors_attached": 50}
    with owner.connect() as conn:
        history = conn.execute(text(
            "SELECT kind, from_status, to_status FROM support_request_events")).all()
    assert history == [("created", None, "open")]


def test_api_filing_answers_the_tracking_id(factory: Factory, owner: Engine) -> None:
    org = acme(factory)
    email = factory.user(Role.ORG_ADMIN, org_id=org)
    client = TestClient(factory.app, base_url="http://testserver")
    response = client.post(
        "/api/v1/orgs/acme/support-requests",
        data={"category": "rostering", "severity": "urgent", "description": "Sync broken"},
        headers={"Authorization": f"Bearer {factory.token(email)}"},
    )
    assert response.status_code == 201
    assert response.json()["tracking_id"] == "SR-2026-000001"
    # Newest first; ties on time by event name: yesterday's sync failure, then upload failure.
    assert stored(owner)[0]["context_json"]["recent_errors"][:2] == [
        {"event": "Roster Sync Failed", "at": "2026-06-14T10:00:00+00:00", "unit_id": None,
         "message": "SIS timeout"},
        {"event": "Upload Failed", "at": "2026-06-14T10:00:00+00:00", "unit_id": None,
         "message": "network timeout"},
    ]


@pytest.mark.parametrize(
    ("files", "status", "words"),
    [
        ({"screenshot": ("x.png", b"GIF89a" + b"\x00" * 10, "image/png")}, 422, "PNG or JPEG"),
        ({"screenshot": ("x.html", b"<html><script>alert(1)</script>", "image/jpeg")}, 422,
         "PNG or JPEG"),
        ({"screenshot": ("x.png", PNG + b"\x00" * 2_000_000, "image/png")}, 413,
         "the limit is 2000000 bytes"),
    ],
)
def test_bad_screenshots_are_refused_and_nothing_is_stored(
    factory: Factory, owner: Engine, files: Any, status: int, words: str
) -> None:
    org = acme(factory)
    client = session(factory, factory.user(Role.MEMBER, org_id=org))
    response = file_request(client, files=files)
    assert response.status_code == status
    assert words in response.text
    assert stored(owner) == []
    assert audit(factory.engine, "support.request_created") == []


def test_missing_fields_are_named(factory: Factory, owner: Engine) -> None:
    org = acme(factory)
    email = factory.user(Role.MEMBER, org_id=org)
    response = TestClient(factory.app).post(
        "/api/v1/orgs/acme/support-requests",
        data={"category": "nope", "severity": "high", "description": " "},
        headers={"Authorization": f"Bearer {factory.token(email)}"},
    )
    assert response.status_code == 422
    fields = [d["field"] for d in response.json()["error"]["details"]]
    assert fields == ["category", "description"]
    assert stored(owner) == []


def test_screenshot_is_a_download_for_requester_and_support_only(factory: Factory) -> None:
    org = acme(factory)
    requester = session(factory, factory.user(Role.MEMBER, org_id=org))
    assert file_request(
        requester, files={"screenshot": ("s.jpg", JPEG, "image/jpeg")}).status_code == 201
    url = "/orgs/acme/support/SR-2026-000001/screenshot"
    for client in (requester, session(factory, factory.user(Role.SUPPORT))):
        response = client.get(url)
        assert response.status_code == 200
        assert response.content == JPEG
        assert response.headers["content-type"] == "image/jpeg"
        assert response.headers["content-disposition"] == (
            'attachment; filename="SR-2026-000001.jpg"')
        assert response.headers["x-content-type-options"] == "nosniff"
    other_member = session(factory, factory.user(Role.MEMBER, org_id=org))
    assert other_member.get(url).status_code == 404
    org_admin = session(factory, factory.user(Role.ORG_ADMIN, org_id=org))
    assert org_admin.get(url).status_code == 404


def test_queue_visibility_member_sees_own_support_sees_all(factory: Factory) -> None:
    org = acme(factory)
    globex = factory.org("globex", "Globex")
    alice = session(factory, factory.user(Role.MEMBER, org_id=org))
    bob = session(factory, factory.user(Role.MEMBER, org_id=org))
    gina = session(factory, factory.user(Role.MEMBER, org_id=globex))
    assert file_request(alice, description="alice's").status_code == 201  # SR-2026-000001
    assert file_request(bob, description="bob's").status_code == 201  # SR-2026-000002
    assert file_request(gina, org="globex").status_code == 201  # SR-2026-000003

    def ids(client: TestClient, path: str) -> list[str]:
        response = client.get(path)
        assert response.status_code == 200, response.text
        return [r["tracking_id"] for r in response.json()]

    assert ids(alice, "/api/v1/orgs/acme/support-requests") == ["SR-2026-000001"]
    assert ids(bob, "/api/v1/orgs/acme/support-requests") == ["SR-2026-000002"]
    assert alice.get("/orgs/acme/support/SR-2026-000002").status_code == 404
    assert alice.get("/api/v1/support-requests").status_code == 403
    assert alice.get("/support/queue").status_code == 403

    support_staff = session(factory, factory.user(Role.SUPPORT))
    assert ids(support_staff, "/api/v1/support-requests") == [
        "SR-2026-000003", "SR-2026-000002", "SR-2026-000001"]
    assert ids(support_staff, "/api/v1/orgs/acme/support-requests") == [
        "SR-2026-000002", "SR-2026-000001"]
    queue = support_staff.get("/support/queue")
    assert queue.status_code == 200 and "SR-2026-000003" in queue.text
    detail = support_staff.get("/orgs/acme/support/SR-2026-000002")
    assert detail.status_code == 200 and "bob&#39;s" in detail.text
    assert "recent_errors" in detail.text  # support sees the attached context

    # Cross-tenant: Globex's member cannot open Acme, nor Acme's request through Globex.
    assert gina.get("/orgs/acme/support").status_code == 403
    assert gina.get("/orgs/acme/support/SR-2026-000001").status_code == 403
    assert gina.get("/orgs/globex/support/SR-2026-000001").status_code == 404
    platform = session(factory, factory.user(Role.PLATFORM_ADMIN))
    assert len(ids(platform, "/api/v1/support-requests")) == 3


def test_status_changes_are_audited_and_follow_the_rules(factory: Factory) -> None:
    org = acme(factory)
    member = session(factory, factory.user(Role.MEMBER, org_id=org))
    assert file_request(member).status_code == 201
    staff_email = factory.user(Role.SUPPORT)
    staff = session(factory, staff_email)
    url = "/orgs/acme/support/SR-2026-000001/status"

    def move(client: TestClient, to: str) -> int:
        r = client.post(url, data={"status": to, "csrf_token": csrf(client)},
                        follow_redirects=False)
        return r.status_code

    assert move(member, "closed") == 403
    assert move(staff, "in_progress") == 303
    assert move(staff, "resolved") == 303
    assert move(staff, "closed") == 303
    assert move(staff, "open") == 409  # closed stays closed
    assert move(staff, "bogus") == 422
    changes = audit(factory.engine, "support.status_changed")
    assert [(c["details"]["before"]["status"], c["details"]["after"]["status"])
            for c in changes] == [("open", "in_progress"), ("in_progress", "resolved"),
                                  ("resolved", "closed")]
    assert {c["actor_user_id"] for c in changes} == {user_id(factory, staff_email)}
    history = member.get("/api/v1/orgs/acme/support-requests/SR-2026-000001").json()["history"]
    assert [(h["from_status"], h["to_status"]) for h in history] == [
        (None, "open"), ("open", "in_progress"), ("in_progress", "resolved"),
        ("resolved", "closed")]


def test_purge_expired_support_context(factory: Factory, owner: Engine) -> None:
    org = acme(factory)
    client = session(factory, factory.user(Role.MEMBER, org_id=org))
    clock.freeze(NOW - timedelta(days=181))
    assert file_request(client, files={"screenshot": ("s.png", PNG, "image/png")}
                        ).status_code == 201  # SR-2025-000001, 181 days old at NOW
    clock.freeze(NOW - timedelta(days=179))
    assert file_request(client).status_code == 201  # SR-2025-000002, inside the retention
    clock.freeze(NOW)
    with scoped(factory.engine, TenantScope.all_orgs([org], user_id=None)) as conn:
        assert purge_expired_support_context(conn=conn, now=NOW, retention_days=180) == 1
    with scoped(factory.engine, TenantScope.all_orgs([org], user_id=None)) as conn:
        assert purge_expired_support_context(conn=conn, now=NOW, retention_days=180) == 0
    old, recent = stored(owner)
    assert old["tracking_id"] == "SR-2025-000001"
    assert (old["context_json"], old["screenshot_type"], old["size"]) == (None, None, None)
    assert old["status"] == "open"
    assert recent["context_json"] is not None
    # Without a tenant context nothing is visible, so nothing is purged (fails closed).
    with owner.begin() as conn:
        conn.execute(text("UPDATE support_requests SET context_purged_at = NULL"))
    with unscoped(factory.engine) as conn:
        assert purge_expired_support_context(conn=conn, now=NOW, retention_days=1) == 0


def test_form_without_a_chosen_file_files_without_screenshot(
    factory: Factory, owner: Engine
) -> None:
    """A browser sends an empty file part when no screenshot is chosen."""
    org = acme(factory)
    client = session(factory, factory.user(Role.MEMBER, org_id=org))
    response = file_request(client, files={"screenshot": ("", b"", "application/octet-stream")})
    assert response.status_code == 201
    assert stored(owner)[0]["screenshot_type"] is None


def test_retention_run_purges_expired_support_context(factory: Factory, owner: Engine) -> None:
    """``orgpulse retention run`` carries the support step: dry run counts, a real run purges."""
    from orgpulse.jobs.retention import run_retention

    org = acme(factory)
    client = session(factory, factory.user(Role.MEMBER, org_id=org))
    for age in (200, 181, 179):
        clock.freeze(NOW - timedelta(days=age))
        assert file_request(client).status_code == 201
    clock.freeze(NOW)
    with owner.begin() as conn:
        lines = run_retention(conn, settings=factory.settings, now=NOW, dry_run=True)
    assert "would purge the context of 2 support request(s) older than 180 days" in lines
    with owner.begin() as conn:
        lines = run_retention(conn, settings=factory.settings, now=NOW, dry_run=False)
    assert "purged the context of 2 support request(s) older than 180 days" in lines
    assert [r["context_json"] is None for r in stored(owner)] == [True, True, False]
