"""The alerts job: registered, interval from settings, run early after ingest, raises alerts
from data that just arrived."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from alertdata import alerts, rows
from datasets import at
from factories import Factory
from orgpulse.alerts.jobs import ingested_since_last_run
from orgpulse.core.config import Settings
from orgpulse.core.tenancy import unscoped
from orgpulse.jobs.registry import interval_of, is_due, job_named, run_registered

pytestmark = pytest.mark.usefixtures("frozen")


def test_interval_follows_the_setting(settings: Settings) -> None:
    job = job_named("alerts")
    assert interval_of(job, settings) == 300
    assert interval_of(job, settings.model_copy(update={"alerts_interval_seconds": 60})) == 60
    assert interval_of(job_named("retention"), settings) == 86_400


def test_the_job_raises_the_alert_after_the_data_arrives(factory: Factory) -> None:
    job = job_named("alerts")
    settings = factory.settings
    assert run_registered(job, settings) == "succeeded"
    assert not ingested_since_last_run(settings)
    # Not due: 40 s after the last run, nothing ingested since.
    assert not is_due(job, settings, since_last_run=40)
    # A backfill arrives whose newest event is three days old (beyond the 2-day freshness lag).
    result = factory.send([{"type": "group", "groupId": "late", "traits": {"name": "Late Co"},
                            "timestamp": at(3)}])
    assert result.accepted == 1
    assert ingested_since_last_run(settings)
    assert is_due(job, settings, since_last_run=40)  # ingest burst: run early...
    assert not is_due(job, settings, since_last_run=20)  # ...but not within 30 s of the last
    assert run_registered(job, settings) == "succeeded"
    [(alert_id, rule, org_id, subject, status, value)] = alerts(factory.engine)
    assert (rule, subject, status, value) == ("freshness_lag", "", "open", 3 * 24 * 60 + 120)
    assert rows(factory.engine, "SELECT detail FROM job_runs WHERE job = 'alerts'"
                                " ORDER BY run_id") == [
        ("opened 0, still open 0, resolved 0, quiet in cooldown 0",),
        ("opened 1, still open 0, resolved 0, quiet in cooldown 0",),
    ]
    assert not ingested_since_last_run(settings)
    assert not is_due(job, settings, since_last_run=299)
    assert is_due(job, settings, since_last_run=300)
    with unscoped(factory.engine) as conn:
        assert conn.execute(text("SELECT count(*) FROM alert_rules")).scalar() == 6


def test_service_health_shows_the_configured_interval(engine: Engine, settings: Settings
                                                      ) -> None:
    from datasets import NOW
    from orgpulse.ops import health

    faster = settings.model_copy(update={"alerts_interval_seconds": 60})
    jobs = {j.job: j.every_seconds for j in health(engine=engine, settings=faster, now=NOW).jobs}
    assert (jobs["alerts"], jobs["health_snapshots"]) == (60, 300)
