"""Adoption list (seed 002 C2): per teacher, sign-ins and work, with outreach flags."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import Connection, text

from orgpulse.catalog import Catalog
from orgpulse.core import clock
from orgpulse.core.errors import InvalidInput
from orgpulse.metrics.engine import Window
from orgpulse.metrics.scope import UnitRef, org_view

Flag = Literal["not_logged_in", "no_assignments", "scoring_backlog"]
FLAG_LABELS: dict[str, str] = {
    "not_logged_in": "Not signed in recently",
    "no_assignments": "No assessments created",
    "scoring_backlog": "Long scoring backlog",
}

ADOPTION_SQL = text(
    """
    WITH people AS (
        SELECT m.member_id, m.external_user_id, m.traits ->> 'name' AS name, u.name AS unit
        FROM members m LEFT JOIN units u ON u.org_id = m.org_id AND u.unit_id = m.unit_id
        WHERE m.org_id = :org AND m.role = :role
          AND (CAST(:units AS bigint[]) IS NULL OR m.unit_id = ANY(CAST(:units AS bigint[])))
    ), logins AS (
        SELECT member_id, max(day) AS last_login FROM rollup_member_events
        WHERE org_id = :org AND name = ANY(CAST(:logins AS text[])) AND day <= :until
        GROUP BY member_id
    ), created AS (
        SELECT opener_member_id AS member_id, count(*) AS n FROM pair_items
        WHERE org_id = :org AND pair = :created AND opened_at >= :start AND opened_at < :end
        GROUP BY opener_member_id
    ), work AS (
        SELECT a.opener_member_id AS member_id,
               count(*) FILTER (WHERE s.opened_at >= :start AND s.opened_at < :end) AS received,
               count(*) FILTER (WHERE s.opened_at >= :start AND s.opened_at < :end
                                AND s.closed_at < :end) AS scored,
               count(*) FILTER (WHERE s.opened_at < :cutoff
                                AND (s.closed_at IS NULL OR s.closed_at >= :end)) AS backlog
        FROM pair_items s
        JOIN pair_items a ON a.org_id = s.org_id AND a.pair = :created AND a.item_key = s.ref_key
        WHERE s.org_id = :org AND s.pair = :work AND s.opened_at < :end
        GROUP BY a.opener_member_id
    )
    SELECT p.external_user_id, p.name, p.unit, l.last_login, COALESCE(c.n, 0),
           COALESCE(w.received, 0), COALESCE(w.scored, 0), COALESCE(w.backlog, 0)
    FROM people p
    LEFT JOIN logins l ON l.member_id = p.member_id
    LEFT JOIN created c ON c.member_id = p.member_id
    LEFT JOIN work w ON w.member_id = p.member_id
    ORDER BY COALESCE(p.name, p.external_user_id), p.external_user_id
    """
)


class AdoptionRow(BaseModel):
    external_id: str
    name: str | None
    unit: str | None
    last_login: date | None
    assignments: int
    submissions: int
    scored: int
    backlog: int
    flags: list[Flag]


class AdoptionList(BaseModel):
    org_id: int
    slug: str
    name: str
    as_of: datetime
    window_start: date
    window_end: date
    unit: UnitRef | None
    units: list[UnitRef]
    flag: Flag | None
    search: str | None
    flag_counts: dict[str, int]
    people: int
    rows: list[AdoptionRow]
    total: int
    page: int
    per_page: int


def adoption_list(
    *,
    conn: Connection,
    catalog: Catalog,
    org_id: int,
    now: datetime,
    unit_ref: str | None = None,
    allowed_unit_ids: tuple[int, ...] | None = None,
    flag: Flag | None = None,
    search: str | None = None,
    page: int = 1,
    per_page: int | None = 50,
) -> AdoptionList:
    """Return the adoption list; ``per_page=None`` returns every matching row (exports)."""
    if page < 1 or (per_page is not None and not 1 <= per_page <= 500):
        raise InvalidInput("page must be ≥ 1 and per_page between 1 and 500")
    cfg = catalog.adoption
    view = org_view(conn, org_id=org_id, unit_ref=unit_ref, allowed_unit_ids=allowed_unit_ids)
    today = clock.local_date(now, view.timezone)
    window = Window.trailing(today, cfg.window_days)
    start, end = window.bounds(ZoneInfo(view.timezone))
    rows = conn.execute(
        ADOPTION_SQL,
        {
            "org": org_id,
            "role": cfg.role,
            "units": view.unit_ids,
            "logins": list(cfg.login_events),
            "until": today,
            "created": cfg.created_pair,
            "work": cfg.work_pair,
            "start": start,
            "end": end,
            "cutoff": end - timedelta(days=cfg.backlog_days),
        },
    ).all()
    inactive_since = today - timedelta(days=cfg.inactive_days - 1)
    people = []
    for ext, name, unit, last_login, created, received, scored, backlog in rows:
        flags: list[Flag] = []
        if last_login is None or last_login < inactive_since:
            flags.append("not_logged_in")
        if not created:
            flags.append("no_assignments")
        if backlog >= cfg.backlog_threshold:
            flags.append("scoring_backlog")
        people.append(
            AdoptionRow(
                external_id=ext,
                name=name,
                unit=unit,
                last_login=last_login,
                assignments=int(created),
                submissions=int(received),
                scored=int(scored),
                backlog=int(backlog),
                flags=flags,
            )
        )
    counts = {f: sum(1 for p in people if f in p.flags) for f in FLAG_LABELS}
    needle = (search or "").strip().lower()
    matching = [
        p
        for p in people
        if (flag is None or flag in p.flags)
        and (not needle or needle in (p.name or "").lower() or needle in p.external_id.lower())
    ]
    shown = matching if per_page is None else matching[(page - 1) * per_page : page * per_page]
    return AdoptionList(
        org_id=org_id,
        slug=view.slug,
        name=view.name,
        as_of=now,
        window_start=window.since,
        window_end=today,
        unit=view.unit,
        units=view.units,
        flag=flag,
        search=search,
        flag_counts=counts,
        people=len(people),
        rows=shown,
        total=len(matching),
        page=page,
        per_page=per_page or len(matching),
    )
