"""Daily health snapshots per org (unit 0) and per unit, refreshed within minutes of activity."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta

import orjson
from sqlalchemy import Connection, text

from orgpulse.catalog import Catalog
from orgpulse.core import clock
from orgpulse.core.tenancy import TenantScope, all_org_ids, apply_scope
from orgpulse.health.service import profile_for, score_view
from orgpulse.metrics import org_view

UPSERT = text(
    "INSERT INTO health_snapshots (org_id, day, unit_id, score, status, profile, components,"
    " computed_at) VALUES (:o, :d, :u, :score, :status, :profile, CAST(:components AS jsonb),"
    " now()) ON CONFLICT (org_id, unit_id, day) DO UPDATE SET score = excluded.score,"
    " status = excluded.status, profile = excluded.profile, components = excluded.components,"
    " computed_at = excluded.computed_at"
)


def snapshot_org(conn: Connection, *, catalog: Catalog, org_id: int, day: date) -> int:
    """Score the org and each of its units as of ``day``; store the rows; return how many."""
    view = org_view(conn, org_id=org_id)
    unit_rows = conn.execute(
        text("SELECT unit_id, external_id FROM units WHERE org_id = :o ORDER BY unit_id"),
        {"o": org_id},
    ).all()
    targets: list[tuple[int, str | None]] = [(0, None)]
    targets += [(r[0], r[1]) for r in unit_rows]
    for unit_id, ref in targets:
        target = view if ref is None else org_view(conn, org_id=org_id, unit_ref=ref)
        health, _ = score_view(conn, catalog=catalog, view=target, day=day)
        ranks = {d.key: rank for rank, d in enumerate(health.drivers, start=1)}
        conn.execute(
            UPSERT,
            {
                "o": org_id,
                "d": day,
                "u": unit_id,
                "score": health.score,
                "status": health.band,
                "profile": profile_for(catalog, target),
                "components": orjson.dumps(
                    [
                        c.model_dump(include={"key", "normalized", "included"})
                        | {"driver": ranks.get(c.key)}
                        for c in health.components
                    ]
                ).decode(),
            },
        )
    return len(targets)


def orgs_due(conn: Connection, *, now: datetime) -> list[tuple[int, str]]:
    """Orgs whose score may have changed: new activity since their last snapshot, or no
    snapshot for their local today yet (a quiet day changes a score too)."""
    rows = conn.execute(
        text(
            "SELECT o.org_id, o.timezone FROM orgs o"
            " LEFT JOIN rollup_state s ON s.org_id = o.org_id"
            " LEFT JOIN LATERAL (SELECT max(computed_at) AS at, max(day) AS day"
            "   FROM health_snapshots h WHERE h.org_id = o.org_id AND h.unit_id = 0) h ON true"
            " WHERE h.at IS NULL OR s.last_rollup_at > h.at"
            "    OR h.day < CAST(timezone(o.timezone, CAST(:now AS timestamptz)) AS date)"
            " ORDER BY o.org_id"
        ),
        {"now": now},
    ).all()
    return [(r[0], r[1]) for r in rows]


def refresh_snapshots(conn: Connection, *, catalog: Catalog, now: datetime) -> str:
    """Job body: re-score today's snapshot of every org with new activity (all-org scope)."""
    apply_scope(conn, TenantScope.of(all_org_ids(conn)))
    due = orgs_due(conn, now=now)
    for org_id, zone in due:
        snapshot_org(conn, catalog=catalog, org_id=org_id, day=clock.local_date(now, zone))
    return f"refreshed {len(due)} orgs"


def backfill_snapshots(
    conn: Connection,
    *,
    catalog: Catalog,
    now: datetime,
    days: int,
    org_ids: Sequence[int] | None = None,
    progress: Callable[[int], None] = lambda n: None,
) -> int:
    """Compute snapshots for each of the last ``days`` local days (for trends); return rows."""
    apply_scope(conn, TenantScope.of(all_org_ids(conn)))
    rows = conn.execute(text("SELECT org_id, timezone FROM orgs ORDER BY org_id")).all()
    written = 0
    for org_id, zone in rows:
        if org_ids is not None and org_id not in org_ids:
            continue
        today = clock.local_date(now, zone)
        for back in range(days - 1, -1, -1):
            written += snapshot_org(
                conn, catalog=catalog, org_id=org_id, day=today - timedelta(days=back)
            )
        progress(1)
    return written
