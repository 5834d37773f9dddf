"""Write audit records (append-only table; the database refuses updates and deletes).

The database assigns ``audit_id`` and chains the record (``prev_hash``, ``hash``) in a trigger,
so nothing here computes a hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import orjson
from sqlalchemy import Connection, Engine, text

from orgpulse.audit.signals import Thresholds, evaluate, signal_kind

ExportKind = Literal["csv", "pdf"]


@dataclass(frozen=True)
class AuditContext:
    """Who acts and from where; built once per request."""

    actor_user_id: int | None
    actor_kind: str  # user | token | write_key | cli | system | anonymous
    request_id: str | None = None
    ip: str | None = None


def record(
    target_db: Connection | Engine,
    *,
    ctx: AuditContext,
    action: str,
    org_id: int | None = None,
    target: str | None = None,
    outcome: str = "ok",
    details: dict[str, Any] | None = None,
    query_type: str | None = None,
    cohort_size: int | None = None,
    suppressed: bool | None = None,
    export_kind: ExportKind | None = None,
    thresholds: Thresholds | None = None,
) -> int:
    """Append one audit record and return its id; with an Engine it commits on its own.

    ``query_type`` (summary, engagement, wellbeing, roi, culture, …), ``cohort_size``,
    ``suppressed`` and ``export_kind`` describe an analytics read or export; leave them unset
    where they do not apply. A record that can signal (a suppressed read, an export, a refused
    export for want of a BAA) is followed, in the same transaction, by the security-signal check
    (``audit/signals.py``; ``thresholds`` default to the settings').
    """
    stmt = text(
        "INSERT INTO audit_records (actor_user_id, actor_kind, org_id, action, target, outcome,"
        " details, request_id, ip, query_type, cohort_size, suppressed, export_kind)"
        " VALUES (:actor, :kind, :org, :action, :target, :outcome, CAST(:details AS jsonb),"
        " :rid, :ip, :query_type, :cohort_size, :suppressed, :export_kind) RETURNING audit_id"
    )
    params = {
        "actor": ctx.actor_user_id,
        "kind": ctx.actor_kind,
        "org": org_id,
        "action": action,
        "target": target,
        "outcome": outcome,
        "details": orjson.dumps(details or {}).decode(),
        "rid": ctx.request_id,
        "ip": ctx.ip,
        "query_type": query_type,
        "cohort_size": cohort_size,
        "suppressed": suppressed,
        "export_kind": export_kind,
    }
    kind = signal_kind(
        action=action,
        outcome=outcome,
        suppressed=suppressed,
        export_kind=export_kind,
        details=details,
    )

    def write(conn: Connection) -> int:
        audit_id = int(conn.execute(stmt, params).scalar_one())
        if kind is not None and ctx.actor_user_id is not None:
            evaluate(
                conn,
                kind=kind,
                user_id=ctx.actor_user_id,
                org_id=org_id,
                audit_id=audit_id,
                thresholds=thresholds,
            )
        return audit_id

    if isinstance(target_db, Engine):
        with target_db.begin() as conn:
            return write(conn)
    return write(target_db)
