"""HR aggregates: pre-aggregated quarterly metrics an employer's HR system submits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, text

from orgpulse.core.tenancy import require_org


@dataclass(frozen=True)
class HrSubmission:
    """The current (not superseded) HR submission of one org for one calendar quarter.

    ``metrics`` is the submitted ``metrics`` object as validated, e.g.
    ``{"retention": {"cohort_size": 45, "retained_count": 42, "retention_rate": 93.3}, ...}``.
    """

    period_start: date
    period_end: date
    version: int
    submitted_at: datetime
    submission_date: date | None
    metrics: dict[str, dict[str, Any]]


def current_submission(
    *, conn: Connection, org_id: int, period_start: date
) -> HrSubmission | None:
    """Return the org's current HR submission for the quarter starting ``period_start``."""
    require_org(conn, org_id)
    row = conn.execute(
        text(
            "SELECT period_start, period_end, version, submitted_at, submission_date, metrics"
            " FROM hr_submissions WHERE org_id = :o AND period_start = :p"
            " AND superseded_at IS NULL"
        ),
        {"o": org_id, "p": period_start},
    ).one_or_none()
    if row is None:
        return None
    return HrSubmission(
        period_start=row[0],
        period_end=row[1],
        version=row[2],
        submitted_at=row[3],
        submission_date=row[4],
        metrics=row[5],
    )
