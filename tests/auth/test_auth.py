"""Sign-in, sessions, CSRF, rate limiting, redirects and personal API tokens."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from factories import PASSWORD, Factory
from orgpulse.auth import Role, create_user, find_user_id
from orgpulse.core.config import Settings
from orgpulse.core.errors import InvalidInput
from orgpulse.core.tenancy import unscoped

SESSION = "orgpulse_session"
CSRF = "orgpulse_csrf"


def csrf_of(client: TestClient) -> str:
    page = client.get("/login")
    assert page.status_code == 200
    token = client.cookies.get(CSRF)
    assert token
    return token


def post_login(client: TestClient, email: str, password: str, **extra: Any) -> Any:
    data = {"email": email, "password": password, "csrf_token": csrf_of(client), "next": "/"}
    data.update(extra)
    return client.post("/login", data=data, follow_redirects=False)


def rows(engine: Engine, sql: str, **params: Any) -> list[dict[str, Any]]:
    with unscoped(engine) as conn:
        return [dict(r) for r in conn.execute(text(sql), params).mappings().all()]


def session_cookie_header(response: Any) -> str:
    (header,) = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{SESSION}=")]
    return header


# ---------------------------------------------------------------------------------- login page
def test_login_page_embeds_the_csrf_token_of_its_cookie(client: TestClient) -> None:
    response = client.get("/login?next=/orgs/acme")
    assert response.status_code == 200
    cookie = response.cookies.get(CSRF)
    assert cookie and len(cookie) >= 24
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', response.text))
    assert fields == {"csrf_token": cookie, "next": "/orgs/acme"}
    set_cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith(CSRF))
    assert "httponly" in set_cookie.lower() and "samesite=lax" in set_cookie.lower()
    # The same token is reused while the cookie lives.
    again = client.get("/login")
    assert f'name="csrf_token" value="{cookie}"' in again.text
    assert CSRF not in again.headers.get("set-cookie", "")


def test_login_without_or_with_wrong_csrf_is_refused(
    client: TestClient, factory: Factory, engine: Engine
) -> None:
    email = factory.user(Role.PLATFORM_ADMIN)
    no_cookie = client.post("/login", data={"email": email, "password": PASSWORD,
                                            "csrf_token": "x"}, follow_redirects=False)
    assert no_cookie.status_code == 403
    token = csrf_of(client)
    for bad in ("", "wrong", token[:-1]):
        response = client.post(
            "/login", data={"email": email, "password": PASSWORD, "csrf_token": bad},
            follow_redirects=False,
        )
        assert response.status_code == 403, bad
        assert SESSION not in response.headers.get("set-cookie", "")
    # A token from another browser (cookie) does not match this one's.
    other = TestClient(client.app, base_url="http://testserver")
    with other:
        foreign = csrf_of(other)
    assert foreign != token
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": foreign},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert rows(engine, "SELECT * FROM web_sessions") == []
    assert rows(engine, "SELECT * FROM login_failures") == []


# ---------------------------------------------------------------------------------- failures
def test_wrong_password_is_401_recorded_and_audited(
    client: TestClient, factory: Factory, engine: Engine
) -> None:
    email = factory.user(Role.PLATFORM_ADMIN)
    response = post_login(client, email, "not the password")
    assert response.status_code == 401
    assert "That email and password do not match." in response.text
    assert SESSION not in response.headers.get("set-cookie", "")
    unknown = post_login(client, "nobody@example.test", "whatever-password")
    assert unknown.status_code == 401
    assert unknown.text.count("do not match") == 1  # same answer for unknown accounts

    failures = rows(engine, "SELECT email, ip FROM login_failures ORDER BY failure_id")
    assert failures == [{"email": email, "ip": "testclient"},
                        {"email": "nobody@example.test", "ip": "testclient"}]
    audited = rows(engine, "SELECT * FROM audit_records WHERE action = 'auth.login'"
                           " ORDER BY audit_id")
    assert [(a["target"], a["outcome"], a["actor_user_id"], a["actor_kind"], a["ip"])
            for a in audited] == [
        (email, "failed", None, "anonymous", "testclient"),
        ("nobody@example.test", "failed", None, "anonymous", "testclient"),
    ]
    assert all(a["request_id"] for a in audited)


def test_too_many_failures_are_refused_with_retry_after(
    client: TestClient, factory: Factory, engine: Engine, settings: Settings
) -> None:
    email = factory.user(Role.PLATFORM_ADMIN)
    for _ in range(settings.login_max_failures):
        assert post_login(client, email, "not the password").status_code == 401
    # Even the right password is refused now, without being checked or recorded.
    for password in (PASSWORD, "not the password"):
        response = post_login(client, email, password)
        assert response.status_code == 429
        retry = int(response.headers["retry-after"])
        # Until the oldest failure leaves the window: the whole window, less the seconds spent.
        assert settings.login_window_seconds - 60 <= retry <= settings.login_window_seconds + 1
        assert SESSION not in response.headers.get("set-cookie", "")
    assert len(rows(engine, "SELECT * FROM login_failures")) == settings.login_max_failures
    # The limit is per account: another account from the same address still signs in.
    other = factory.user(Role.PLATFORM_ADMIN)
    assert post_login(client, other, PASSWORD).status_code == 303
    # A success clears the account's failures (one short of the limit, then success).
    with unscoped(engine) as conn:
        conn.execute(text("DELETE FROM login_failures"))
    for _ in range(settings.login_max_failures - 1):
        assert post_login(client, email, "not the password").status_code == 401
    assert post_login(client, email, PASSWORD).status_code == 303
    assert rows(engine, "SELECT * FROM login_failures WHERE email = :e", e=email) == []


# ---------------------------------------------------------------------------------- sessions
def test_login_sets_a_hardened_cookie_and_stores_only_its_hash(
    client: TestClient, factory: Factory, engine: Engine, settings: Settings
) -> None:
    email = factory.user(Role.PLATFORM_ADMIN)
    response = post_login(client, email, PASSWORD, next="/orgs/acme")
    assert response.status_code == 303
    assert response.headers["location"] == "/orgs/acme"
    header = session_cookie_header(response)
    token = header.split(";")[0].split("=", 1)[1]
    attrs = {a.strip().split("=")[0].lower(): a.strip() for a in header.split(";")[1:]}
    assert "httponly" in attrs
    assert attrs["samesite"].lower() == "samesite=lax"
    assert attrs["path"] == "Path=/"
    assert attrs["max-age"] == f"Max-Age={settings.session_days * 86400}"
    assert "secure" not in attrs  # test environment; production sets Secure

    sessions = rows(engine, "SELECT *, web_sessions::text AS whole FROM web_sessions")
    assert len(sessions) == 1
    assert bytes(sessions[0]["token_hash"]) == hashlib.sha256(token.encode()).digest()
    assert token not in sessions[0]["whole"]
    assert rows(engine, "SELECT 1 FROM web_sessions WHERE position(:t IN web_sessions::text) > 0",
                t=token) == []
    assert sessions[0]["user_id"] == _uid(engine, email)
    assert sessions[0]["revoked_at"] is None

    audited = rows(engine, "SELECT * FROM audit_records WHERE action = 'auth.login'")
    assert [(a["target"], a["outcome"], a["actor_user_id"], a["actor_kind"])
            for a in audited] == [(email, "ok", _uid(engine, email), "session")]

    # The cookie signs the browser in.
    assert client.get("/api/v1/orgs").status_code == 200


def _uid(engine: Engine, email: str) -> int:
    with unscoped(engine) as conn:
        return find_user_id(conn, email=email)


def test_logout_revokes_the_session(client: TestClient, factory: Factory, engine: Engine) -> None:
    org = factory.org("acme", "Acme")
    email = factory.user(Role.ORG_ADMIN, org_id=org)
    factory.login(client, email)
    old = client.cookies.get(SESSION)
    assert old
    assert client.get("/orgs/acme").status_code == 200

    # Logging out is a form post: it needs the CSRF token too.
    assert client.post("/logout", data={"csrf_token": "nope"},
                       follow_redirects=False).status_code == 403
    assert client.get("/api/v1/orgs").status_code == 200

    response = client.post("/logout", data={"csrf_token": client.cookies.get(CSRF)},
                           follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login")
    cleared = session_cookie_header(response)
    assert 'orgpulse_session=""' in cleared or "max-age=0" in cleared.lower()
    (session,) = rows(engine, "SELECT revoked_at FROM web_sessions")
    assert session["revoked_at"] is not None
    logout = rows(engine, "SELECT * FROM audit_records WHERE action = 'auth.logout'")
    assert [(a["actor_user_id"], a["actor_kind"]) for a in logout] == [
        (_uid(engine, email), "session")
    ]

    # Replaying the old cookie: pages send you to sign in, the API answers 401 JSON.
    client.cookies.set(SESSION, old)
    page = client.get("/orgs/acme", follow_redirects=False)
    assert (page.status_code, page.headers["location"]) == (303, "/login?next=/orgs/acme")
    home = client.get("/", follow_redirects=False)
    assert (home.status_code, home.headers["location"]) == (303, "/login")
    api = client.get("/api/v1/orgs")
    assert api.status_code == 401
    assert api.json() == {"error": {"code": "not_authenticated",
                                    "message": "sign in or send an API token", "details": []}}


def test_expired_or_forged_sessions_are_anonymous(
    client: TestClient, factory: Factory, engine: Engine
) -> None:
    factory.login(client, factory.user(Role.PLATFORM_ADMIN))
    assert client.get("/api/v1/orgs").status_code == 200
    with unscoped(engine) as conn:
        conn.execute(text("UPDATE web_sessions SET expires_at = now() - interval '1 second'"))
    assert client.get("/api/v1/orgs").status_code == 401
    client.cookies.set(SESSION, "ops_forged")
    assert client.get("/api/v1/orgs").status_code == 401


# ---------------------------------------------------------------------------------- redirects
NEXT_TARGETS = [
    ("//evil.example", "/"),
    ("//evil.example/orgs", "/"),
    ("https://evil.example/", "/"),
    ("http:/evil.example", "/"),
    ("javascript:alert(1)", "/"),
    ("evil.example", "/"),
    ("/\\evil.example", "/"),  # browsers read a backslash as a slash
    ("/\t/evil.example", "/"),  # and drop tabs
    ("/orgs/acme?days=7", "/orgs/acme?days=7"),
    ("", "/"),
]


def test_next_never_leaves_the_site(client: TestClient, factory: Factory) -> None:
    email = factory.user(Role.PLATFORM_ADMIN)
    for target, expected in NEXT_TARGETS:
        response = post_login(client, email, PASSWORD, next=target)
        assert (response.status_code, response.headers["location"]) == (303, expected), target
        # The login page also sanitizes what it puts in its form.
        page = client.get("/login", params={"next": target})
        assert re.findall(r'name="next" value="([^"]*)"', page.text) == [expected], target


# ---------------------------------------------------------------------------------- API tokens
def test_credential_last_use_is_refreshed_only_when_a_minute_old(
    client: TestClient, factory: Factory, owner: Engine
) -> None:
    acme = factory.org("acme", "Acme")
    email = factory.user(Role.ORG_ADMIN, org_id=acme)
    token = factory.token(email)
    headers = {"Authorization": f"Bearer {token}"}

    def last_used() -> Any:
        with owner.connect() as conn:
            return conn.execute(text("SELECT last_used_at FROM api_tokens")).scalar_one()

    def set_last_used(sql: str) -> None:
        with owner.begin() as conn:
            conn.execute(text(f"UPDATE api_tokens SET last_used_at = {sql}"))  # noqa: S608

    assert client.get("/api/v1/orgs", headers=headers).status_code == 200
    first = last_used()
    assert first is not None  # never used before: stamped on first use
    set_last_used("now() - interval '50 seconds'")
    held = last_used()
    assert client.get("/api/v1/orgs", headers=headers).status_code == 200
    assert last_used() == held  # used again within the minute: no write
    set_last_used("now() - interval '61 seconds'")
    stale = last_used()
    assert client.get("/api/v1/orgs", headers=headers).status_code == 200
    assert last_used() > stale  # lagging by over a minute: refreshed
    # A revoked token is refused whatever its last use.
    with owner.begin() as conn:
        conn.execute(text("UPDATE api_tokens SET revoked_at = now()"))
    assert client.get("/api/v1/orgs", headers=headers).status_code == 401


def test_api_token_acts_with_its_users_permissions(
    client: TestClient, factory: Factory, engine: Engine
) -> None:
    acme = factory.org("acme", "Acme")
    factory.org("globex", "Globex")
    email = factory.user(Role.ORG_ADMIN, org_id=acme)
    token = factory.token(email)
    assert token.startswith("opt_")
    headers = {"Authorization": f"Bearer {token}"}
    body = client.get("/api/v1/orgs", headers=headers).json()
    assert [o["slug"] for o in body["orgs"]] == ["acme"]
    assert client.get("/api/v1/orgs/acme/overview", headers=headers).status_code == 200
    denied = client.get("/api/v1/orgs/globex/overview", headers=headers)
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "forbidden"
    (stored,) = rows(engine, "SELECT *, api_tokens::text AS whole FROM api_tokens")
    assert bytes(stored["token_hash"]) == hashlib.sha256(token.encode()).digest()
    assert token not in stored["whole"]
    assert stored["prefix"] == token[:10]
    assert stored["last_used_at"] is not None
    read = rows(engine, "SELECT * FROM audit_records WHERE action = 'analytics.read'"
                        " AND target = 'org_overview'")
    assert [(r["actor_user_id"], r["actor_kind"]) for r in read] == [(_uid(engine, email), "token")]
    # A token works without cookies and without CSRF; the session cookie is not needed.
    assert SESSION not in client.cookies


@pytest.mark.parametrize("value", ["Bearer opt_not-a-real-token", "Bearer ", "bearer opt_x"])
def test_invalid_api_token_is_401_json(client: TestClient, factory: Factory, value: str) -> None:
    factory.org("acme", "Acme")
    for path in ("/api/v1/orgs", "/api/v1/orgs/acme/overview"):
        response = client.get(path, headers={"Authorization": value})
        assert response.status_code == 401
        body = response.json()
        assert set(body) == {"error"}
        assert set(body["error"]) == {"code", "message", "details"}
        assert body["error"]["code"] == "not_authenticated"
        assert body["error"]["message"] == "invalid or revoked API token"
        assert body["error"]["details"] == []


def test_revoked_api_token_is_refused(
    client: TestClient, factory: Factory, engine: Engine
) -> None:
    token = factory.token(factory.user(Role.PLATFORM_ADMIN))
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/orgs", headers=headers).status_code == 200
    with unscoped(engine) as conn:
        conn.execute(text("UPDATE api_tokens SET revoked_at = now()"))
    response = client.get("/api/v1/orgs", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


# ---------------------------------------------------------------------------------- users
def test_create_user_refuses_short_passwords(engine: Engine) -> None:
    with pytest.raises(InvalidInput, match="at least 10 characters"), unscoped(engine) as conn:
        create_user(conn, email="short@example.test", password="9 chars!!", role=Role.SUPPORT)
    assert rows(engine, "SELECT * FROM users") == []
    with unscoped(engine) as conn:
        create_user(conn, email="ok@example.test", password="10 chars!!", role=Role.SUPPORT)
    (user,) = rows(engine, "SELECT email, password_hash, staff_role FROM users")
    assert user["email"] == "ok@example.test"
    assert user["staff_role"] == "support"
    assert user["password_hash"].startswith("$argon2id$")
    assert "10 chars!!" not in user["password_hash"]
