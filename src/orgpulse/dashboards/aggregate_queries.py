"""Named SQL of the aggregate view: distinct people per unit and per week (bound parameters only).

Every builder takes ``:org``, ``:units`` (NULL = whole org) and ``:end``, the exclusive instant
that closes the cohort (members first seen before it). People are grouped by the member's
current unit, 0 standing for "no unit", like the metric engine's distinct-actors query.
"""

from __future__ import annotations

from sqlalchemy import TextClause, text

# Constant fragments (no input): the S608 warnings below are about their concatenation.
_COHORT = (
    " AND (m.first_seen_at IS NULL OR m.first_seen_at < :end)"
    " AND (CAST(:units AS bigint[]) IS NULL OR m.unit_id = ANY(CAST(:units AS bigint[])))"
)
_NAMES = (
    " AND (CAST(:names AS text[]) IS NULL AND r.name NOT IN ('$identify', '$group')"
    "      OR r.name = ANY(CAST(:names AS text[])))"
)


def units_of_org() -> TextClause:
    """(unit_id, external_id, name) of every unit of the org, by name."""
    return text(
        "SELECT unit_id, external_id, name FROM units WHERE org_id = :org ORDER BY name, unit_id"
    )


def cohort_by_unit() -> TextClause:
    """(unit_id or 0, members) of the cohort: members first seen before :end."""
    return text(
        "SELECT COALESCE(m.unit_id, 0), count(*) FROM members m"  # noqa: S608
        " WHERE m.org_id = :org" + _COHORT + " GROUP BY 1"
    )


def people_by_unit() -> TextClause:
    """(unit_id or 0, distinct cohort members with any of :names) over local days
    :since..:until; NULL :names means any activity."""
    return text(
        "SELECT COALESCE(m.unit_id, 0), count(DISTINCT r.member_id)"  # noqa: S608
        " FROM rollup_member_events r"
        " JOIN members m ON m.org_id = r.org_id AND m.member_id = r.member_id"
        " WHERE r.org_id = :org AND r.day BETWEEN :since AND :until" + _NAMES + _COHORT
        + " GROUP BY 1"
    )


def weekly_people() -> TextClause:
    """(Monday of the ISO week, distinct cohort members active that week) over :since..:until."""
    return text(
        "SELECT CAST(date_trunc('week', r.day) AS date), count(DISTINCT r.member_id)"  # noqa: S608
        " FROM rollup_member_events r"
        " JOIN members m ON m.org_id = r.org_id AND m.member_id = r.member_id"
        " WHERE r.org_id = :org AND r.day BETWEEN :since AND :until" + _NAMES + _COHORT
        + " GROUP BY 1"
    )
