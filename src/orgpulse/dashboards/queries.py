"""Named SQL builders over the rollup tables (bound parameters only)."""

from __future__ import annotations

from sqlalchemy import TextClause, text

# A constant fragment (no user input): the S608 warnings below are about its concatenation.
_UNIT_FILTER = " AND (CAST(:units AS bigint[]) IS NULL OR unit_id = ANY(CAST(:units AS bigint[])))"


def daily_events() -> TextClause:
    return text(
        "SELECT day, sum(events) FROM rollup_daily_events"  # noqa: S608
        " WHERE org_id = :org AND day BETWEEN :since AND :until" + _UNIT_FILTER + " GROUP BY day"
    )


def daily_active() -> TextClause:
    return text(
        "SELECT day, count(*) FROM rollup_member_days"  # noqa: S608
        " WHERE org_id = :org AND day BETWEEN :since AND :until" + _UNIT_FILTER + " GROUP BY day"
    )


def events_by_name() -> TextClause:
    return text(
        "SELECT name, sum(events) AS n FROM rollup_daily_events"  # noqa: S608
        " WHERE org_id = :org AND day BETWEEN :since AND :until"
        + _UNIT_FILTER
        + " GROUP BY name ORDER BY n DESC, name"
    )


def member_count() -> TextClause:
    return text(
        "SELECT count(*) FROM members WHERE org_id = :org"
        " AND (CAST(:units AS bigint[]) IS NULL OR unit_id = ANY(CAST(:units AS bigint[])))"
    )


def events_all_time() -> TextClause:
    """Every event ever rolled up for the org (optionally some units): the org list's total."""
    return text(
        "SELECT COALESCE(sum(events), 0) FROM rollup_daily_events"  # noqa: S608
        " WHERE org_id = :org" + _UNIT_FILTER
    )


def rollup_state() -> TextClause:
    return text(
        "SELECT newest_event_at, last_rollup_at, events_total FROM rollup_state WHERE org_id = :org"
    )


def org_list() -> TextClause:
    """Every org in scope with 7-day active members and freshness, in one pass."""
    return text(
        "SELECT o.org_id, o.slug, o.name, s.newest_event_at, s.events_total,"
        " (SELECT count(DISTINCT d.member_id) FROM rollup_member_days d"
        "   WHERE d.org_id = o.org_id AND d.day BETWEEN CAST(timezone(o.timezone, :now) AS date)"
        "   - 6 AND CAST(timezone(o.timezone, :now) AS date)) AS active_7d,"
        " (SELECT count(*) FROM members m WHERE m.org_id = o.org_id) AS members, o.timezone,"
        " o.privacy_mode, o.min_cohort_size"
        " FROM orgs o LEFT JOIN rollup_state s ON s.org_id = o.org_id"
        " ORDER BY o.name LIMIT :limit OFFSET :offset"
    )


def org_count() -> TextClause:
    return text("SELECT count(*) FROM orgs")
