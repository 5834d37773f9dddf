"""Privacy settings admin: before/after in the audit record, the floor of 10, org admins may only
tighten, the CLI change is audited as ``cli``; CLI admin commands write audit records."""

from __future__ import annotations

from typing import Any

import psycopg.errors
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from factories import Factory
from orgpulse.auth import Role, find_user_id
from orgpulse.cli.main import app as cli
from orgpulse.core.tenancy import TenantScope, scoped, unscoped


def privacy_of(engine: Engine, org_id: int) -> tuple[str, int]:
    with scoped(engine, TenantScope.of([org_id])) as conn:
        row = conn.execute(
            text("SELECT privacy_mode, min_cohort_size FROM orgs WHERE org_id = :o"),
            {"o": org_id},
        ).one()
    return row[0], row[1]


def audit_rows(engine: Engine, action: str) -> list[dict[str, Any]]:
    with unscoped(engine) as conn:
        rows = conn.execute(
            text("SELECT * FROM audit_records WHERE action = :a ORDER BY audit_id"), {"a": action}
        ).mappings().all()
    return [dict(r) for r in rows]


def user_id(engine: Engine, email: str) -> int:
    with unscoped(engine) as conn:
        return find_user_id(conn, email=email)


def put(client: TestClient, factory: Factory, email: str, body: dict[str, Any],
        org: str = "acme") -> Any:
    headers = {"Authorization": f"Bearer {factory.token(email)}"}
    return client.put(f"/api/v1/orgs/{org}/privacy", json=body, headers=headers)


@pytest.fixture
def acme(factory: Factory) -> int:
    return factory.org("acme", "Acme")


def test_platform_admin_change_is_audited_with_before_and_after(
    client: TestClient, factory: Factory, engine: Engine, acme: int
) -> None:
    admin = factory.user(Role.PLATFORM_ADMIN)
    response = put(client, factory, admin, {"mode": "aggregate_only", "min_cohort_size": 12})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "org_id": acme, "slug": "acme",
        "before": {"mode": "standard", "min_cohort_size": 10},
        "after": {"mode": "aggregate_only", "min_cohort_size": 12},
    }
    assert privacy_of(engine, acme) == ("aggregate_only", 12)
    [row] = audit_rows(engine, "admin.privacy_changed")
    assert (row["actor_user_id"], row["actor_kind"], row["org_id"], row["target"],
            row["outcome"]) == (user_id(engine, admin), "token", acme, "acme", "ok")
    assert row["details"] == {
        "before": {"mode": "standard", "min_cohort_size": 10},
        "after": {"mode": "aggregate_only", "min_cohort_size": 12},
    }
    assert row["request_id"] and row["ip"]
    # A platform admin may loosen again; only k given keeps the mode.
    response = put(client, factory, admin, {"min_cohort_size": 10})
    assert response.json()["after"] == {"mode": "aggregate_only", "min_cohort_size": 10}
    response = put(client, factory, admin, {"mode": "standard"})
    assert response.json()["after"] == {"mode": "standard", "min_cohort_size": 10}
    assert len(audit_rows(engine, "admin.privacy_changed")) == 3


@pytest.mark.parametrize("k", [9, 0, -5])
def test_below_the_floor_is_422(
    client: TestClient, factory: Factory, engine: Engine, acme: int, k: int
) -> None:
    admin = factory.user(Role.PLATFORM_ADMIN)
    response = put(client, factory, admin, {"min_cohort_size": k})
    assert response.status_code == 422
    assert response.json()["error"]["message"] == (
        f"minimum cohort size {k} is below the floor of 10"
    )
    assert privacy_of(engine, acme) == ("standard", 10)
    assert audit_rows(engine, "admin.privacy_changed") == []


def test_the_database_refuses_k_below_the_floor(owner: Engine, acme: int) -> None:
    with pytest.raises(DBAPIError) as excinfo, owner.begin() as conn:
        conn.execute(text("UPDATE orgs SET min_cohort_size = 9 WHERE org_id = :o"), {"o": acme})
    assert isinstance(excinfo.value.orig, psycopg.errors.CheckViolation)


def test_org_admin_may_tighten_but_not_loosen(
    client: TestClient, factory: Factory, engine: Engine, acme: int
) -> None:
    org_admin = factory.user(Role.ORG_ADMIN, org_id=acme)
    response = put(client, factory, org_admin, {"min_cohort_size": 15})
    assert response.status_code == 200
    response = put(client, factory, org_admin, {"mode": "aggregate_only"})
    assert response.json()["after"] == {"mode": "aggregate_only", "min_cohort_size": 15}
    # The org is now aggregate-only: its org admin still reaches its privacy settings.
    cases = [
        ({"min_cohort_size": 12}, "lower the minimum cohort size from 15 to 12"),
        ({"mode": "standard"}, "switch aggregate_only off"),
        ({"mode": "standard", "min_cohort_size": 10},
         "switch aggregate_only off and lower the minimum cohort size from 15 to 10"),
    ]
    for body, tried in cases:
        response = put(client, factory, org_admin, body)
        assert response.status_code == 403
        assert response.json()["error"]["message"] == (
            f"org admins may only tighten privacy settings; you tried to {tried}"
        )
    assert privacy_of(engine, acme) == ("aggregate_only", 15)
    rows = audit_rows(engine, "admin.privacy_changed")
    assert [r["outcome"] for r in rows] == ["ok", "ok", "denied", "denied", "denied"]
    assert rows[2]["details"] == {
        "requested": {"mode": None, "min_cohort_size": 12},
        "reason": "org admins may only tighten privacy settings; you tried to lower the minimum"
                  " cohort size from 15 to 12",
    }
    assert rows[2]["actor_user_id"] == user_id(engine, org_admin)


