"""POST/GET /api/v1/orgs/{org}/hr-metrics: org-limited tokens, validation, versions, audit."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from datasets import NOW
from factories import Factory
from orgpulse.audit import AuditContext
from orgpulse.auth import Role, create_api_token, find_user_id, load_principal
from orgpulse.cli.main import app as cli_app
from orgpulse.core.errors import InvalidInput
from orgpulse.core.tenancy import TenantScope, scoped, unscoped
from orgpulse.hr import current_submission, submit_hr_metrics

# Frozen at 2026-06-15: the last complete quarter is 2026-01-01 .. 2026-03-31.
Q1 = date(2026, 1, 1)
STAMP = NOW.isoformat()


@dataclass(frozen=True)
class World:
    conoco: int  # slug "conocophillips", external id "org-77"
    globex: int
    hr_email: str
    hr_user: int


@pytest.fixture
def world(factory: Factory, frozen: datetime) -> World:
    conoco = factory.org("org-77", "ConocoPhillips")
    globex = factory.org("globex", "Globex")
    email = factory.user(Role.HR_SUBMITTER, org_id=conoco)
    return World(conoco, globex, email, user_id(factory.engine, email))


def user_id(engine: Engine, email: str) -> int:
    with unscoped(engine) as conn:
        return find_user_id(conn, email=email)


def org_token(engine: Engine, email: str, org_id: int) -> dict[str, str]:
    with unscoped(engine) as conn:
        token = create_api_token(conn, user_id=find_user_id(conn, email=email), name="hr",
                                 org_id=org_id)
    return {"Authorization": f"Bearer {token}"}


def payload(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "org_id": "conocophillips",
        "submission_date": "2026-04-22",
        "period_start": "2026-01-01",
        "period_end": "2026-03-31",
        "metrics": {
            "retention": {"cohort_size": 45, "retained_count": 42, "retention_rate": 93.3},
            "absenteeism": {"cohort_size": 45, "pre_avg_absence_days": 8.2,
                            "post_avg_absence_days": 3.1, "reduction_pct": 62.2},
            "return_to_work": {"cohort_size": 12, "successful_rtw_count": 11,
                               "success_rate": 91.7},
        },
    }
    body.update(changes)
    return body


def stored(engine: Engine, org_id: int) -> list[tuple[Any, ...]]:
    with scoped(engine, TenantScope.of([org_id])) as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT period_start, period_end, version, submission_date, submitted_by,"
            " submitted_at, superseded_at, metrics FROM hr_submissions ORDER BY version"
        ))]


def audit(engine: Engine, action: str) -> list[dict[str, Any]]:
    with unscoped(engine) as conn:
        rows = conn.execute(
            text("SELECT * FROM audit_records WHERE action = :a ORDER BY audit_id"), {"a": action}
        ).mappings().all()
    return [dict(r) for r in rows]


# ---------------------------------------------------------------------------------- accepted
def test_hr_submitter_token_submits_a_quarter(
    client: TestClient, engine: Engine, world: World
) -> None:
    headers = org_token(engine, world.hr_email, world.conoco)
    response = client.post("/api/v1/orgs/conocophillips/hr-metrics", json=payload(),
                           headers=headers)
    assert response.status_code == 201, response.text
    assert response.json() == {
        "org": "conocophillips", "period_start": "2026-01-01", "period_end": "2026-03-31",
        "version": 1, "supersedes_version": None, "submitted_at": STAMP,
    }
    assert stored(engine, world.conoco) == [
        (Q1, date(2026, 3, 31), 1, date(2026, 4, 22), world.hr_user, NOW, None,
         payload()["metrics"]),
    ]
    with scoped(engine, TenantScope.of([world.conoco])) as conn:
        current = current_submission(conn=conn, org_id=world.conoco, period_start=Q1)
    assert current is not None
    assert (current.version, current.metrics["retention"]) == (
        1, {"cohort_size": 45, "retained_count": 42, "retention_rate": 93.3})

    [row] = audit(engine, "hr_metrics.submitted")
    assert (row["org_id"], row["actor_user_id"], row["actor_kind"], row["outcome"],
            row["target"]) == (world.conoco, world.hr_user, "token", "ok", "2026-01-01/v1")
    assert row["details"] == {
        "period_start": "2026-01-01", "period_end": "2026-03-31", "version": 1,
        "supersedes_version": None,
        "cohort_sizes": {"retention": 45, "absenteeism": 45, "return_to_work": 12},
    }
    assert row["request_id"]


def test_path_may_name_the_org_by_external_id_and_body_by_either(
    client: TestClient, engine: Engine, world: World
) -> None:
    headers = org_token(engine, world.hr_email, world.conoco)
    response = client.post("/api/v1/orgs/org-77/hr-metrics", json=payload(org_id="org-77"),
                           headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["org"] == "conocophillips"


def test_resubmission_supersedes_the_current_version(
    client: TestClient, engine: Engine, world: World
) -> None:
    headers = org_token(engine, world.hr_email, world.conoco)
    url = "/api/v1/orgs/conocophillips/hr-metrics"
    assert client.post(url, json=payload(), headers=headers).status_code == 201
    corrected = payload()
    corrected["metrics"] = {
        "retention": {"cohort_size": 46, "retained_count": 43, "retention_rate": 93.5}
    }
    response = client.post(url, json=corrected, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json() == {
        "org": "conocophillips", "period_start": "2026-01-01", "period_end": "2026-03-31",
        "version": 2, "supersedes_version": 1, "submitted_at": STAMP,
    }
    rows = stored(engine, world.conoco)
    assert [(r[2], r[6]) for r in rows] == [(1, NOW), (2, None)]
    assert rows[0][7] == payload()["metrics"]  # the old version is kept as it was
    with scoped(engine, TenantScope.of([world.conoco])) as conn:
        current = current_submission(conn=conn, org_id=world.conoco, period_start=Q1)
    assert current is not None
    assert (current.version, current.metrics) == (2, corrected["metrics"])
    assert [(r["target"], r["details"]["supersedes_version"])
            for r in audit(engine, "hr_metrics.submitted")] == [
        ("2026-01-01/v1", None), ("2026-01-01/v2", 1)
    ]
    # Another quarter starts its own versions.
    q4 = payload(period_start="2025-10-01", period_end="2025-12-31")
    assert client.post(url, json=q4, headers=headers).json()["version"] == 1


def test_concurrent_submissions_of_one_quarter_become_consecutive_versions(
    engine: Engine, world: World
) -> None:
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []
    ctx = AuditContext(world.hr_user, "token")

    def submit() -> None:
        try:
            barrier.wait()
            with scoped(engine, TenantScope.of([world.conoco])) as conn:
                submit_hr_metrics(conn=conn, org_id=world.conoco, payload=payload(),
                                  submitted_by=world.hr_user, now=NOW, ctx=ctx)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    rows = stored(engine, world.conoco)
    assert [r[2] for r in rows] == [1, 2, 3, 4]
    assert [r[2] for r in rows if r[6] is None] == [4]


# ---------------------------------------------------------------------------------- rejected
def test_invalid_submission_lists_every_problem_and_stores_nothing(
    client: TestClient, engine: Engine, world: World
) -> None:
    headers = org_token(engine, world.hr_email, world.conoco)
    body = payload(org_id="globex", period_start="2026-04-01", period_end="2026-06-30")
    body["metrics"]["retention"]["cohort_size"] = 9
    body["metrics"]["retention"]["retained_count"] = 46
    body["metrics"]["absenteeism"]["reduction_pct"] = 50
    response = client.post("/api/v1/orgs/conocophillips/hr-metrics", json=body, headers=headers)
    assert response.status_code == 422
    problems = [
        {"field": "org_id",
         "message": "org_id \"globex\" is not the organization in the path ('conocophillips')"},
        {"field": "period_end",
         "message": "period_end 2026-06-30 is not over yet (today is 2026-06-15); "
                    "a quarter can be submitted from the day after it ends"},
        {"field": "submission_date",
         "message": "submission_date 2026-04-22 is not after period_end 2026-06-30: "
                    "the quarter's figures are complete only once it has ended"},
        {"field": "metrics.retention.cohort_size",
         "message": "cohort_size 9 is below the minimum cohort of 10"},
        {"field": "metrics.retention.retained_count",
         "message": "retained_count 46 exceeds cohort_size 9"},
        {"field": "metrics.absenteeism.reduction_pct",
         "message": "reduction_pct 50 does not match (pre_avg_absence_days - "
                    "post_avg_absence_days) / pre_avg_absence_days (8.2, 3.1): expected 62.2"},
    ]
    assert response.json() == {"error": {
        "code": "invalid_input",
        "message": "the HR submission has 6 problems; nothing was stored",
        "details": problems,
    }}
    assert stored(engine, world.conoco) == []
    assert audit(engine, "hr_metrics.submitted") == []
    [row] = audit(engine, "hr_metrics.rejected")
    assert (row["org_id"], row["actor_user_id"], row["outcome"], row["target"]) == (
        world.conoco, world.hr_user, "denied", "hr_metrics")
    assert row["details"] == {"problems": problems}


def test_org_k_above_the_floor_is_applied(
    client: TestClient, engine: Engine, owner: Engine, world: World
) -> None:
    with owner.begin() as conn:
        conn.execute(text("UPDATE orgs SET min_cohort_size = 20 WHERE org_id = :o"),
                     {"o": world.conoco})
    headers = org_token(engine, world.hr_email, world.conoco)
    response = client.post("/api/v1/orgs/conocophillips/hr-metrics", json=payload(),
                           headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["details"] == [
        {"field": "metrics.return_to_work.cohort_size",
         "message": "cohort_size 12 is below the minimum cohort of 20"},
    ]
    assert response.json()["error"]["message"] == (
        "the HR submission has 1 problem; nothing was stored")


@pytest.mark.parametrize("raw", [b"{not json", b"", b'{"a": NaN}'])
def test_a_body_that_is_not_json_is_refused(
    client: TestClient, engine: Engine, world: World, raw: bytes
) -> None:
    headers = org_token(engine, world.hr_email, world.conoco)
    response = client.post("/api/v1/orgs/conocophillips/hr-metrics", content=raw,
                           headers={**headers, "Content-Type": "application/json"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["message"].startswith("request body is not valid JSON: ")
    assert error["details"] == [{"field": "body", "message": error["message"]}]
    assert stored(engine, world.conoco) == []
    assert [r["details"]["problems"][0]["field"]
            for r in audit(engine, "hr_metrics.rejected")] == ["body"]


def test_a_json_array_is_not_a_submission(
    client: TestClient, engine: Engine, world: World
) -> None:
    headers = org_token(engine, world.hr_email, world.conoco)
    response = client.post("/api/v1/orgs/conocophillips/hr-metrics", json=[payload()],
                           headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "body"


def test_oversized_body_is_refused(client: TestClient, engine: Engine, world: World) -> None:
    headers = org_token(engine, world.hr_email, world.conoco)
    response = client.post("/api/v1/orgs/conocophillips/hr-metrics",
                           json=payload(padding="x" * 70_000), headers=headers)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


# ---------------------------------------------------------------------------------- who may
def test_no_token_and_bad_tokens_get_401(client: TestClient, world: World) -> None:
    url = "/api/v1/orgs/conocophillips/hr-metrics"
    assert client.post(url, json=payload()).json() == {"error": {
        "code": "not_authenticated", "message": "sign in or send an API token", "details": []}}
    response = client.post(url, json=payload(), headers={"Authorization": "Bearer opt_nope"})
    assert response.status_code == 401
    assert client.get(url).status_code == 401


def test_a_browser_session_cannot_submit(
    client: TestClient, factory: Factory, engine: Engine, world: World
) -> None:
    """A JSON POST carrying only a session cookie has no CSRF token: refused, nothing stored."""
    factory.login(client, world.hr_email)
    response = client.post("/api/v1/orgs/conocophillips/hr-metrics", json=payload())
    assert response.status_code == 401
    assert response.json()["error"]["message"] == (
        "submitting HR metrics takes an API token (Authorization: Bearer …); "
        "a browser session is not accepted")
    assert stored(engine, world.conoco) == []
    # Reading the version list with the session is fine.
    assert client.get("/api/v1/orgs/conocophillips/hr-metrics").status_code == 200


@pytest.mark.parametrize(
    "role",
    [Role.ORG_ADMIN, Role.UNIT_ADMIN, Role.EMPLOYER_VIEWER, Role.MEMBER, Role.ACCOUNT_MANAGER],
)
def test_other_org_roles_may_not_submit(
    client: TestClient, factory: Factory, engine: Engine, world: World, role: Role
) -> None:
    email = factory.user(role, org_id=world.conoco)
    for headers in ({"Authorization": f"Bearer {factory.token(email)}"},
                    org_token(engine, email, world.conoco)):
        response = client.post("/api/v1/orgs/conocophillips/hr-metrics", json=payload(),
                               headers=headers)
        assert response.status_code == 403
        assert response.json()["error"]["message"] == (
            "you do not have access to organization 'conocophillips'")
    assert stored(engine, world.conoco) == []
    denied = audit(engine, "org.access_denied")
    assert [(r["org_id"], r["details"]["permission"]) for r in denied] == [
        (world.conoco, "submit_hr_metrics")] * 2


@pytest.mark.parametrize("role", [Role.PLATFORM_ADMIN, Role.CS_LEADER, Role.SUPPORT])
def test_staff_may_not_submit(
    client: TestClient, factory: Factory, engine: Engine, world: World, role: Role
) -> None:
    headers = {"Authorization": f"Bearer {factory.token(factory.user(role))}"}
    response = client.post("/api/v1/orgs/conocophillips/hr-metrics", json=payload(),
                           headers=headers)
    assert response.status_code == 403
    assert stored(engine, world.conoco) == []


def test_org_token_is_refused_on_another_org_and_on_analytics(
    client: TestClient, engine: Engine, world: World
) -> None:
    headers = org_token(engine, world.hr_email, world.conoco)
    response = client.post("/api/v1/orgs/globex/hr-metrics", json=payload(org_id="globex"),
                           headers=headers)
    assert response.status_code == 403
    assert response.json()["error"]["message"] == (
        "you do not have access to organization 'globex'")
    for path in ("/api/v1/orgs/conocophillips/overview", "/orgs/conocophillips",
                 "/api/v1/orgs/globex/overview"):
        assert client.get(path, headers=headers).status_code == 403, path
    listing = client.get("/api/v1/orgs", headers=headers)
    assert listing.status_code == 200 and listing.json()["orgs"] == []


def test_an_org_limited_token_holds_only_that_org(
    client: TestClient, factory: Factory, engine: Engine, world: World
) -> None:
    """Fail closed: a user with more reach gets exactly one org's membership through it."""
    email = factory.user(Role.ORG_ADMIN, org_id=world.conoco)
    with unscoped(engine) as conn:
        from orgpulse.auth import grant_membership

        uid = find_user_id(conn, email=email)
        grant_membership(conn, user_id=uid, org_id=world.globex, role=Role.ORG_ADMIN)
    full = {"Authorization": f"Bearer {factory.token(email)}"}
    limited = org_token(engine, email, world.globex)
    assert client.get("/api/v1/orgs/conocophillips/overview", headers=full).status_code == 200
    assert client.get("/api/v1/orgs/conocophillips/overview", headers=limited).status_code == 403
    assert client.get("/api/v1/orgs/globex/overview", headers=limited).status_code == 200
    assert [o["slug"] for o in client.get("/api/v1/orgs", headers=limited).json()["orgs"]] == [
        "globex"]
    with unscoped(engine) as conn:
        principal = load_principal(conn, user_id=uid, via="token", limit_to_org=world.globex)
    assert principal is not None
    assert (set(principal.memberships), principal.staff_role, principal.org_ids,
            principal.limited_to_org) == ({world.globex}, None, {world.globex}, world.globex)


