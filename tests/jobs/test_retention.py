"""Retention drops exactly the event partitions before the first kept month, and nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from factories import Factory, iso
from orgpulse.cli.main import app as cli
from orgpulse.core import clock
from orgpulse.core.config import Settings
from orgpulse.core.migrate import ensure_partitions
from orgpulse.core.tenancy import TenantScope, scoped, unscoped
from orgpulse.jobs.retention import first_kept_month, run_retention

# 400-day policy. At NOW_A, NOW_A - 401 days = 2025-09-30: September 2025 is the first kept
# month. One day later, NOW_B - 401 days = 2025-10-01: September is past the policy.
NOW_A = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)
NOW_B = datetime(2026, 11, 6, 12, 0, tzinfo=UTC)
AROUND = ("events_2025_08", "events_2025_09", "events_2025_10", "events_2025_11")


@pytest.fixture
def policy(settings: Settings, owner: Engine) -> Iterator[Settings]:
    """400-day settings, with the partitions around the boundary present; restored afterwards."""
    with owner.begin() as conn:
        for name in AROUND:
            y, m = int(name[7:11]), int(name[12:14])
            end = f"{y + m // 12}-{m % 12 + 1:02d}-01"
            conn.execute(
                text(
                    f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF events FOR VALUES"
                    f" FROM ('{y}-{m:02d}-01 00:00+00') TO ('{end} 00:00+00')"
                )
            )
    yield settings.model_copy(update={"retention_days": 400})
    clock.freeze(None)
    with owner.begin() as conn:
        ensure_partitions(conn, settings=settings)
        for name in AROUND:
            conn.execute(text(f"DROP TABLE IF EXISTS {name}"))  # only if outside the horizon
        ensure_partitions(conn, settings=settings)


def partitions(owner: Engine) -> list[str]:
    with owner.begin() as conn:
        rows = conn.execute(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'events'"
                " ORDER BY 1"
            )
        )
        return [r[0] for r in rows]


def test_first_kept_month_moves_on_the_boundary_day(policy: Settings) -> None:
    assert first_kept_month(settings=policy, now=NOW_A).isoformat() == "2025-09-01"
    assert first_kept_month(settings=policy, now=NOW_B).isoformat() == "2025-10-01"


def test_dry_run_lists_and_keeps_everything(policy: Settings, owner: Engine) -> None:
    before = partitions(owner)
    with owner.begin() as conn:
        lines = run_retention(conn, settings=policy, now=NOW_A, dry_run=True)
    older = [n for n in before if n < "events_2025_09"]
    assert "events_2025_08" in older
    assert lines == [
        "retention dry run at 2026-11-05T12:00:00Z",
        "policy: raw events kept 400 days (horizon 2025-10-01); partitions from 2025-09 are kept",
        *[f"would drop partition {n}" for n in older],
        "would purge the context of 0 support request(s) older than 180 days",
        "kept: rollups and health snapshots (not touched by retention: at least 2 years)",
        "kept: audit records (append-only, never touched: at least 7 years)",
    ]
    assert partitions(owner) == before


def test_run_drops_old_partitions_and_keeps_rollups_and_audit(
    policy: Settings, owner: Engine, engine: Engine, factory: Factory
) -> None:
    # Sent through an ingest that still accepts 14-month-old events (the default keeps 400 days).
    factory = Factory(engine=factory.engine, app=factory.app,
                      settings=factory.settings.model_copy(update={"retention_days": 800}))
    org = factory.org("acme", "Acme")
    factory.send([
        {"type": "identify", "userId": "t1", "traits": {"role": "teacher"},
         "context": {"groupId": "acme"}, "timestamp": iso(datetime(2025, 9, 30, 23, tzinfo=UTC))},
        {"type": "track", "userId": "t1", "event": "Login", "context": {"groupId": "acme"},
         "timestamp": iso(datetime(2025, 9, 30, 23, 30, tzinfo=UTC))},
        {"type": "track", "userId": "t1", "event": "Login", "context": {"groupId": "acme"},
         "timestamp": iso(datetime(2025, 10, 1, 0, 30, tzinfo=UTC))},
    ])

    def counts() -> tuple[dict[str, int], int, int]:
        with scoped(engine, TenantScope.of([org])) as conn:
            events = dict(
                conn.execute(
                    text("SELECT tableoid::regclass::text, count(*) FROM events GROUP BY 1")
                ).all()
            )
            rollups = conn.execute(
                text("SELECT count(*) FROM rollup_daily_events WHERE name = 'Login'")
            ).scalar_one()
        with unscoped(engine) as conn:
            audit = conn.execute(text("SELECT count(*) FROM audit_records")).scalar_one()
        return events, rollups, audit

    events, rollups, audit = counts()
    today = f"events_{datetime.now(UTC):%Y_%m}"  # the org's group call, sent just now
    # identify + a login on 30 September, a login on 1 October; 2 Login days rolled up.
    assert (events, rollups) == ({"events_2025_09": 2, "events_2025_10": 1, today: 1}, 2)
    before = partitions(owner)
    with owner.begin() as conn:
        lines = run_retention(conn, settings=policy, now=NOW_B, dry_run=False)
    dropped = [n for n in before if n < "events_2025_10"]
    assert dropped[-2:] == ["events_2025_08", "events_2025_09"]
    assert lines[2:-3] == [f"dropped partition {n}" for n in dropped]
    assert lines[-3] == "purged the context of 0 support request(s) older than 180 days"
    assert partitions(owner) == [n for n in before if n >= "events_2025_10"]
    # The October login stays; September's identify and login went with their partition.
    assert counts() == ({"events_2025_10": 1, today: 1}, 2, audit)


def test_nothing_past_the_policy_says_so(policy: Settings, owner: Engine) -> None:
    with owner.begin() as conn:
        lines = run_retention(
            conn,
            settings=policy.model_copy(update={"retention_days": 3000}),
            now=NOW_A,
            dry_run=True,
        )
    assert lines[2] == "no event partition is past the policy"


def test_cli_dry_run_prints_the_plan_and_records_the_run(
    policy: Settings, owner: Engine, engine: Engine, cli_env: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ORGPULSE_RETENTION_DAYS", "400")
    clock.freeze(NOW_B)
    older = [n for n in partitions(owner) if n < "events_2025_10"]
    result = cli_env.invoke(cli, ["retention", "run", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "retention dry run at 2026-11-06T12:00:00Z",
        "policy: raw events kept 400 days (horizon 2025-10-02); partitions from 2025-10 are kept",
        *[f"would drop partition {n}" for n in older],
        "would purge the context of 0 support request(s) older than 180 days",
        "kept: rollups and health snapshots (not touched by retention: at least 2 years)",
        "kept: audit records (append-only, never touched: at least 7 years)",
    ]
    assert "events_2025_09" in partitions(owner)
    with unscoped(engine) as conn:
        row = conn.execute(text("SELECT job, status, detail FROM job_runs")).one()
    assert row[0] == "retention" and row[1] == "succeeded"
    assert row[2] == (
        "dry run: policy: raw events kept 400 days (horizon 2025-10-02);"
        f" partitions from 2025-10 are kept; would drop {len(older)} partitions"
        f" ({older[0]} … events_2025_09);"
        " would purge the context of 0 support request(s) older than 180 days"
    )


def test_cli_run_drops_and_records(
    policy: Settings, owner: Engine, engine: Engine, cli_env: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ORGPULSE_RETENTION_DAYS", "400")
    clock.freeze(NOW_B)
    result = cli_env.invoke(cli, ["retention", "run"])
    assert result.exit_code == 0, result.output
    assert "dropped partition events_2025_09" in result.output.splitlines()
    assert "events_2025_09" not in partitions(owner)
    assert "events_2025_10" in partitions(owner)
    with unscoped(engine) as conn:
        status = conn.execute(text("SELECT status FROM job_runs WHERE job = 'retention'")).one()
    assert status[0] == "succeeded"


def test_a_failing_step_is_recorded_and_rolls_back(
    policy: Settings, owner: Engine, engine: Engine, cli_env: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from orgpulse.jobs import retention

    def broken(ctx: retention.RetentionContext) -> list[str]:
        raise RuntimeError("disk on fire")

    monkeypatch.setenv("ORGPULSE_RETENTION_DAYS", "400")
    monkeypatch.setattr(retention, "RETENTION_STEPS", [retention.drop_expired_partitions, broken])
    clock.freeze(NOW_B)
    result = cli_env.invoke(cli, ["retention", "run"])
    assert result.exit_code == 2
    assert "retention failed; see the retention job on the health panel" in result.output
    assert "events_2025_09" in partitions(owner)  # the drop rolled back with the failed step
    with unscoped(engine) as conn:
        row = conn.execute(
            text("SELECT status, detail, finished_at IS NOT NULL FROM job_runs")
        ).one()
    assert tuple(row) == ("failed", "RuntimeError: disk on fire", True)
