"""Write audit records (append-only table; the database refuses updates and deletes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, text


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
) -> None:
    """Append one audit record; with an Engine it commits on its own (for refusals)."""
    stmt = text(
        "INSERT INTO audit_records (actor_user_id, actor_kind, org_id, action, target, outcome,"
        " details, request_id, ip) VALUES (:actor, :kind, :org, :action, :target, :outcome,"
        " CAST(:details AS jsonb), :rid, :ip)"
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
    }
    if isinstance(target_db, Engine):
        with target_db.begin() as conn:
            conn.execute(stmt, params)
    else:
        target_db.execute(stmt, params)