def test_staff_lose_their_reach_through_an_org_limited_token(
    factory: Factory, engine: Engine, world: World
) -> None:
    email = factory.user(Role.PLATFORM_ADMIN)
    with unscoped(engine) as conn:
        uid = find_user_id(conn, email=email)
        principal = load_principal(conn, user_id=uid, via="token", limit_to_org=world.conoco)
        assert principal is not None
        assert (principal.staff_role, principal.org_ids, principal.role_in(world.conoco)) == (
            None, frozenset(), None)
        # Nor can such a token be made: it would open nothing.
        with pytest.raises(InvalidInput, match="has no role in organization"):
            create_api_token(conn, user_id=uid, name="hr", org_id=world.conoco)


def test_cli_creates_an_org_limited_token(
    client: TestClient, engine: Engine, world: World, cli_env: CliRunner
) -> None:
    result = cli_env.invoke(cli_app, ["tokens", "create", "--email", world.hr_email,
                                      "--name", "workday", "--org", "conocophillips"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0] == f"token 'workday' for {world.hr_email}, limited to organization " \
                       "'conocophillips':"
    token = lines[-1]
    with unscoped(engine) as conn:
        assert conn.execute(text("SELECT name, org_id FROM api_tokens")).all() == [
            ("workday", world.conoco)]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/orgs/conocophillips/hr-metrics", json=payload(),
                       headers=headers).status_code == 201
    assert client.post("/api/v1/orgs/globex/hr-metrics", json=payload(),
                       headers=headers).status_code == 403
    unknown = cli_env.invoke(cli_app, ["tokens", "create", "--email", world.hr_email,
                                       "--org", "nope"])
    assert unknown.exit_code == 2 and "no organization 'nope'" in unknown.output
    foreign = cli_env.invoke(cli_app, ["tokens", "create", "--user", world.hr_email,
                                       "--org", "globex"])
    assert foreign.exit_code == 2 and "has no role in organization" in foreign.output


