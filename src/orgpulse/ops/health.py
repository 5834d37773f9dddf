"""The service health panel: platform-wide, aggregate only (no tenant data).

One function feeds ``/api/health`` (JSON) and the platform admins' page ``/admin/health``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from orgpulse import __version__
from orgpulse.core.config import Settings
from orgpulse.core.tenancy import unscoped
from orgpulse.ops.health_queries import INGEST, UNATTRIBUTED, job_failures, latest_job_runs
from orgpulse.privacy.policy import MIN_COHORT_SIZE, PrivacyMode


class JobStatus(BaseModel):
    job: str
    every_seconds: int | None  # None: run on demand (e.g. `orgpulse metrics rebuild`)
    status: str  # running, succeeded, failed, or never_run
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    detail: str
    failures_24h: int
    last_failure_at: datetime | None
    last_failure_detail: str | None


class Flags(BaseModel):
    jobs_enabled: bool
    catalog_override: bool
    read_replica: bool
    secure_cookies: bool


class Policies(BaseModel):
    environment: str
    retention_days: int
    rollup_retention: str
    audit_retention: str
    privacy_default_mode: str
    privacy_default_min_cohort_size: int
    catalog: str
    partitions_ahead_months: int
    freshness_amber_seconds: int


class Health(BaseModel):
    status: str
    database: str
    version: str
    ingest_lag_ms: int | None
    last_ingest_at: datetime | None
    last_rollup_at: datetime | None
    unattributed_backlog: int | None
    flags: Flags
    policies: Policies
    jobs: list[JobStatus]


LAG_WINDOW = timedelta(minutes=5)
FAILURE_WINDOW = timedelta(hours=24)


def flags_of(settings: Settings) -> Flags:
    return Flags(
        jobs_enabled=settings.jobs_enabled,
        catalog_override=settings.catalog_file is not None,
        read_replica=settings.database_read_url is not None,
        secure_cookies=settings.secure_cookies,
    )


def policies_of(settings: Settings) -> Policies:
    """The policies in force; the catalog is named by file name only (no server paths)."""
    return Policies(
        environment=settings.environment,
        retention_days=settings.retention_days,
        rollup_retention="kept: rollups and health snapshots are never dropped by retention",
        audit_retention="kept: audit records are append-only and never dropped",
        privacy_default_mode=PrivacyMode.STANDARD.value,
        privacy_default_min_cohort_size=MIN_COHORT_SIZE,
        catalog=(
            "shipped defaults"
            if settings.catalog_file is None
            else f"shipped defaults + {settings.catalog_file.name}"
        ),
        partitions_ahead_months=settings.partitions_ahead_months,
        freshness_amber_seconds=settings.freshness_amber_seconds,
    )


def job_statuses(
    *, conn: Connection, now: datetime, settings: Settings | None = None
) -> list[JobStatus]:
    """Every scheduled job (run or not) and every job that has run, with its last real run.

    Skipped runs (another node held the lock) are left out, so a failure is not hidden by a
    later skip on a second node; ``failures_24h`` counts failed runs started in the last day.
    """
    from orgpulse.jobs.registry import interval_of, registered_jobs

    every = {
        job.name: job.every_seconds if settings is None else interval_of(job, settings)
        for job in registered_jobs()
    }
    latest = {r[0]: r for r in conn.execute(latest_job_runs())}
    failures = {r[0]: r for r in conn.execute(job_failures(), {"since": now - FAILURE_WINDOW})}
    names = list(every) + sorted(set(latest) - set(every))
    statuses = []
    for name in names:
        run = latest.get(name)
        failed = failures.get(name)
        started, finished = (run[2], run[3]) if run else (None, None)
        statuses.append(
            JobStatus(
                job=name,
                every_seconds=every.get(name),
                status=run[1] if run else "never_run",
                started_at=started,
                finished_at=finished,
                duration_ms=(
                    round((finished - started).total_seconds() * 1000)
                    if started and finished
                    else None
                ),
                detail=run[4] if run else "",
                failures_24h=int(failed[3]) if failed else 0,
                last_failure_at=failed[1] if failed else None,
                last_failure_detail=failed[2] if failed else None,
            )
        )
    return statuses


def health(*, engine: Engine, settings: Settings, now: datetime) -> Health:
    """Return database status, ingest lag, backlog, flags and policies, and every job's status.

    ``ingest_lag_ms`` is the longest receive→commit delay among batches committed in the last
    five minutes (rollups commit with their events, so committed means visible); 0 when idle.
    Status is ``degraded`` when a job's last real run failed.
    """
    flags, policies = flags_of(settings), policies_of(settings)
    try:
        with unscoped(engine) as conn:
            lag, last = conn.execute(INGEST, {"since": now - LAG_WINDOW}).one()
            backlog = conn.execute(UNATTRIBUTED).scalar_one()
            jobs = job_statuses(conn=conn, now=now, settings=settings)
    except DBAPIError:
        return Health(
            status="unavailable",
            database="unavailable",
            version=__version__,
            ingest_lag_ms=None,
            last_ingest_at=None,
            last_rollup_at=None,
            unattributed_backlog=None,
            flags=flags,
            policies=policies,
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
        flags=flags,
        policies=policies,
        jobs=jobs,
    )
