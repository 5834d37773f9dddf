"""The ``deliveries`` job: one pass over the outbox every 30 seconds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from orgpulse.core.config import Settings
from orgpulse.jobs.registry import Job, register
from orgpulse.notify.delivery import deliver_due


def send_deliveries(conn: Connection, settings: Settings, now: datetime) -> str:
    # The job's own transaction only holds the run's advisory lock; every claim and outcome
    # commits on its own connection, so no row lock is held while a peer is contacted.
    return deliver_due(conn.engine, settings=settings, now=now).summary()


register(
    Job(
        name="deliveries",
        every_seconds=30,
        work=send_deliveries,
        description="Send queued emails and webhooks; retry with back-off, dead-letter at last.",
    )
)
