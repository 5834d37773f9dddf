"""The ``report_subscriptions`` job: mail every due report subscription (every 15 minutes)."""

from __future__ import annotations

from orgpulse.jobs.registry import Job, register
from orgpulse.reports.subscriptions import run_due_subscriptions

register(
    Job(
        name="report_subscriptions",
        every_seconds=900,
        work=run_due_subscriptions,
        description="Render due report subscriptions with each recipient's permissions and "
        "queue them by email.",
    )
)