# ---------------------------------------------------------------------------------- versions
def test_version_list_shows_periods_and_cohorts_to_hr_admins_and_platform(
    client: TestClient, factory: Factory, engine: Engine, world: World
) -> None:
    hr = org_token(engine, world.hr_email, world.conoco)
    url = "/api/v1/orgs/conocophillips/hr-metrics"
    assert client.post(url, json=payload(), headers=hr).status_code == 201
    assert client.post(url, json=payload(), headers=hr).status_code == 201
    v1 = {"period_start": "2026-01-01", "period_end": "2026-03-31", "version": 1,
          "submission_date": "2026-04-22", "submitted_at": STAMP, "superseded_at": STAMP,
          "current": False,
          "cohort_sizes": {"retention": 45, "absenteeism": 45, "return_to_work": 12}}
    expected = {"org": "conocophillips",
                "submissions": [{**v1, "version": 2, "superseded_at": None, "current": True},
                                v1]}
    readers = [hr, {"Authorization": "Bearer " + factory.token(
        factory.user(Role.ORG_ADMIN, org_id=world.conoco))},
        {"Authorization": "Bearer " + factory.token(factory.user(Role.PLATFORM_ADMIN))}]
    for headers in readers:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json() == expected
        assert "retained_count" not in response.text
    assert len(audit(engine, "hr_metrics.listed")) == 3
    for role in (Role.EMPLOYER_VIEWER, Role.MEMBER, Role.UNIT_ADMIN):
        email = factory.user(role, org_id=world.conoco)
        headers = {"Authorization": f"Bearer {factory.token(email)}"}
        assert client.get(url, headers=headers).status_code == 403, role
    for role in (Role.CS_LEADER, Role.SUPPORT):
        headers = {"Authorization": f"Bearer {factory.token(factory.user(role))}"}
        assert client.get(url, headers=headers).status_code == 403, role
    # The HR token of one org sees nothing of another.
    assert client.get("/api/v1/orgs/globex/hr-metrics", headers=hr).status_code == 403



def test_the_api_docs_show_the_payload(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()["paths"]["/api/v1/orgs/{org}/hr-metrics"]
    body = spec["post"]["requestBody"]["content"]["application/json"]["example"]
    assert body["metrics"]["retention"] == {"cohort_size": 45, "retained_count": 42,
                                            "retention_rate": 93.3}
    assert set(spec) == {"get", "post"}


def test_today_is_the_orgs_local_date(
    client: TestClient, engine: Engine, owner: Engine, world: World
) -> None:
    """2026-06-15 12:00 UTC is already 2026-06-16 at UTC+14: a submission dated then is fine."""
    headers = org_token(engine, world.hr_email, world.conoco)
    url = "/api/v1/orgs/conocophillips/hr-metrics"
    body = payload(submission_date="2026-06-16")
    assert client.post(url, json=body, headers=headers).json()["error"]["details"] == [
        {"field": "submission_date",
         "message": "submission_date 2026-06-16 is in the future (today is 2026-06-15)"},
    ]
    with owner.begin() as conn:
        conn.execute(text("UPDATE orgs SET timezone = 'Pacific/Kiritimati' WHERE org_id = :o"),
                     {"o": world.conoco})
    assert client.post(url, json=body, headers=headers).status_code == 201
