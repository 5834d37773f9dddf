"""The /api/health payload: platform-wide, aggregate only (no tenant data)."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from orgpulse import __version__
from orgpulse.core.tenancy import unscoped


class JobStatus(BaseModel):
    job: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    detail: str


class Health(BaseModel):
    status: str
    database: str
    version: str
    ingest_lag_ms: int | None
    last_ingest_at: datetime | None
    last_rollup_at: datetime | None
    unattributed_backlog: int | None
    jobs: list[JobStatus]


LAG_WINDOW = timedelta(minutes=5)


def health(*, engine: Engine, now: datetime) -> Health:
    """Return database status, ingest lag, unattributed backlog and the latest run of each job.

    ``ingest_lag_ms`` is the longest receive→commit delay among batches committed in the last
    five minutes (rollups commit with their events, so committed means visible); 0 when idle.
    """
    try:
        with unscoped(engine) as conn:
            lag, last = conn.execute(
                text(
                    "SELECT COALESCE(max(EXTRACT(EPOCH FROM committed_at - received_at))"
                    "  FILTER (WHERE committed_at > :since), 0) * 1000, max(committed_at)"
                    " FROM ingest_batches"
                ),
                {"since": now - LAG_WINDOW},
            ).one()
            backlog = conn.execute(text("SELECT count(*) FROM unattributed_events")).scalar_one()
            jobs = [
                JobStatus(job=r[0], status=r[1], started_at=r[2], finished_at=r[3], detail=r[4])
                for r in conn.execute(
                    text(
                        "SELECT DISTINCT ON (job) job, status, started_at, finished_at, detail"
                        " FROM job_runs ORDER BY job, started_at DESC"
                    )
                )
            ]
    except DBAPIError:
        return Health(
            status="unavailable",
            database="unavailable",
            version=__version__,
            ingest_lag_ms=None,
            last_ingest_at=None,
            last_rollup_at=None,
            unattributed_backlog=None,
            jobs=[],
        )
    failing = any(j.status == "failed" for j in jobs)
    return Health(
        status="degraded" if failing else "ok",
        database="ok",
        version=__version__,
        ingest_lag_ms=int(lag),
        last_ingest_at=last,
        last_rollup_at=last,
        unattributed_backlog=int(backlog),
        jobs=jobs,
    )