def test_other_roles_and_orgs_are_refused(
    client: TestClient, factory: Factory, engine: Engine, acme: int
) -> None:
    globex = factory.org("globex", "Globex")
    outsider = factory.user(Role.ORG_ADMIN, org_id=globex)
    response = put(client, factory, outsider, {"min_cohort_size": 20})
    assert (response.status_code, response.json()["error"]["message"]) == (
        403, "you do not have access to organization 'acme'"
    )
    for role in (Role.EMPLOYER_VIEWER, Role.UNIT_ADMIN, Role.CS_LEADER):
        email = factory.user(role, org_id=None if role == Role.CS_LEADER else acme)
        response = put(client, factory, email, {"min_cohort_size": 20})
        assert response.status_code == 403, role
        assert response.json()["error"]["message"] == (
            "only platform admins and org admins change privacy settings"
        )
    assert privacy_of(engine, acme) == ("standard", 10)
    assert [r["outcome"] for r in audit_rows(engine, "admin.privacy_changed")] == ["denied"] * 3


def test_session_put_needs_the_csrf_header(
    client: TestClient, factory: Factory, engine: Engine, acme: int
) -> None:
    factory.login(client, factory.user(Role.PLATFORM_ADMIN))
    body = {"min_cohort_size": 11}
    assert client.put("/api/v1/orgs/acme/privacy", json=body).status_code == 403
    csrf = client.cookies.get("orgpulse_csrf")
    response = client.put("/api/v1/orgs/acme/privacy", json=body, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 200
    assert privacy_of(engine, acme) == ("standard", 11)


def test_empty_or_unknown_body_is_422(client: TestClient, factory: Factory, acme: int) -> None:
    admin = factory.user(Role.PLATFORM_ADMIN)
    assert put(client, factory, admin, {}).status_code == 422
    assert put(client, factory, admin, {"k": 12}).status_code == 422
    assert put(client, factory, admin, {"mode": "open"}).status_code == 422


# -------------------------------------------------------------------------------------- CLI
def test_cli_change_is_audited_as_cli(cli_env: CliRunner, engine: Engine, acme: int) -> None:
    result = cli_env.invoke(cli, ["orgs", "privacy", "acme", "--mode", "aggregate_only",
                                  "--k", "11"])
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "acme: mode standard -> aggregate_only, minimum cohort size 10 -> 11\n"
    )
    [row] = audit_rows(engine, "admin.privacy_changed")
    assert (row["actor_user_id"], row["actor_kind"], row["org_id"], row["target"], row["ip"],
            row["request_id"]) == (None, "cli", acme, "acme", None, None)
    assert row["details"] == {
        "before": {"mode": "standard", "min_cohort_size": 10},
        "after": {"mode": "aggregate_only", "min_cohort_size": 11},
    }
    shown = cli_env.invoke(cli, ["orgs", "privacy", "acme"])
    assert shown.stdout == "acme: mode aggregate_only, minimum cohort size 11\n"
    assert len(audit_rows(engine, "admin.privacy_changed")) == 1  # showing is not a change


def test_cli_refusals(cli_env: CliRunner, engine: Engine, acme: int) -> None:
    low = cli_env.invoke(cli, ["orgs", "privacy", "acme", "--k", "9"])
    assert low.exit_code == 2
    assert "minimum cohort size 9 is below the floor of 10" in low.stderr
    unknown = cli_env.invoke(cli, ["orgs", "privacy", "nope", "--k", "12"])
    assert (unknown.exit_code, "no organization 'nope'" in unknown.stderr) == (2, True)
    mode = cli_env.invoke(cli, ["orgs", "privacy", "acme", "--mode", "open"])
    assert mode.exit_code == 2
    assert privacy_of(engine, acme) == ("standard", 10)
    assert audit_rows(engine, "admin.privacy_changed") == []


def test_cli_admin_commands_are_audited_without_secrets(
    cli_env: CliRunner, engine: Engine, acme: int
) -> None:
    created = cli_env.invoke(cli, ["users", "create", "--email", "ops@example.test", "--role",
                                   "org_admin", "--org", "acme", "--password-stdin"],
                             input="a long enough password\n")
    assert created.exit_code == 0, created.output
    token = cli_env.invoke(cli, ["tokens", "create", "--user", "ops@example.test", "--name",
                                 "reports"])
    assert token.exit_code == 0, token.output
    key = cli_env.invoke(cli, ["keys", "create", "--name", "backend"])
    assert key.exit_code == 0, key.output
    uid = user_id(engine, "ops@example.test")
    with unscoped(engine) as conn:
        rows = conn.execute(
            text("SELECT action, actor_user_id, actor_kind, org_id, target, outcome, details,"
                 " CAST(details AS text) AS raw FROM audit_records ORDER BY audit_id")
        ).mappings().all()
    assert [(r["action"], r["actor_user_id"], r["actor_kind"], r["org_id"], r["target"],
             r["outcome"]) for r in rows] == [
        ("admin.user_created", None, "cli", acme, "ops@example.test", "ok"),
        ("admin.token_created", None, "cli", None, "ops@example.test", "ok"),
        ("admin.write_key_created", None, "cli", None, "backend", "ok"),
    ]
    assert [r["details"] for r in rows] == [
        {"after": {"user_id": uid, "email": "ops@example.test", "display_name": "ops",
                   "role": "org_admin", "org_id": acme, "password_set": True}},
        {"after": {"user_id": uid, "email": "ops@example.test", "name": "reports",
                   "org_id": None}},
        {"after": {"name": "backend"}},
    ]
    secrets = [token.stdout.strip().splitlines()[-1], key.stdout.strip().splitlines()[-1],
               "a long enough password"]
    for secret in secrets:
        assert all(secret not in r["raw"] and secret[:10] not in r["raw"] for r in rows)
