"""Named SQL over the rollups and projections (bound parameters only).

Every builder takes ``:org``, a day or time window, and ``:units`` (NULL = whole org).
"""

from __future__ import annotations

from sqlalchemy import TextClause, text


def event_counts_by_day() -> TextClause:
    """Event counts per name and day over the widest window any metric needs."""
    return text(
        "SELECT name, day, sum(events) FROM rollup_daily_events"
        " WHERE org_id = :org AND day BETWEEN :since AND :until"
        " AND name = ANY(CAST(:names AS text[]))"
        " AND (CAST(:units AS bigint[]) IS NULL OR unit_id = ANY(CAST(:units AS bigint[])))"
        " GROUP BY name, day"
    )


def distinct_actors() -> TextClause:
    """Members of the population with any of :names (or, when NULL, any activity) in the window."""
    return text(
        "SELECT count(DISTINCT r.member_id) FROM rollup_member_events r"
        " JOIN members m ON m.org_id = r.org_id AND m.member_id = r.member_id"
        " WHERE r.org_id = :org AND r.day BETWEEN :since AND :until"
        " AND (CAST(:names AS text[]) IS NULL AND r.name NOT IN ('$identify', '$group')"
        "      OR r.name = ANY(CAST(:names AS text[])))"
        " AND (CAST(:units AS bigint[]) IS NULL OR m.unit_id = ANY(CAST(:units AS bigint[])))"
        " AND (CAST(:role AS text) IS NULL OR m.role = CAST(:role AS text))"
    )


def population_size() -> TextClause:
    """Members of the population known by the end of the window (:end)."""
    return text(
        "SELECT count(*) FROM members m WHERE m.org_id = :org"
        " AND (m.first_seen_at IS NULL OR m.first_seen_at < :end)"
        " AND (CAST(:units AS bigint[]) IS NULL OR m.unit_id = ANY(CAST(:units AS bigint[])))"
        " AND (CAST(:role AS text) IS NULL OR m.role = CAST(:role AS text))"
    )


def active_units() -> TextClause:
    """(units with an active member of the population in the window, units in scope)."""
    return text(
        "SELECT (SELECT count(DISTINCT m.unit_id) FROM rollup_member_events r"
        "        JOIN members m ON m.org_id = r.org_id AND m.member_id = r.member_id"
        "        WHERE r.org_id = :org AND r.day BETWEEN :since AND :until"
        "        AND m.unit_id IS NOT NULL"
        "        AND (CAST(:names AS text[]) IS NULL AND r.name NOT IN ('$identify', '$group')"
        "             OR r.name = ANY(CAST(:names AS text[])))"
        "        AND (CAST(:units AS bigint[]) IS NULL"
        "             OR m.unit_id = ANY(CAST(:units AS bigint[])))"
        "        AND (CAST(:role AS text) IS NULL OR m.role = CAST(:role AS text))),"
        " (SELECT count(*) FROM units u WHERE u.org_id = :org"
        "  AND (CAST(:units AS bigint[]) IS NULL OR u.unit_id = ANY(CAST(:units AS bigint[]))))"
    )


def pair_window() -> TextClause:
    """Items opened in [:start, :end) and old enough (opened before :cutoff) to be judged:
    (judged, closed within :within, still open or closed after :end)."""
    return text(
        "SELECT count(*),"
        " count(*) FILTER (WHERE closed_at IS NOT NULL"
        "                  AND closed_at <= opened_at + make_interval(days => :within)),"
        " count(*) FILTER (WHERE closed_at IS NULL OR closed_at >= :end)"
        " FROM pair_items WHERE org_id = :org AND pair = :pair"
        " AND opened_at >= :start AND opened_at < :end AND opened_at < :cutoff"
        " AND (CAST(:units AS bigint[]) IS NULL OR unit_id = ANY(CAST(:units AS bigint[])))"
    )


def funnel_completion() -> TextClause:
    """(enrolments started in the window, those that reached the subject's last step).

    The last step is the enrolment's declared total, else the highest step anyone in the org
    reached in that subject.
    """
    return text(
        "WITH subject_max AS ("
        "  SELECT subject_key, max(max_step) AS top FROM funnel_progress"
        "  WHERE org_id = :org AND funnel = :funnel GROUP BY subject_key)"
        " SELECT count(*), count(*) FILTER (WHERE f.max_step IS NOT NULL"
        "   AND f.max_step >= COALESCE(f.total_steps, s.top))"
        " FROM funnel_progress f JOIN subject_max s USING (subject_key)"
        " WHERE f.org_id = :org AND f.funnel = :funnel"
        " AND f.started_at >= :start AND f.started_at < :end"
        " AND (CAST(:units AS bigint[]) IS NULL OR f.unit_id = ANY(CAST(:units AS bigint[])))"
    )


def _json_strings(value: str) -> str:
    """SQL for the strings of a jsonb ``value``: a string is one, an array its elements."""
    return (
        f"jsonb_array_elements_text(CASE jsonb_typeof({value})"
        f" WHEN 'array' THEN {value} WHEN 'string' THEN jsonb_build_array({value})"
        " ELSE '[]'::jsonb END)"
    )


def coverage() -> TextClause:
    """(required items in the org's :trait, those tagged by :names events in [:start, :end)).

    Tags are the event property :prop. Only the catalogued names and the window are read, on
    the ``(org_id, name, event_time)`` index of ``events``.
    """
    # Only constant fragments are interpolated (no input): S608 is about their concatenation.
    return text(
        "WITH required AS ("  # noqa: S608
        "  SELECT DISTINCT r.item FROM orgs o,"
        f"  LATERAL {_json_strings('o.traits -> CAST(:trait AS text)')} AS r(item)"
        "  WHERE o.org_id = :org AND r.item <> ''),"
        " tagged AS ("
        "  SELECT DISTINCT t.tag FROM events e,"
        f"  LATERAL {_json_strings('e.properties -> CAST(:prop AS text)')} AS t(tag)"
        "  WHERE e.org_id = :org AND e.name = ANY(CAST(:names AS text[]))"
        "  AND e.event_time >= :start AND e.event_time < :end"
        "  AND (CAST(:units AS bigint[]) IS NULL OR e.unit_id = ANY(CAST(:units AS bigint[])))"
        "  AND t.tag IN (SELECT item FROM required))"
        " SELECT (SELECT count(*) FROM required), (SELECT count(*) FROM tagged)"
    )


def event_totals() -> TextClause:
    """All-time event counts of the whole org per name in :names (from the daily rollup)."""
    return text(
        "SELECT name, sum(events) FROM rollup_daily_events"
        " WHERE org_id = :org AND name = ANY(CAST(:names AS text[]))"
        " GROUP BY name"
    )
