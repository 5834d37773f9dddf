"""SQL of the diagnostics panel, banners and support requests (bound parameters only).

Every builder reads ``events`` through its ``(org_id, name, event_time)`` index, or a small
per-org table, so each stays cheap on a large org.
"""

from __future__ import annotations

from sqlalchemy import TextClause, text


def event_counts() -> TextClause:
    """Count of each named event of one org in ``[since, until)``."""
    return text(
        "SELECT name, count(*) FROM events"
        " WHERE org_id = :org AND name = ANY(CAST(:names AS text[]))"
        "   AND event_time >= :since AND event_time <= :until"
        " GROUP BY name"
    )


def latest_events() -> TextClause:
    """Newest event (time and properties) of each name, NULL when never sent."""
    return text(
        "SELECT n.name, e.event_time, e.properties"
        " FROM unnest(CAST(:names AS text[])) AS n(name)"
        " LEFT JOIN LATERAL ("
        "   SELECT event_time, properties FROM events"
        "   WHERE org_id = :org AND name = n.name AND event_time <= :until"
        "   ORDER BY event_time DESC LIMIT 1"
        " ) e ON true"
    )


def error_messages() -> TextClause:
    """Raw error messages of the named events in ``[since, until)``, most frequent first."""
    return text(
        "SELECT name, COALESCE(properties->>'error', properties->>'reason', '') AS message,"
        "       count(*) AS n, max(event_time) AS last_at"
        " FROM events"
        " WHERE org_id = :org AND name = ANY(CAST(:names AS text[]))"
        "   AND event_time >= :since AND event_time <= :until"
        " GROUP BY 1, 2 ORDER BY n DESC, last_at DESC LIMIT :limit"
    )


def recent_errors() -> TextClause:
    """The newest ``limit`` error events of one org (name, time, unit, raw message)."""
    return text(
        "SELECT name, event_time, unit_id,"
        "       COALESCE(properties->>'error', properties->>'reason', '') AS message"
        " FROM events"
        " WHERE org_id = :org AND name = ANY(CAST(:names AS text[])) AND event_time <= :until"
        " ORDER BY event_time DESC, name, event_id DESC LIMIT :limit"
    )


def rollup_state() -> TextClause:
    return text(
        "SELECT newest_event_at, last_rollup_at, events_total FROM rollup_state WHERE org_id = :org"
    )


def latest_job_runs() -> TextClause:
    """The newest run of each job (platform-wide: jobs are not per org)."""
    return text(
        "SELECT DISTINCT ON (job) job, status, started_at, finished_at, detail"
        " FROM job_runs ORDER BY job, started_at DESC"
    )
