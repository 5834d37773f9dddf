"""The jobs OrgPulse itself schedules: partition maintenance, health snapshots, retention."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from orgpulse.core.config import Settings
from orgpulse.core.migrate import ensure_partitions
from orgpulse.jobs.registry import Job, register
from orgpulse.jobs.retention import run_retention, summary


def maintain_partitions(conn: Connection, settings: Settings, now: datetime) -> str:
    created = ensure_partitions(conn, settings=settings)
    return f"created {len(created)} partitions" if created else "partitions up to date"


def refresh_health(conn: Connection, settings: Settings, now: datetime) -> str:
    from orgpulse.catalog import catalog_of
    from orgpulse.health.snapshots import refresh_snapshots

    return refresh_snapshots(conn, catalog=catalog_of(settings), now=now)


def apply_retention(conn: Connection, settings: Settings, now: datetime) -> str:
    return summary(run_retention(conn, settings=settings, now=now, dry_run=False))


register(
    Job(
        name="partitions",
        every_seconds=3600,
        work=maintain_partitions,
        description="Rollup and partition maintenance: event partitions kept created ahead.",
        as_owner=True,
    )
)
register(
    Job(
        name="health_snapshots",
        every_seconds=300,
        work=refresh_health,
        description="Re-score today's health snapshot of every org with new activity.",
    )
)
register(
    Job(
        name="retention",
        every_seconds=86_400,
        work=apply_retention,
        description="Drop raw event partitions past the retention policy.",
        as_owner=True,
    )
)
