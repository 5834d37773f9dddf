"""Implementation-status banners: rules, episodes, per-user dismissal.

A banner is shown on every org page to the roles it concerns while its condition holds. Each
time a condition becomes true an *episode* starts (``banner_episodes``); a dismissal hides one
episode for one user, so a banner whose condition cleared and came back shows again.

Cost: one statement per org page (conditions, open episodes and the viewer's dismissals
together, over indexed reads); a write only when a condition changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, text

from orgpulse.auth import Role
from orgpulse.core.errors import NotFound
from orgpulse.core.tenancy import TenantScope, require_org, scoped
from orgpulse.ops.diagnostics import (
    SSO_CONFIGURED,
    SYNC_COMPLETED,
    UPLOAD_FAILED,
    UPLOAD_STARTED,
    upload_status,
)

ADMINS = frozenset({Role.ORG_ADMIN, Role.PLATFORM_ADMIN, Role.SUPPORT})
SCHOOL_ADMINS = ADMINS | {Role.UNIT_ADMIN}
STAFF = SCHOOL_ADMINS | {Role.CS_LEADER, Role.ACCOUNT_MANAGER}

ROSTER_WINDOW = timedelta(days=7)
TEACHER_ACTIVE_WINDOW = timedelta(days=14)
ASSIGNMENT_WINDOW = timedelta(days=30)
UPLOAD_WINDOW = timedelta(days=7)
STALE_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class Rule:
    key: str
    roles: frozenset[Role]
    message: str
    action_label: str
    action_href: str  # "{org}" is replaced by the org's slug


RULES: tuple[Rule, ...] = (
    Rule(
        "sso_without_rostering",
        ADMINS,
        "Single sign-on is set up but rostering is not connected: no roster sync has succeeded"
        " in the last 7 days, so new teachers and students get no accounts.",
        "Connect rostering",
        "/docs/runbooks/rostering-sync-failures",
    ),
    Rule(
        "no_assignments",
        SCHOOL_ADMINS | {Role.MEMBER},
        "Teachers are signing in but no assessment was created in the last 30 days.",
        "Create first assessment",
        "/docs/runbooks/org-analytics-support",
    ),
    Rule(
        "upload_failures",
        SCHOOL_ADMINS,
        "Many uploads failed in the last 7 days.",
        "Recording diagnostics",
        "/orgs/{org}/diagnostics#recording",
    ),
    Rule(
        "stale_data",
        STAFF,
        "No events have arrived for more than 24 hours: figures may be out of date.",
        "Reporting diagnostics",
        "/docs/runbooks/reporting-discrepancies",
    ),
)
RULES_BY_KEY = {r.key: r for r in RULES}


@dataclass(frozen=True)
class Banner:
    key: str
    message: str
    action_label: str
    action_href: str
    episode: str  # ISO start of the episode: what a dismissal names


_EVALUATE = text(
    """
    SELECT
      EXISTS (SELECT 1 FROM events WHERE org_id = :org AND name = :sso AND event_time <= :now)
        AND NOT EXISTS (SELECT 1 FROM events WHERE org_id = :org AND name = :sync
                        AND event_time > :roster_since AND event_time <= :now)
        AS sso_without_rostering,
      EXISTS (SELECT 1 FROM events e JOIN members m
                ON m.org_id = e.org_id AND m.member_id = e.member_id
              WHERE e.org_id = :org AND e.name = 'Login' AND m.role = 'teacher'
                AND e.event_time > :teacher_since AND e.event_time <= :now)
        AND NOT EXISTS (SELECT 1 FROM events WHERE org_id = :org AND name = 'Assignment Created'
                        AND event_time > :assign_since AND event_time <= :now)
        AS no_assignments,
      (SELECT count(*) FROM events WHERE org_id = :org AND name = :started
         AND event_time >= :upload_since AND event_time <= :now) AS uploads_started,
      (SELECT count(*) FROM events WHERE org_id = :org AND name = :failed
         AND event_time >= :upload_since AND event_time <= :now) AS uploads_failed,
      (SELECT newest_event_at < :stale_before FROM rollup_state WHERE org_id = :org)
        AS stale_data,
      (SELECT COALESCE(jsonb_object_agg(banner, started_at), '{}'::jsonb)
         FROM banner_episodes WHERE org_id = :org AND cleared_at IS NULL) AS open_episodes,
      (SELECT COALESCE(jsonb_agg(jsonb_build_array(banner, episode_at)), '[]'::jsonb)
         FROM banner_dismissals d
         WHERE d.org_id = :org AND d.user_id = :user
           AND EXISTS (SELECT 1 FROM banner_episodes b WHERE b.org_id = d.org_id
                       AND b.banner = d.banner AND b.started_at = d.episode_at
                       AND b.cleared_at IS NULL)) AS dismissed
    """
)


def _conditions(row: Any, *, upload_bad_rate: float, upload_min_started: int) -> dict[str, bool]:
    return {
        "sso_without_rostering": bool(row.sso_without_rostering),
        "no_assignments": bool(row.no_assignments),
        "upload_failures": upload_status(
            failed=int(row.uploads_failed), started=int(row.uploads_started),
            bad_rate=upload_bad_rate, min_started=upload_min_started,
        ) == "problem",
        "stale_data": bool(row.stale_data),
    }


def _iso(value: datetime) -> str:
    return value.isoformat()


def banners_for(
    *,
    conn: Connection,
    org_id: int,
    slug: str,
    user_id: int,
    role: Role,
    now: datetime,
    upload_bad_rate: float,
    upload_min_started: int,
) -> list[Banner]:
    """Return the banners this viewer should see now, opening or closing episodes on change."""
    require_org(conn, org_id)
    rules = [r for r in RULES if role in r.roles]
    if not rules:
        return []
    row = conn.execute(
        _EVALUATE,
        {
            "org": org_id, "user": user_id, "now": now, "sso": SSO_CONFIGURED,
            "sync": SYNC_COMPLETED, "roster_since": now - ROSTER_WINDOW,
            "teacher_since": now - TEACHER_ACTIVE_WINDOW, "assign_since": now - ASSIGNMENT_WINDOW,
            "started": UPLOAD_STARTED, "failed": UPLOAD_FAILED,
            "upload_since": now - UPLOAD_WINDOW, "stale_before": now - STALE_AFTER,
        },
    ).one()
    active = _conditions(
        row, upload_bad_rate=upload_bad_rate, upload_min_started=upload_min_started
    )
    open_episodes: dict[str, str] = dict(row.open_episodes)
    starts = {k: datetime.fromisoformat(v) for k, v in open_episodes.items()}
    dismissed = {(b, datetime.fromisoformat(at)) for b, at in row.dismissed}
    for key, holds in active.items():
        if holds and key not in starts:
            conn.execute(
                text(
                    "INSERT INTO banner_episodes (org_id, banner, started_at) VALUES (:o, :b, :t)"
                    " ON CONFLICT DO NOTHING"
                ),
                {"o": org_id, "b": key, "t": now},
            )
            starts[key] = now
        elif not holds and key in starts:
            conn.execute(
                text(
                    "UPDATE banner_episodes SET cleared_at = :t"
                    " WHERE org_id = :o AND banner = :b AND cleared_at IS NULL"
                ),
                {"o": org_id, "b": key, "t": now},
            )
            del starts[key]
    return [
        Banner(
            key=r.key,
            message=r.message,
            action_label=r.action_label,
            action_href=r.action_href.replace("{org}", slug),
            episode=_iso(starts[r.key]),
        )
        for r in rules
        if active[r.key] and (r.key, starts[r.key]) not in dismissed
    ]


def dismiss_banner(
    *, conn: Connection, org_id: int, user_id: int, banner: str, now: datetime
) -> None:
    """Hide the banner's current episode for this user (idempotent)."""
    require_org(conn, org_id)
    if banner not in RULES_BY_KEY:
        raise NotFound(f"no banner named {banner!r}")
    started = conn.execute(
        text(
            "SELECT started_at FROM banner_episodes"
            " WHERE org_id = :o AND banner = :b AND cleared_at IS NULL"
        ),
        {"o": org_id, "b": banner},
    ).scalar_one_or_none()
    if started is None:
        return  # nothing shown, nothing to hide
    conn.execute(
        text(
            "INSERT INTO banner_dismissals (org_id, user_id, banner, episode_at, dismissed_at)"
            " VALUES (:o, :u, :b, :e, :t) ON CONFLICT DO NOTHING"
        ),
        {"o": org_id, "u": user_id, "b": banner, "e": started, "t": now},
    )


def page_banners(
    *, engine: Engine, org_id: int, slug: str, user_id: int, role: Role, now: datetime,
    upload_bad_rate: float, upload_min_started: int,
) -> list[Banner]:
    """Evaluate banners for a page in their own short transaction scoped to the org."""
    with scoped(engine, TenantScope.of([org_id], user_id=user_id)) as conn:
        return banners_for(
            conn=conn, org_id=org_id, slug=slug, user_id=user_id, role=role, now=now,
            upload_bad_rate=upload_bad_rate, upload_min_started=upload_min_started,
        )
