"""Security signals: raise a ``security_alerts`` row when an audited pattern crosses a threshold.

Evaluated by ``audit.record`` right after it inserts a record of a signalling kind, on the same
connection and in the same transaction, so an alert exists exactly when its last record does.

Why this is race-free without a lock of its own: the audit insert took the chain's transaction
advisory lock (migration 0004), held until commit, so two evaluations never interleave; in READ
COMMITTED each statement here sees every record and alert the previous lock holder committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import orjson
from pydantic import BaseModel
from sqlalchemy import Connection, text

from orgpulse.core.config import Settings, get_settings
from orgpulse.core.errors import Conflict, NotFound

SignalKind = Literal["suppressed_cohort_access", "export_volume", "baa_failure"]

WINDOWS: dict[SignalKind, timedelta] = {
    "suppressed_cohort_access": timedelta(hours=1),
    "export_volume": timedelta(hours=24),
    "baa_failure": timedelta(hours=1),
}

# One count per kind: the same user's matching records for the same org inside the window. Each
# starts with ``org_id = :org AND at > :since`` so it reads audit_records_org_idx (org_id, at)
# and only that org's records of the window.
_MATCH: dict[SignalKind, str] = {
    "suppressed_cohort_access": "action = 'analytics.read' AND suppressed IS TRUE",
    "export_volume": "export_kind IS NOT NULL AND outcome = 'ok'",
    "baa_failure": "action = 'export.refused' AND details->>'reason' = 'baa_required'",
}


@dataclass(frozen=True)
class Thresholds:
    """How many matching records inside a kind's window raise an alert."""

    suppressed_reads: int = 5
    exports: int = 20
    baa_failures: int = 3

    @classmethod
    def of(cls, settings: Settings) -> Thresholds:
        return cls(
            suppressed_reads=settings.signal_suppressed_reads_per_hour,
            exports=settings.signal_exports_per_day,
            baa_failures=settings.signal_baa_failures_per_hour,
        )

    def for_kind(self, kind: SignalKind) -> int:
        return {
            "suppressed_cohort_access": self.suppressed_reads,
            "export_volume": self.exports,
            "baa_failure": self.baa_failures,
        }[kind]


def signal_kind(
    *,
    action: str,
    outcome: str,
    suppressed: bool | None,
    export_kind: str | None,
    details: dict[str, Any] | None,
) -> SignalKind | None:
    """Return the signal a record of this shape may raise, or None (no query at all)."""
    if action == "analytics.read" and suppressed is True:
        return "suppressed_cohort_access"
    if export_kind is not None and outcome == "ok":
        return "export_volume"
    if action == "export.refused" and (details or {}).get("reason") == "baa_required":
        return "baa_failure"
    return None


def evaluate(
    conn: Connection,
    *,
    kind: SignalKind,
    user_id: int,
    org_id: int | None,
    audit_id: int,
    thresholds: Thresholds | None = None,
) -> int | None:
    """Raise an alert when the user's count for ``kind`` reached the threshold; return its id.

    At most one open (unacknowledged) alert per kind, user and org is raised within the window;
    after an acknowledgement the next matching record at or above the threshold raises anew.
    """
    limit = (thresholds or Thresholds.of(get_settings())).for_kind(kind)
    window = WINDOWS[kind]
    org_clause = "org_id IS NULL" if org_id is None else "org_id = :org"
    count = int(
        conn.execute(
            text(
                f"SELECT count(*) FROM audit_records WHERE {org_clause}"  # noqa: S608
                f" AND at > now() - :window AND actor_user_id = :user AND {_MATCH[kind]}"
            ),
            {"org": org_id, "window": window, "user": user_id},
        ).scalar_one()
    )
    if count < limit:
        return None
    open_alert = conn.execute(
        text(
            "SELECT 1 FROM security_alerts WHERE kind = :kind AND user_id = :user"
            " AND org_id IS NOT DISTINCT FROM :org AND acknowledged_at IS NULL"
            " AND raised_at > now() - :window"
        ),
        {"kind": kind, "user": user_id, "org": org_id, "window": window},
    ).first()
    if open_alert is not None:
        return None
    details = {
        "count": count,
        "threshold": limit,
        "window_seconds": int(window.total_seconds()),
        "audit_id": audit_id,
    }
    return int(
        conn.execute(
            text(
                "INSERT INTO security_alerts (kind, org_id, user_id, details)"
                " VALUES (:kind, :org, :user, CAST(:details AS jsonb)) RETURNING alert_id"
            ),
            {
                "kind": kind,
                "org": org_id,
                "user": user_id,
                "details": orjson.dumps(details).decode(),
            },
        ).scalar_one()
    )


class SecurityAlert(BaseModel):
    alert_id: int
    kind: str
    org_id: int | None
    org_slug: str | None
    user_id: int | None
    user_email: str | None
    raised_at: datetime
    details: dict[str, Any]
    acknowledged_at: datetime | None
    acknowledged_by: int | None
    acknowledged_by_email: str | None

    @property
    def is_open(self) -> bool:
        return self.acknowledged_at is None


class AlertList(BaseModel):
    alerts: list[SecurityAlert]
    open: int


_ALERT_COLUMNS = (
    "SELECT s.alert_id, s.kind, s.org_id,"
    " (SELECT d.slug FROM directory_groups d WHERE d.org_id = s.org_id AND d.unit_id IS NULL"
    "  LIMIT 1) AS org_slug,"
    " s.user_id, (SELECT email FROM users WHERE user_id = s.user_id) AS user_email,"
    " s.raised_at, s.details, s.acknowledged_at, s.acknowledged_by,"
    " (SELECT email FROM users WHERE user_id = s.acknowledged_by) AS acknowledged_by_email"
    " FROM security_alerts s"
)


def list_alerts(*, conn: Connection, limit: int = 200) -> AlertList:
    """Return alerts, open ones first, each group newest first (platform admins only)."""
    rows = conn.execute(
        text(
            f"{_ALERT_COLUMNS} ORDER BY (s.acknowledged_at IS NOT NULL), s.raised_at DESC,"
            " s.alert_id DESC LIMIT :limit"
        ),
        {"limit": limit},
    ).mappings()
    alerts = [SecurityAlert.model_validate(dict(r)) for r in rows]
    open_count = int(
        conn.execute(
            text("SELECT count(*) FROM security_alerts WHERE acknowledged_at IS NULL")
        ).scalar_one()
    )
    return AlertList(alerts=alerts, open=open_count)


def acknowledge_alert(*, conn: Connection, alert_id: int, user_id: int) -> SecurityAlert:
    """Mark an open alert acknowledged by ``user_id``; an acknowledged one is a 409."""
    updated = conn.execute(
        text(
            "UPDATE security_alerts SET acknowledged_at = now(), acknowledged_by = :u"
            " WHERE alert_id = :a AND acknowledged_at IS NULL RETURNING alert_id"
        ),
        {"a": alert_id, "u": user_id},
    ).first()
    row = conn.execute(
        text(f"{_ALERT_COLUMNS} WHERE s.alert_id = :a"), {"a": alert_id}  # noqa: S608
    ).mappings().first()
    if row is None:
        raise NotFound(f"no security alert {alert_id}")
    if updated is None:
        raise Conflict(f"security alert {alert_id} was already acknowledged")
    return SecurityAlert.model_validate(dict(row))
