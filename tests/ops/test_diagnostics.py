"""The diagnostics panel: exact numbers from the hand-built org, no PII, role-gated."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from datasets import NOW
from factories import Factory
from opsdata import PII, acme, session
from orgpulse.auth import Role
from orgpulse.core.tenancy import unscoped

pytestmark = pytest.mark.usefixtures("frozen")


def bearer(factory: Factory, email: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {factory.token(email)}"}


def test_diagnostics_identify_last_sync_error_and_upload_failure_rate(factory: Factory) -> None:
    org = acme(factory)
    admin = factory.user(Role.ORG_ADMIN, org_id=org)
    with unscoped(factory.engine) as conn:
        conn.execute(
            text("INSERT INTO job_runs (job, started_at, finished_at, status, detail)"
                 " VALUES ('rollups', :t, :t, 'failed', 'timeout for ops@acme.org')"),
            {"t": NOW - timedelta(hours=1)},
        )
    client = session(factory, admin)
    body: dict[str, Any] = client.get("/api/v1/orgs/acme/diagnostics").json()

    r = body["rostering"]
    assert r["last_sync_status"] == "failed"
    assert r["last_sync_error"] == "SIS timeout"
    assert r["last_sync_at"] == (NOW - timedelta(days=1)).replace(hour=10).isoformat().replace(
        "+00:00", "Z")
    assert (r["syncs_succeeded_7d"], r["syncs_failed_7d"]) == (1, 2)
    assert [(e["message"], e["count"]) for e in r["top_errors_30d"]] == [
        ("SIS timeout", 2),
        ("duplicate student id [id] for [name] <[email]>", 1),
    ]
    assert r["status"] == "problem"

    u = body["recording"]
    assert (u["uploads_started_7d"], u["uploads_failed_7d"]) == (10, 3)
    assert u["upload_failure_rate_7d"] == pytest.approx(0.3)
    assert [(e["message"], e["count"]) for e in u["common_errors_7d"]] == [
        ("network timeout", 2), ("file too large for [email]", 1)]
    # 0.3 is past the catalog's bad rate (0.15), but 10 uploads are under its minimum of 20.
    assert u["status"] == "warning"

    i = body["identity"]
    assert (i["sso_configured"], i["sso_provider"]) == (True, "Okta")
    assert (i["logins_7d"], i["login_failures_7d"]) == (4, 1)
    assert i["login_failure_rate_7d"] == pytest.approx(0.2)
    assert [e["message"] for e in i["recent_login_errors"]] == ["account locked for user=[value]"]

    p = body["reporting"]
    assert [(j["job"], j["status"], j["detail"]) for j in p["jobs"]] == [
        ("rollups", "failed", "timeout for [email]")]
    assert p["status"] == "problem"


def test_summary_text_has_no_personal_data(factory: Factory) -> None:
    org = acme(factory)
    support_staff = factory.user(Role.SUPPORT)
    client = session(factory, support_staff)
    response = client.get("/orgs/acme/diagnostics/summary.txt")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    summary = response.text
    assert "last sync failed 2026-06-14 10:00 UTC: SIS timeout" in summary
    assert "uploads 7d: 10 started, 3 failed (failure rate 30.0%)" in summary
    for secret in PII:
        assert secret not in summary
    page = client.get("/orgs/acme/diagnostics")
    assert page.status_code == 200
    assert 'data-copy="diag-summary"' in page.text
    assert "/docs/runbooks/rostering-sync-failures" in page.text
    for secret in PII:
        assert secret not in page.text
    with unscoped(factory.engine) as conn:
        reads = conn.execute(
            text("SELECT count(*) FROM audit_records WHERE action = 'diagnostics.read'"
                 " AND org_id = :o"), {"o": org}).scalar_one()
    assert reads == 2


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.ORG_ADMIN, 200), (Role.PLATFORM_ADMIN, 200), (Role.SUPPORT, 200),
     (Role.UNIT_ADMIN, 403), (Role.MEMBER, 403), (Role.ACCOUNT_MANAGER, 403)],
)
def test_diagnostics_are_for_admins_and_support(
    factory: Factory, role: Role, status: int
) -> None:
    org = acme(factory)
    in_org = role not in (Role.PLATFORM_ADMIN, Role.SUPPORT)
    email = factory.user(role, org_id=org if in_org else None)
    response = factory_client(factory).get(
        "/api/v1/orgs/acme/diagnostics", headers=bearer(factory, email))
    assert response.status_code == status


def test_diagnostics_of_another_org_are_refused(factory: Factory) -> None:
    acme(factory)
    globex = factory.org("globex", "Globex")
    admin = factory.user(Role.ORG_ADMIN, org_id=globex)
    client = factory_client(factory)
    assert client.get("/api/v1/orgs/globex/diagnostics",
                      headers=bearer(factory, admin)).status_code == 200
    refused = client.get("/api/v1/orgs/acme/diagnostics", headers=bearer(factory, admin))
    assert refused.status_code == 403
    assert "SIS timeout" not in refused.text


def factory_client(factory: Factory) -> Any:
    from fastapi.testclient import TestClient

    return TestClient(factory.app, base_url="http://testserver")
