"""SQL of the service health panel: job runs and ingest (platform tables, no tenant data)."""

from __future__ import annotations

from sqlalchemy import TextClause, text

# Runs that found another node holding the job's lock did nothing; they say nothing about the
# job's health and would hide the real last run.
SKIPPED = "skipped: %"

INGEST = text(
    "SELECT COALESCE(max(EXTRACT(EPOCH FROM committed_at - received_at))"
    "  FILTER (WHERE committed_at > :since), 0) * 1000, max(committed_at)"
    " FROM ingest_batches"
)
UNATTRIBUTED = text("SELECT count(*) FROM unattributed_events")


def latest_job_runs() -> TextClause:
    """The newest run of each job that did not skip: status, times, detail."""
    return text(
        "SELECT DISTINCT ON (job) job, status, started_at, finished_at, detail"
        " FROM job_runs WHERE detail NOT LIKE :skipped"
        " ORDER BY job, started_at DESC, run_id DESC"
    ).bindparams(skipped=SKIPPED)


def job_failures() -> TextClause:
    """Per job with failures: failures since ``:since``, and the newest failure and its detail."""
    return text(
        "SELECT DISTINCT ON (job) job, started_at, detail,"
        " count(*) FILTER (WHERE started_at > :since) OVER (PARTITION BY job)"
        " FROM job_runs WHERE status = 'failed'"
        " ORDER BY job, started_at DESC, run_id DESC"
    )
