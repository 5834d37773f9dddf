"""Report subscriptions: a user's weekly or monthly report, mailed with their permissions at
send time.

Schedule (UTC): weekly runs on Mondays at 07:00, monthly on the 1st at 07:00. ``next_run_at``
is always the first such instant strictly after the time it is computed from (creation, or the
run that just happened), so a subscription never runs twice for one slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import Connection, text

from orgpulse.audit import AuditContext, record
from orgpulse.auth import Principal, load_principal
from orgpulse.catalog import catalog_of
from orgpulse.core.config import Settings
from orgpulse.core.errors import InvalidInput, NotFound, OrgPulseError
from orgpulse.core.tenancy import TenantScope, apply_scope
from orgpulse.dashboards.portfolio import portfolio_scope
from orgpulse.notify import Attachment, enqueue_email
from orgpulse.reports import render
from orgpulse.reports.access import REPORT_TITLES, REPORTS, Refusal, Report, org_report_access
from orgpulse.reports.periods import periods_of_run

Cadence = Literal["weekly", "monthly"]
# A failed run is retried this much later: soon enough for a passing fault, far enough apart
# that a lasting one does not render a report every quarter of an hour.
RETRY_AFTER = timedelta(hours=1)
CADENCES: tuple[Cadence, ...] = ("weekly", "monthly")
SEND_HOUR = time(7, 0)


class Subscription(BaseModel):
    subscription_id: int
    report: str
    report_title: str
    org_id: int | None
    org_slug: str | None
    org_name: str | None
    cadence: str
    next_run_at: datetime
    last_run_at: datetime | None
    last_status: str | None
    last_detail: str | None
    created_at: datetime


def next_run_after(cadence: str, after: datetime) -> datetime:
    """The next Monday 07:00 UTC (weekly) or 1st of a month 07:00 UTC (monthly) after ``after``."""
    after = after.astimezone(UTC)
    if cadence == "weekly":
        monday = after.date() - timedelta(days=after.weekday())
        candidate = datetime.combine(monday, SEND_HOUR, tzinfo=UTC)
        return candidate if candidate > after else candidate + timedelta(days=7)
    if cadence == "monthly":
        candidate = datetime.combine(after.date().replace(day=1), SEND_HOUR, tzinfo=UTC)
        if candidate > after:
            return candidate
        following = (after.date().replace(day=1) + timedelta(days=32)).replace(day=1)
        return datetime.combine(following, SEND_HOUR, tzinfo=UTC)
    raise InvalidInput(
        f"cadence must be 'weekly' or 'monthly', got {cadence!r}",
        details=[{"parameter": "cadence", "problem": "not allowed"}],
    )


_LIST_SQL = text(
    "SELECT s.subscription_id, s.report, s.org_id, o.slug, o.name, s.cadence, s.next_run_at,"
    " s.last_run_at, s.last_status, s.last_detail, s.created_at"
    " FROM report_subscriptions s LEFT JOIN orgs o ON o.org_id = s.org_id"
    " WHERE s.user_id = :u ORDER BY s.created_at, s.subscription_id"
)


def list_subscriptions(conn: Connection, *, user_id: int) -> list[Subscription]:
    """The user's own subscriptions (org names as far as the connection's scope shows them)."""
    return [
        Subscription(
            subscription_id=r[0], report=r[1], report_title=REPORT_TITLES[r[1]], org_id=r[2],
            org_slug=r[3], org_name=r[4], cadence=r[5], next_run_at=r[6], last_run_at=r[7],
            last_status=r[8], last_detail=r[9], created_at=r[10],
        )
        for r in conn.execute(_LIST_SQL, {"u": user_id})
    ]


def validate_choice(report: str, cadence: str) -> Report:
    if report not in REPORTS:
        raise InvalidInput(
            f"report must be one of {', '.join(REPORTS)}, got {report!r}",
            details=[{"parameter": "report", "problem": "not allowed"}],
        )
    if cadence not in CADENCES:
        raise InvalidInput(
            f"cadence must be 'weekly' or 'monthly', got {cadence!r}",
            details=[{"parameter": "cadence", "problem": "not allowed"}],
        )
    return report


def create_subscription(
    conn: Connection, *, user_id: int, report: Report, org_id: int | None, cadence: str,
    now: datetime,
) -> tuple[int, datetime]:
    """Insert one subscription (access checked by the caller); refuse a duplicate."""
    exists = conn.execute(
        text(
            "SELECT 1 FROM report_subscriptions WHERE user_id = :u AND report = :r"
            " AND COALESCE(org_id, 0) = COALESCE(CAST(:o AS bigint), 0) AND cadence = :c"
        ),
        {"u": user_id, "r": report, "o": org_id, "c": cadence},
    ).first()
    if exists is not None:
        raise InvalidInput(
            "you already have this subscription",
            details=[{"parameter": "report", "problem": "duplicate subscription"}],
        )
    next_run = next_run_after(cadence, now)
    new_id = int(
        conn.execute(
            text(
                "INSERT INTO report_subscriptions (user_id, report, org_id, cadence, next_run_at,"
                " created_at) VALUES (:u, :r, :o, :c, :n, :now) RETURNING subscription_id"
            ),
            {"u": user_id, "r": report, "o": org_id, "c": cadence, "n": next_run, "now": now},
        ).scalar_one()
    )
    return new_id, next_run


def delete_subscription(conn: Connection, *, user_id: int, subscription_id: int) -> None:
    """Delete one of the user's subscriptions; another user's is a 404 like a missing one."""
    gone = conn.execute(
        text(
            "DELETE FROM report_subscriptions WHERE subscription_id = :s AND user_id = :u"
            " RETURNING subscription_id"
        ),
        {"s": subscription_id, "u": user_id},
    ).first()
    if gone is None:
        raise NotFound(f"no subscription {subscription_id} of yours")


# ------------------------------------------------------------------------------- the job
SYSTEM = AuditContext(actor_user_id=None, actor_kind="system")


@dataclass(frozen=True)
class Outcome:
    status: Literal["sent", "skipped", "failed"]
    detail: str


def build_for(
    conn: Connection,
    *,
    principal: Principal,
    report: Report,
    org_id: int | None,
    settings: Settings,
    now: datetime,
) -> render.PreparedReport | Refusal:
    """Build ``report`` as ``principal`` would download it now, or say why they may not."""
    catalog = catalog_of(settings)
    month, quarter = periods_of_run(now)
    if report == "portfolio":
        scope = portfolio_scope(principal)
        if not scope.org_ids and not scope.every_org:
            return Refusal("no_accounts", "no accounts in your reach")
        apply_scope(conn, scope)
        return render.portfolio_summary(
            conn, principal=principal, month=month,
            catalog=catalog, now=now, amber_seconds=settings.freshness_amber_seconds,
        )
    decision = org_report_access(
        conn, principal=principal, org_id=org_id, ref=str(org_id), report=report,
        baa_version=settings.baa_version,
    )
    if isinstance(decision, Refusal):
        return decision
    apply_scope(conn, TenantScope.of([decision.org_id], user_id=principal.user_id))
    if report == "business_review":
        return render.business_review(
            conn, access=decision, month=month, catalog=catalog,
            now=now, amber_seconds=settings.freshness_amber_seconds,
        )
    return render.employer_quarterly(
        conn, access=decision, quarter=quarter, catalog=catalog,
        now=now,
    )


def _deliver_one(
    conn: Connection, row: Any, *, settings: Settings, now: datetime
) -> Outcome:
    subscription_id, user_id, report, org_id = row[0], row[1], row[2], row[3]
    principal = load_principal(conn, user_id=user_id, via="subscription")
    if principal is None:
        return Outcome("skipped", "the recipient's account is inactive")
    try:
        prepared = build_for(
            conn, principal=principal, report=report, org_id=org_id, settings=settings, now=now
        )
    except OrgPulseError as refused:
        # A withheld quarter (below k, not started) or a bad period: nothing to send.
        reason = "below_k" if refused.code == "insufficient_cohort" else refused.code
        return Outcome("skipped", f"{reason}: {refused.message}")
    if isinstance(prepared, Refusal):
        return Outcome("skipped", f"{prepared.reason}: {prepared.message}")
    built = prepared.render()
    attachments = [Attachment(built.filename, "application/pdf", built.pdf)]
    if built.csv is not None and built.csv_filename is not None:
        attachments.append(Attachment(built.csv_filename, "text/csv", built.csv))
    apply_scope(conn, TenantScope.of([]))
    link = f"{settings.base_url.rstrip('/')}/reports/subscriptions"
    enqueue_email(
        conn,
        to=principal.email,
        subject=f"OrgPulse: {built.title}",
        body_text=(
            f"Your {row[4]} OrgPulse report is attached ({built.period}).\n\n"
            f"Manage your report subscriptions: {link}\n"
        ),
        source=f"subscription:{subscription_id}",
        now=now,
        user_id=principal.user_id,
        attachments=attachments,
    )
    return Outcome("sent", f"queued {', '.join(a.filename for a in attachments)}")


def run_due_subscriptions(conn: Connection, settings: Settings, now: datetime) -> str:
    """Job body: render and queue every due subscription; record each outcome and audit it.

    Each subscription runs in a savepoint: one failing (a rendering error) is recorded as
    'failed' and retried an hour later (``RETRY_AFTER``), while the others go on. Sent and
    skipped ones move to their next slot.
    """
    due = conn.execute(
        text(
            "SELECT subscription_id, user_id, report, org_id, cadence FROM report_subscriptions"
            " WHERE next_run_at <= :now ORDER BY next_run_at, subscription_id"
            " FOR UPDATE SKIP LOCKED"
        ),
        {"now": now},
    ).all()
    counts = {"sent": 0, "skipped": 0, "failed": 0}
    for row in due:
        try:
            with conn.begin_nested():
                outcome = _deliver_one(conn, row, settings=settings, now=now)
        except Exception as exc:  # noqa: BLE001 -- recorded on the row and retried next run
            outcome = Outcome("failed", f"{type(exc).__name__}: {str(exc)[:300]}")
        apply_scope(conn, TenantScope.of([] if row[3] is None else [row[3]]))
        next_run = (
            now + RETRY_AFTER if outcome.status == "failed" else next_run_after(row[4], now)
        )
        conn.execute(
            text(
                "UPDATE report_subscriptions SET last_run_at = :now, last_status = :s,"
                " last_detail = :d, next_run_at = :n WHERE subscription_id = :id"
            ),
            {"now": now, "s": outcome.status, "d": outcome.detail, "n": next_run, "id": row[0]},
        )
        record(
            conn,
            ctx=SYSTEM,
            action=f"subscription.{outcome.status}",
            org_id=row[3],
            target=f"subscription:{row[0]}",
            outcome="ok" if outcome.status == "sent" else outcome.status,
            details={"report": row[2], "user_id": row[1], "detail": outcome.detail},
            export_kind="pdf" if outcome.status == "sent" else None,
        )
        counts[outcome.status] += 1
    return ", ".join(f"{n} {status}" for status, n in counts.items())
