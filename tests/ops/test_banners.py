"""Implementation banners: per role, dismissal per user, back after clear-and-return."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from datasets import NOW, track
from factories import Factory
from opsdata import csrf, session
from orgpulse.auth import Role
from orgpulse.core import clock

pytestmark = pytest.mark.usefixtures("frozen")


def shown(client: TestClient, path: str) -> set[str]:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return {key for key in ("sso_without_rostering", "no_assignments", "upload_failures",
                            "stale_data") if f'data-banner="{key}"' in page.text}


def org_with_sso_no_rostering(factory: Factory) -> int:
    """SSO set up 5 days ago, never a roster sync; a teacher signed in today, no assignment."""
    org = factory.org("acme", "Acme Schools")
    factory.send([{"type": "identify", "userId": u, "traits": {"role": r},
                   "context": {"groupId": "acme"}, "timestamp": "2026-06-01T00:00:00Z"}
                  for u, r in (("a1", "admin"), ("t1", "teacher"))])
    factory.send([track("a1", "SSO Configured", 5), track("t1", "Login", 0)])
    return org


def test_banners_shown_to_the_roles_they_concern(factory: Factory) -> None:
    org = org_with_sso_no_rostering(factory)
    admin = session(factory, factory.user(Role.ORG_ADMIN, org_id=org))
    member = session(factory, factory.user(Role.MEMBER, org_id=org))
    unit_admin = session(factory, factory.user(Role.UNIT_ADMIN, org_id=org))
    manager = session(factory, factory.user(Role.ACCOUNT_MANAGER, org_id=org))
    assert shown(admin, "/orgs/acme") == {"sso_without_rostering", "no_assignments"}
    assert shown(admin, "/orgs/acme/health") == {"sso_without_rostering", "no_assignments"}
    # A teacher (member) is prompted to create an assessment, never about SSO setup.
    assert shown(member, "/orgs/acme/support") == {"no_assignments"}
    assert shown(unit_admin, "/orgs/acme/support") == {"no_assignments"}
    assert shown(manager, "/orgs/acme") == set()
    # An assignment clears the "first assessment" banner for everyone.
    factory.send([track("t1", "Assignment Created", 0, assignment_id="x1")])
    assert shown(admin, "/orgs/acme") == {"sso_without_rostering"}
    assert shown(member, "/orgs/acme/support") == set()


def test_stale_data_and_upload_failure_banners(factory: Factory) -> None:
    org = factory.org("acme", "Acme Schools")
    factory.send([{"type": "identify", "userId": "s1", "traits": {"role": "student"},
                   "context": {"groupId": "acme"}, "timestamp": "2026-06-10T00:00:00Z"}])
    # 20 uploads started, 3 failed two days ago: 15% = the catalog's bad rate, 20 = its minimum.
    factory.send([track("s1", "Upload Started", 2, upload_id=f"u{i}") for i in range(20)]
                 + [track("s1", "Upload Failed", 2, upload_id=f"u{i}", error="x")
                    for i in range(3)])
    admin = session(factory, factory.user(Role.ORG_ADMIN, org_id=org))
    manager = session(factory, factory.user(Role.ACCOUNT_MANAGER, org_id=org))
    assert shown(admin, "/orgs/acme") == {"upload_failures"}
    # A day and an hour later the newest event (the org's group call at NOW) is stale.
    clock.freeze(NOW + timedelta(days=1, hours=1))
    assert shown(admin, "/orgs/acme") == {"stale_data", "upload_failures"}
    assert shown(manager, "/orgs/acme") == {"stale_data"}
    page = admin.get("/orgs/acme").text
    assert 'href="/orgs/acme-schools/diagnostics#recording"' in page


def test_dismissal_persists_per_user_and_banner_returns_with_its_condition(
    factory: Factory, owner: Engine
) -> None:
    org = org_with_sso_no_rostering(factory)
    admin_email = factory.user(Role.ORG_ADMIN, org_id=org)
    admin = session(factory, admin_email)
    other_admin = session(factory, factory.user(Role.ORG_ADMIN, org_id=org))
    assert "sso_without_rostering" in shown(admin, "/orgs/acme")

    response = admin.post(
        "/orgs/acme/banners/sso_without_rostering/dismiss",
        data={"csrf_token": csrf(admin), "next": "/orgs/acme"}, follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/orgs/acme"
    assert "sso_without_rostering" not in shown(admin, "/orgs/acme")
    # Stored, not a cookie: a fresh login of the same user still does not see it.
    assert "sso_without_rostering" not in shown(session(factory, admin_email), "/orgs/acme/health")
    assert "sso_without_rostering" in shown(other_admin, "/orgs/acme")

    # Condition clears: a roster sync succeeds.
    factory.send([track("a1", "Roster Sync Completed", 0, sync_id="y1")])
    assert "sso_without_rostering" not in shown(admin, "/orgs/acme")
    # ... and comes back: 8 days later no sync has succeeded in the last 7 days.
    clock.freeze(NOW + timedelta(days=8))
    assert "sso_without_rostering" in shown(admin, "/orgs/acme")
    with owner.connect() as conn:
        episodes = conn.execute(
            text("SELECT started_at, cleared_at IS NOT NULL FROM banner_episodes"
                 " WHERE banner = 'sso_without_rostering' ORDER BY started_at")
        ).all()
    assert episodes == [(NOW, True), (NOW + timedelta(days=8), False)]


def test_dismiss_needs_csrf_and_access_to_the_org(factory: Factory) -> None:
    org = org_with_sso_no_rostering(factory)
    globex = factory.org("globex", "Globex")
    admin = session(factory, factory.user(Role.ORG_ADMIN, org_id=org))
    outsider = session(factory, factory.user(Role.ORG_ADMIN, org_id=globex))
    shown(admin, "/orgs/acme")
    assert admin.post("/orgs/acme/banners/sso_without_rostering/dismiss",
                      data={"csrf_token": "forged"}).status_code == 403
    assert outsider.post("/orgs/acme/banners/sso_without_rostering/dismiss",
                         data={"csrf_token": csrf(outsider)}).status_code == 403
    assert admin.post("/orgs/acme/banners/nope/dismiss",
                      data={"csrf_token": csrf(admin)}).status_code == 404
    assert "sso_without_rostering" in shown(admin, "/orgs/acme")


@pytest.mark.parametrize("target", ["//evil.example/x", "/\\evil.example", "https://evil.example"])
def test_dismiss_redirects_only_within_the_site(factory: Factory, target: str) -> None:
    org = org_with_sso_no_rostering(factory)
    admin = session(factory, factory.user(Role.ORG_ADMIN, org_id=org))
    response = admin.post("/orgs/acme/banners/stale_data/dismiss",
                          data={"csrf_token": csrf(admin), "next": target},
                          follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/orgs/acme-schools/support"


def test_banners_cost_one_statement_per_page_once_episodes_are_open(factory: Factory) -> None:
    from sqlalchemy import event

    from orgpulse.ops.banners import page_banners

    org_with_sso_no_rostering(factory)
    statements: list[str] = []

    def count(_conn: object, _cursor: object, sql: str, *_args: object) -> None:
        if "banner" in sql or "FROM events" in sql:
            statements.append(sql)

    def evaluate() -> list[str]:
        return [b.key for b in page_banners(
            engine=factory.engine, org_id=1, slug="acme-schools", user_id=1,
            role=Role.ORG_ADMIN, now=NOW, upload_bad_rate=0.15, upload_min_started=20)]

    event.listen(factory.engine, "before_cursor_execute", count)
    try:
        first = evaluate()  # opens two episodes: one statement plus two inserts
        assert len(statements) == 3
        statements.clear()
        assert evaluate() == first == ["sso_without_rostering", "no_assignments"]
        assert len(statements) == 1
    finally:
        event.remove(factory.engine, "before_cursor_execute", count)
