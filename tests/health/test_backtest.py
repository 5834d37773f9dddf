"""Backtest on a hand-built pair of orgs whose scores can be worked out by hand."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datasets import NOW, frozen_clock
from factories import Factory, iso
from orgpulse.catalog import load_catalog
from orgpulse.core.errors import InvalidInput
from orgpulse.core.tenancy import unscoped
from orgpulse.health.backtest import parse_churn_file, run_backtest

CHURN = (NOW - timedelta(days=10)).date()


def activity(org: str, first_day_ago: int, last_day_ago: int) -> list[dict]:
    """Five teachers who each sign in and create an assessment every day in the range."""
    events = [
        {"type": "identify", "userId": f"{org}-t{i}", "traits": {"role": "teacher"},
         "context": {"groupId": org}, "timestamp": iso(NOW - timedelta(days=150))}
        for i in range(5)
    ]
    for ago in range(first_day_ago, last_day_ago - 1, -1):
        when = iso(NOW - timedelta(days=ago, hours=2))
        for i in range(5):
            for event in ("Login", "Assignment Created"):
                events.append({"type": "track", "userId": f"{org}-t{i}", "event": event,
                               "timestamp": when, "context": {"groupId": org}})
    return events


@pytest.fixture
def two_orgs(factory: Factory) -> None:
    clock = frozen_clock()
    next(clock)
    try:
        factory.org("down", "Down District")
        factory.org("up", "Up District")
        # Down stops 61 days before its churn (NOW-10): last activity NOW-71.
        for batch in (activity("down", 140, 71), activity("up", 140, 1)):
            for i in range(0, len(batch), 500):
                assert not factory.send(batch[i:i + 500]).rejections
        yield
    finally:
        clock.close()


def test_backtest_measures_lead_time_and_false_alarms(factory: Factory, two_orgs: None) -> None:
    with unscoped(factory.engine) as conn:
        report = run_backtest(conn, catalog=load_catalog(), churned={"down": CHURN}, now=NOW)
    (down,) = report.churned
    # Weekly checks at churn-120, -113, … , -1. Only activation (25) and usage (25) have data:
    # at churn-36 the 30-day usage window still holds assignments (score 50, "watch"); at
    # churn-29 both windows are empty (score 0, "at risk").
    # The replay stops at the first "at risk": the 14th of the 18 weekly checks.
    assert (down.external_id, down.churned_on, down.checks) == ("down", CHURN, 14)
    assert down.first_at_risk == CHURN - timedelta(days=29)
    assert down.lead_days == 29
    assert [o.external_id for o in report.flagged_14_days_ahead] == ["down"]
    (up,) = report.others
    assert (up.external_id, up.first_at_risk, up.checks, up.scored_checks) == ("up", None, 18, 18)
    assert report.false_alarms == []
    assert report.median_lead_days == 29


def test_cli_prints_the_summary(
    factory: Factory, two_orgs: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orgpulse.cli.main import app
    from orgpulse.core.config import get_settings

    settings = factory.settings
    monkeypatch.setenv("DATABASE_URL", settings.database_url or "")
    monkeypatch.setenv("ORGPULSE_APP_DB_ROLE", settings.app_db_role)
    monkeypatch.setenv("ORGPULSE_APP_DB_PASSWORD", settings.app_db_password or "")
    monkeypatch.setenv("ORGPULSE_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    path = tmp_path / "churned.csv"
    path.write_text(f"org,churned_on\ndown,{CHURN}\n")
    try:
        clock = frozen_clock()
        next(clock)
        result = CliRunner().invoke(app, ["health", "backtest", "--churned", str(path)])
        clock.close()
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert f"down         churned {CHURN}  at risk: 29 days before churn" in result.output
    assert "flagged 1 of 1 churned; 1 at least 14 days ahead; median lead 29 days" in result.output
    assert "false alarms: 0 of 1 other organizations (1 had enough data to score)" in result.output


def test_churn_file_parsing() -> None:
    assert parse_churn_file("org,churned_on\nacme,2026-01-31\n\nglobex, 2026-02-01\n") == {
        "acme": CHURN.replace(year=2026, month=1, day=31),
        "globex": CHURN.replace(year=2026, month=2, day=1),
    }
    with pytest.raises(InvalidInput, match="line 2: 'soon' is not a date"):
        parse_churn_file("org,churned_on\nacme,soon\n")
    with pytest.raises(InvalidInput, match="line 1: expected 'org external id, churn date'"):
        parse_churn_file("acme\n")
    with pytest.raises(InvalidInput, match="lists no organizations"):
        parse_churn_file("org,churned_on\n")
