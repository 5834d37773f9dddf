"""A job that fails half-way leaves nothing half done, says so on the health panel, and the next
run does the whole work: the health snapshot job (one transaction for every org) and the
metrics rebuild (one transaction per org)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event, text

from datasets import NOW, build_acme, build_lakeside
from factories import Factory
from orgpulse.catalog import load_catalog
from orgpulse.core.config import Settings
from orgpulse.core.tenancy import TenantScope, scoped, unscoped
from orgpulse.health import snapshots
from orgpulse.ingestion import queries
from orgpulse.jobs import run_registered
from orgpulse.jobs.registry import job_named
from orgpulse.metrics.rebuild import rebuild_metrics
from orgpulse.ops import health

EVERY_ORG = TenantScope.all_orgs([], user_id=None)
# Derived tables a rebuild deletes and writes again (rollup_state is left out: it carries the
# time of the last rollup, which a rebuild moves on purpose).
ROLLUPS = ("rollup_daily_events", "rollup_member_events", "rollup_member_days", "pair_items",
           "funnel_progress")


def job_runs(engine: Engine) -> list[tuple[str, str, str]]:
    with unscoped(engine) as conn:
        rows = conn.execute(text("SELECT job, status, detail FROM job_runs ORDER BY run_id"))
        return [(r[0], r[1], r[2]) for r in rows]


def panel_entry(engine: Engine, settings: Settings, job: str) -> dict[str, Any]:
    """The job's line on the service health panel (``GET /api/health``)."""
    report = health(engine=engine, settings=settings, now=datetime.now(UTC))
    (entry,) = [j.model_dump() for j in report.jobs if j.job == job]
    return {k: entry[k] for k in ("status", "detail", "failures_24h", "last_failure_detail")}


def stored_snapshots(engine: Engine) -> list[tuple[Any, ...]]:
    with scoped(engine, EVERY_ORG) as conn:
        rows = conn.execute(text(
            "SELECT org_id, unit_id, day, score, status FROM health_snapshots"
            " ORDER BY org_id, unit_id"
        ))
        return [(r[0], r[1], r[2], None if r[3] is None else float(r[3]), r[4]) for r in rows]


