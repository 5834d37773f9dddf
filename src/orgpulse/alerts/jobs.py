"""The scheduled alert evaluation: every ``alerts_interval_seconds``, and early after ingest."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from orgpulse.core.config import Settings
from orgpulse.core.db import app_engine
from orgpulse.core.tenancy import unscoped
from orgpulse.jobs.registry import Job, register

JOB_NAME = "alerts"


def run_alerts(conn: Connection, settings: Settings, now: datetime) -> str:
    from orgpulse.alerts.service import evaluate_alerts

    return evaluate_alerts(conn, settings=settings, now=now).summary()


def ingested_since_last_run(settings: Settings) -> bool:
    """Whether an ingest batch committed after the last alert evaluation started."""
    from orgpulse.alerts import queries

    with unscoped(app_engine(settings)) as conn:
        latest = conn.execute(queries.LATEST_INGEST).scalar()
        last_run = conn.execute(queries.LAST_RUN_STARTED, {"job": JOB_NAME}).scalar()
    return latest is not None and (last_run is None or latest > last_run)


register(
    Job(
        name=JOB_NAME,
        every_seconds=300,
        work=run_alerts,
        description="Evaluate alert rules over every org; route new alerts to inbox, email and"
        " webhooks.",
        interval_setting="alerts_interval_seconds",
        run_early=ingested_since_last_run,
    )
)
