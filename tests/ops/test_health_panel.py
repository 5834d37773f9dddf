"""Service health panel: flags and policies, ingest lag, backlog, every job's last real run."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from factories import Factory
from orgpulse.auth import Role
from orgpulse.core import clock
from orgpulse.core.config import Settings
from orgpulse.core.tenancy import unscoped
from orgpulse.ops import health

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def at(minutes_ago: float) -> datetime:
    return NOW - timedelta(minutes=minutes_ago)


@pytest.fixture
def history(owner: Engine) -> Iterator[None]:
    """Job runs and ingest batches at known times around NOW (owner: explicit timestamps)."""
    runs = [
        # job, started, finished, status, detail
        ("partitions", at(30), at(30) + timedelta(milliseconds=1250), "succeeded",
         "partitions up to date"),
        ("health_snapshots", at(30 * 60), at(30 * 60 - 1), "failed", "OperationalError: old"),
        ("health_snapshots", at(120), at(120) + timedelta(milliseconds=500), "failed",
         "RuntimeError: boom"),
        # A later skip on another node must not hide the failure.
        ("health_snapshots", at(60), at(60), "succeeded", "skipped: another node is running it"),
        ("metrics_rebuild", at(10), at(8), "succeeded", "rebuilt 1 orgs"),
    ]
    batches = [
        # received, committed: lags 1500 ms and 400 ms inside 5 minutes, 9000 ms outside
        (at(2) - timedelta(milliseconds=1500), at(2)),
        (at(1) - timedelta(milliseconds=400), at(1)),
        (at(10) - timedelta(milliseconds=9000), at(10)),
    ]
    with owner.begin() as conn:
        for job, started, finished, status, detail in runs:
            conn.execute(
                text(
                    "INSERT INTO job_runs (job, started_at, finished_at, status, detail)"
                    " VALUES (:j, :s, :f, :st, :d)"
                ),
                {"j": job, "s": started, "f": finished, "st": status, "d": detail},
            )
        for received, committed in batches:
            conn.execute(
                text(
                    "INSERT INTO ingest_batches (received_at, committed_at, source, accepted,"
                    " duplicates, rejected, unattributed) VALUES (:r, :c, 'api', 1, 0, 0, 0)"
                ),
                {"r": received, "c": committed},
            )
    yield


def test_health_values_are_exact(
    history: None, engine: Engine, settings: Settings, factory: Factory
) -> None:
    factory.send([
        {"type": "track", "userId": "stranger", "event": "Login"},
        {"type": "track", "userId": "stranger", "event": "Logout"},
    ])
    result = health(engine=engine, settings=settings, now=NOW)
    assert result.status == "degraded"
    assert result.ingest_lag_ms == 1500
    assert result.last_ingest_at == at(1)
    assert result.unattributed_backlog == 2
    assert result.flags.model_dump() == {
        "jobs_enabled": False,
        "catalog_override": False,
        "read_replica": False,
        "secure_cookies": False,
    }
    assert result.policies.model_dump() == {
        "environment": "test",
        "retention_days": 760,
        "rollup_retention": "kept: rollups and health snapshots are never dropped by retention",
        "audit_retention": "kept: audit records are append-only and never dropped",
        "privacy_default_mode": "standard",
        "privacy_default_min_cohort_size": 10,
        "catalog": "shipped defaults",
        "partitions_ahead_months": 3,
        "freshness_amber_seconds": 600,
    }
    jobs = [j.model_dump() for j in result.jobs]
    assert jobs == [
        {"job": "partitions", "every_seconds": 3600, "status": "succeeded",
         "started_at": at(30), "finished_at": at(30) + timedelta(milliseconds=1250),
         "duration_ms": 1250, "detail": "partitions up to date", "failures_24h": 0,
         "last_failure_at": None, "last_failure_detail": None},
        {"job": "health_snapshots", "every_seconds": 300, "status": "failed",
         "started_at": at(120), "finished_at": at(120) + timedelta(milliseconds=500),
         "duration_ms": 500, "detail": "RuntimeError: boom", "failures_24h": 1,
         "last_failure_at": at(120), "last_failure_detail": "RuntimeError: boom"},
        {"job": "retention", "every_seconds": 86_400, "status": "never_run",
         "started_at": None, "finished_at": None, "duration_ms": None, "detail": "",
         "failures_24h": 0, "last_failure_at": None, "last_failure_detail": None},
        {"job": "deliveries", "every_seconds": 30, "status": "never_run",
         "started_at": None, "finished_at": None, "duration_ms": None, "detail": "",
         "failures_24h": 0, "last_failure_at": None, "last_failure_detail": None},
        {"job": "alerts", "every_seconds": 300, "status": "never_run",
         "started_at": None, "finished_at": None, "duration_ms": None, "detail": "",
         "failures_24h": 0, "last_failure_at": None, "last_failure_detail": None},
        {"job": "report_subscriptions", "every_seconds": 900, "status": "never_run",
         "started_at": None, "finished_at": None, "duration_ms": None, "detail": "",
         "failures_24h": 0, "last_failure_at": None, "last_failure_detail": None},
        {"job": "metrics_rebuild", "every_seconds": None, "status": "succeeded",
         "started_at": at(10), "finished_at": at(8), "duration_ms": 120_000,
         "detail": "rebuilt 1 orgs", "failures_24h": 0, "last_failure_at": None,
         "last_failure_detail": None},
    ]


def test_ok_when_no_job_failed(engine: Engine, settings: Settings) -> None:
    with unscoped(engine) as conn:
        conn.execute(text("INSERT INTO job_runs (job, status) VALUES ('partitions', 'succeeded')"))
    result = health(engine=engine, settings=settings, now=NOW)
    assert (result.status, result.ingest_lag_ms, result.unattributed_backlog) == ("ok", 0, 0)
    assert [(j.job, j.status) for j in result.jobs] == [
        ("partitions", "succeeded"),
        ("health_snapshots", "never_run"),
        ("retention", "never_run"),
        ("deliveries", "never_run"),
        ("alerts", "never_run"),
        ("report_subscriptions", "never_run"),
    ]


def test_catalog_override_is_named_by_file_name_only(engine: Engine, settings: Settings) -> None:
    custom = settings.model_copy(update={"catalog_file": Path("/srv/secret/dir/vendor.toml")})
    result = health(engine=engine, settings=custom, now=NOW)
    assert result.flags.catalog_override is True
    assert result.policies.catalog == "shipped defaults + vendor.toml"


@pytest.fixture
def acme(factory: Factory) -> int:
    return factory.org("acme", "Acme")


@pytest.fixture
def frozen_now(acme: int) -> Iterator[datetime]:
    """NOW, after Acme exists (its group call is stored at the real time)."""
    clock.freeze(NOW)
    try:
        yield NOW
    finally:
        clock.freeze(None)


def test_api_health_serves_the_same_model(
    history: None, frozen_now: datetime, client: TestClient
) -> None:
    body = client.get("/api/health").json()
    assert body["status"] == "degraded"
    assert body["ingest_lag_ms"] == 1500
    assert body["policies"]["retention_days"] == 760
    assert body["flags"]["jobs_enabled"] is False
    assert [(j["job"], j["status"], j["failures_24h"]) for j in body["jobs"]] == [
        ("partitions", "succeeded", 0),
        ("health_snapshots", "failed", 1),
        ("retention", "never_run", 0),
        ("deliveries", "never_run", 0),
        ("alerts", "never_run", 0),
        ("report_subscriptions", "never_run", 0),
        ("metrics_rebuild", "succeeded", 0),
    ]


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.PLATFORM_ADMIN, 200), (Role.SUPPORT, 200), (Role.CS_LEADER, 200),
     (Role.ACCOUNT_MANAGER, 403), (Role.ORG_ADMIN, 403), (Role.MEMBER, 403)],
)
def test_panel_page_is_for_platform_staff(
    history: None, frozen_now: datetime, client: TestClient, factory: Factory,
    role: Role, status: int, acme: int,
) -> None:
    org = acme
    staff = role in (Role.PLATFORM_ADMIN, Role.SUPPORT, Role.CS_LEADER, Role.ACCOUNT_MANAGER)
    factory.login(client, factory.user(role, org_id=None if staff else org))
    response = client.get("/admin/health")
    assert response.status_code == status
    if status == 200:
        page = response.text
        assert '<td class="num" id="ingest-lag">1500</td>' in page
        assert '<td class="num" id="unattributed">0</td>' in page
        assert '<tr class="job-health_snapshots"><td>health_snapshots</td><td>300 s</td>' in page
        assert '<span class="badge red">failed</span>' in page
        assert "RuntimeError: boom" in page
        assert '<tr><th>retention_days</th><td>760</td></tr>' in page
        assert "Jobs are disabled in this web process" in page
        assert '<a class="navlink" href="/admin/health">Service health</a>' in page
    else:
        assert "RuntimeError: boom" not in response.text


def test_org_health_page_tells_platform_admins_about_failing_jobs(
    history: None, frozen_now: datetime, client: TestClient, factory: Factory, acme: int
) -> None:
    org = acme
    factory.login(client, factory.user(Role.PLATFORM_ADMIN))
    page = client.get("/orgs/acme/health").text
    assert '<section class="card" id="scheduled-jobs">' in page
    assert '<span class="badge red">1 failing</span>' in page
    assert "<li><strong>health_snapshots</strong> at 2030-01-01 10:00:00+00:00:" \
        " RuntimeError: boom</li>" in page
    client.cookies.clear()
    factory.login(client, factory.user(Role.ORG_ADMIN, org_id=org))
    page = client.get("/orgs/acme/health").text
    assert 'id="scheduled-jobs"' not in page and "RuntimeError" not in page


def test_org_health_page_all_jobs_fine(client: TestClient, factory: Factory,
                                      engine: Engine) -> None:
    factory.org("acme", "Acme")
    with unscoped(engine) as conn:
        conn.execute(text("INSERT INTO job_runs (job, status) VALUES ('partitions', 'succeeded')"))
    factory.login(client, factory.user(Role.PLATFORM_ADMIN))
    page = client.get("/orgs/acme/health").text
    assert "Every scheduled job succeeded at its last run." in page