def test_snapshot_job_failing_on_the_second_org_writes_no_snapshot_and_the_retry_does(
    factory: Factory, engine: Engine, settings: Settings, frozen: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    acme = build_acme(factory)
    globex = factory.org("globex", "Globex")
    with scoped(engine, TenantScope.of([acme])) as conn:
        north, south = conn.execute(
            text("SELECT unit_id FROM units ORDER BY external_id")).scalars().all()
    real_snapshot_org = snapshots.snapshot_org
    written_before_failure: list[int] = []

    def crash_on_globex(conn: Connection, *, catalog: Any, org_id: int, day: Any) -> int:
        if org_id == globex:
            written_before_failure.append(int(conn.execute(
                text("SELECT count(*) FROM health_snapshots")).scalar_one()))
            raise RuntimeError("scoring crashed")
        return real_snapshot_org(conn, catalog=catalog, org_id=org_id, day=day)

    monkeypatch.setattr(snapshots, "snapshot_org", crash_on_globex)
    job = job_named("health_snapshots")
    assert run_registered(job, settings) == "failed"
    # Acme and its two schools were scored inside the job's transaction, then it rolled back.
    assert written_before_failure == [3]
    assert stored_snapshots(engine) == []
    assert job_runs(engine) == [("health_snapshots", "failed", "RuntimeError: scoring crashed")]
    assert panel_entry(engine, settings, "health_snapshots") == {
        "status": "failed", "detail": "RuntimeError: scoring crashed", "failures_24h": 1,
        "last_failure_detail": "RuntimeError: scoring crashed",
    }

    monkeypatch.setattr(snapshots, "snapshot_org", real_snapshot_org)
    assert run_registered(job, settings) == "succeeded"
    day = NOW.date()
    # Acme scores 64.1 (tests/health/test_health_api.py); each school has fewer than 3 teachers
    # and no data for the other parts, and Globex has no data at all: insufficient data.
    assert stored_snapshots(engine) == [
        (acme, 0, day, 64.1, "watch"),
        (acme, north, day, None, "insufficient_data"),
        (acme, south, day, None, "insufficient_data"),
        (globex, 0, day, None, "insufficient_data"),
    ]
    assert job_runs(engine)[1:] == [("health_snapshots", "succeeded", "refreshed 2 orgs")]
    assert panel_entry(engine, settings, "health_snapshots") == {
        "status": "succeeded", "detail": "refreshed 2 orgs", "failures_24h": 1,
        "last_failure_detail": "RuntimeError: scoring crashed",
    }


def rollups(engine: Engine, org_id: int) -> dict[str, list[tuple[Any, ...]]]:
    with scoped(engine, EVERY_ORG) as conn:
        return {
            table: [tuple(r) for r in conn.execute(
                text(f"SELECT * FROM {table} WHERE org_id = :o ORDER BY 1, 2, 3, 4"),  # noqa: S608
                {"o": org_id},
            )]
            for table in ROLLUPS
        }


def logins(engine: Engine, org_id: int) -> int:
    with scoped(engine, EVERY_ORG) as conn:
        return int(conn.execute(text(
            "SELECT coalesce(sum(events), 0) FROM rollup_daily_events"
            " WHERE org_id = :o AND name = 'Login'"), {"o": org_id}).scalar_one())


def test_rebuild_failing_on_the_second_org_leaves_it_untouched_and_the_retry_rebuilds_it(
    factory: Factory, engine: Engine, settings: Settings, frozen: datetime,
) -> None:
    acme, lakeside = build_acme(factory), build_lakeside(factory)
    as_ingested = {org: rollups(engine, org) for org in (acme, lakeside)}
    # Rollups that drifted from the events (as after a catalog change): sign-ins went missing.
    with scoped(engine, EVERY_ORG) as conn:
        conn.execute(text("DELETE FROM rollup_daily_events WHERE name = 'Login'"))
    drifted = rollups(engine, lakeside)
    assert (logins(engine, acme), logins(engine, lakeside)) == (0, 0)
    with scoped(engine, EVERY_ORG) as conn:
        acme_events = int(conn.execute(
            text("SELECT count(*) FROM events WHERE org_id = :o"), {"o": acme}).scalar_one())
    projected_in_transaction: list[int] = []

    def crash_after_projecting_lakeside(
        conn: Connection, cursor: Any, statement: str, params: Any, *args: Any
    ) -> None:
        # Lakeside's rollups are deleted and written again inside its transaction: then crash.
        if statement == str(queries.PROJECT_ORG_EVENTS.compile(conn)) and \
                params.get("org") == lakeside:
            projected_in_transaction.append(int(conn.connection.driver_connection.execute(
                "SELECT sum(events) FROM rollup_daily_events WHERE name = 'Login'"
            ).fetchone()[0]))
            raise RuntimeError("worker lost")

    catalog = load_catalog()
    event.listen(engine, "after_cursor_execute", crash_after_projecting_lakeside)
    try:
        with pytest.raises(RuntimeError, match="worker lost"):
            rebuild_metrics(engine=engine, catalog=catalog, org_ids=[acme, lakeside])
    finally:
        event.remove(engine, "after_cursor_execute", crash_after_projecting_lakeside)
    # Inside Lakeside's transaction (its scope: Lakeside only) its one sign-in was back.
    assert projected_in_transaction == [1]
    assert rollups(engine, acme) == as_ingested[acme]  # committed before the failure
    assert rollups(engine, lakeside) == drifted  # exactly as before: not emptied, not half new
    assert job_runs(engine) == [(
        "metrics_rebuild", "failed",
        f"rebuilt 1 of 2 orgs from {acme_events} events; RuntimeError: worker lost",
    )]

    rebuild_metrics(engine=engine, catalog=catalog, org_ids=[acme, lakeside])
    assert {org: rollups(engine, org) for org in (acme, lakeside)} == as_ingested
    assert (logins(engine, acme), logins(engine, lakeside)) == (4, 1)
    assert job_runs(engine)[1][:2] == ("metrics_rebuild", "succeeded")
    entry = panel_entry(engine, settings, "metrics_rebuild")
    assert (entry["status"], entry["failures_24h"], entry["last_failure_detail"]) == (
        "succeeded", 1, f"rebuilt 1 of 2 orgs from {acme_events} events; RuntimeError: worker lost"
    )
