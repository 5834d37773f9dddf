"""HR aggregates: pre-aggregated quarterly metrics an employer's HR system submits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, text

from orgpulse.audit import AuditContext, record
from orgpulse.core import clock
from orgpulse.core.errors import InvalidInput
from orgpulse.core.tenancy import require_org
from orgpulse.hr.validation import Problem, validate_submission


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


# HR submissions of one org are serialized by a transaction-scoped advisory lock in its own key
# class ("HR" = 0x4852), apart from ingestion's (28528) and the audit chain's (24949); org ids are
# folded into int4 as ingestion does (a collision only makes two orgs wait for each other).
HR_LOCK_CLASS = 18514


@dataclass(frozen=True)
class HrReceipt:
    """What a client is told about an accepted submission."""

    org: str
    period_start: date
    period_end: date
    version: int
    supersedes_version: int | None
    submitted_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "org": self.org,
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "version": self.version,
            "supersedes_version": self.supersedes_version,
            "submitted_at": self.submitted_at.isoformat(),
        }


@dataclass(frozen=True)
class HrVersion:
    """One stored version of a quarter's submission, without its values."""

    period_start: date
    period_end: date
    version: int
    submission_date: date | None
    submitted_at: datetime
    superseded_at: datetime | None
    cohort_sizes: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "version": self.version,
            "submission_date": (
                self.submission_date.isoformat() if self.submission_date else None
            ),
            "submitted_at": self.submitted_at.isoformat(),
            "superseded_at": self.superseded_at.isoformat() if self.superseded_at else None,
            "current": self.superseded_at is None,
            "cohort_sizes": self.cohort_sizes,
        }


def submit_hr_metrics(
    *,
    conn: Connection,
    org_id: int,
    payload: Any,
    submitted_by: int | None,
    now: datetime,
    ctx: AuditContext,
) -> HrReceipt:
    """Validate and store one quarter's HR metrics as its next version; audit the submission.

    Raises ``InvalidInput`` listing every problem (nothing is written). Why the lock: two
    submissions for the same quarter racing each other would both read "version n is current";
    the per-org advisory lock orders them, so the second sees the first's row, supersedes it and
    becomes n+2. The partial unique index stays the last line of defence.
    """
    require_org(conn, org_id)
    org = conn.execute(
        text(
            "SELECT slug, external_id, min_cohort_size, timezone FROM orgs WHERE org_id = :o"
        ),
        {"o": org_id},
    ).one()
    validation = validate_submission(
        payload,
        min_cohort_size=int(org[2]),
        org_slug=org[0],
        org_external_id=org[1],
        today=clock.local_date(now, org[3]),
    )
    submission = validation.payload
    if submission is None:
        raise InvalidInput(
            _rejection_message(validation.problems),
            details=[p.as_dict() for p in validation.problems],
        )
    conn.execute(
        text(
            "SELECT pg_advisory_xact_lock(:cls, CAST(CAST(:o AS bigint) % 2147483648 AS integer))"
        ),
        {"cls": HR_LOCK_CLASS, "o": org_id},
    )
    current = conn.execute(
        text(
            "SELECT version FROM hr_submissions WHERE org_id = :o AND period_start = :p"
            " AND superseded_at IS NULL FOR UPDATE"
        ),
        {"o": org_id, "p": submission.period_start},
    ).scalar_one_or_none()
    latest = conn.execute(
        text(
            "SELECT coalesce(max(version), 0) FROM hr_submissions"
            " WHERE org_id = :o AND period_start = :p"
        ),
        {"o": org_id, "p": submission.period_start},
    ).scalar_one()
    if current is not None:
        conn.execute(
            text(
                "UPDATE hr_submissions SET superseded_at = :now WHERE org_id = :o"
                " AND period_start = :p AND superseded_at IS NULL"
            ),
            {"now": now, "o": org_id, "p": submission.period_start},
        )
    version = int(latest) + 1
    conn.execute(
        text(
            "INSERT INTO hr_submissions (org_id, period_start, period_end, version,"
            " submission_date, metrics, submitted_by, submitted_at)"
            " VALUES (:o, :ps, :pe, :v, :sd, CAST(:m AS jsonb), :by, :at)"
        ),
        {
            "o": org_id,
            "ps": submission.period_start,
            "pe": submission.period_end,
            "v": version,
            "sd": submission.submission_date,
            "m": orjson.dumps(submission.metrics).decode(),
            "by": submitted_by,
            "at": now,
        },
    )
    receipt = HrReceipt(
        org=org[0],
        period_start=submission.period_start,
        period_end=submission.period_end,
        version=version,
        supersedes_version=None if current is None else int(current),
        submitted_at=now,
    )
    # Last: the audit insert takes the chain's global lock until commit.
    record(
        conn,
        ctx=ctx,
        action="hr_metrics.submitted",
        org_id=org_id,
        target=f"{submission.period_start}/v{version}",
        details={
            "period_start": submission.period_start.isoformat(),
            "period_end": submission.period_end.isoformat(),
            "version": version,
            "supersedes_version": receipt.supersedes_version,
            "cohort_sizes": submission.cohort_sizes(),
        },
    )
    return receipt


def _rejection_message(problems: tuple[Problem, ...]) -> str:
    count = len(problems)
    return f"the HR submission has {count} problem{'s' if count != 1 else ''}; nothing was stored"


def record_hr_rejection(
    *, engine: Engine, ctx: AuditContext, org_id: int, problems: list[dict[str, Any]]
) -> None:
    """Audit a refused submission with its problems (fields and messages, never values)."""
    record(
        engine,
        ctx=ctx,
        action="hr_metrics.rejected",
        org_id=org_id,
        target="hr_metrics",
        outcome="denied",
        details={
            "problems": [
                {"field": str(p.get("field", "")), "message": str(p.get("message", ""))}
                for p in problems
            ]
        },
    )


def list_hr_submissions(*, conn: Connection, org_id: int) -> list[HrVersion]:
    """Return every stored version of the org's HR submissions, newest quarter first."""
    require_org(conn, org_id)
    rows = conn.execute(
        text(
            "SELECT period_start, period_end, version, submission_date, submitted_at,"
            " superseded_at, metrics FROM hr_submissions WHERE org_id = :o"
            " ORDER BY period_start DESC, version DESC"
        ),
        {"o": org_id},
    ).all()
    return [
        HrVersion(
            period_start=r[0],
            period_end=r[1],
            version=r[2],
            submission_date=r[3],
            submitted_at=r[4],
            superseded_at=r[5],
            cohort_sizes={name: int(values["cohort_size"]) for name, values in r[6].items()},
        )
        for r in rows
    ]
