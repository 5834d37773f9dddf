"""Named SQL of cohort risk analytics over ``risk_flags`` and ``interventions`` (bound parameters).

Every query starts from the same two filtered sets, so the KPIs, charts, comparison and export
can never disagree on who is in scope:

* ``flags``: flags that have been raised (``flagged_at``) with a level and a student, with the
  student's cohort (``members.traits.cohort``), the flag's program (``properties.program``, else the
  name of the student's unit) and ``grp``, the column a comparison groups by (``:by``);
* ``ivs``: logged interventions whose student is known (``properties.student_id``, else the student
  of their flag), with the same cohort / course / program.

The filters (``:cohort``, ``:course``, ``:program``) are NULL when not set.
"""

from __future__ import annotations

from sqlalchemy import TextClause, text

# Level order, for "highest level" and sorting; array_position gives 1..4.
_RANK = "array_position(ARRAY['low', 'moderate', 'high', 'critical'], f.level)"
_GROUP = (
    "CASE WHEN CAST(:by AS text) = 'program' THEN COALESCE(f.program, u.name)"
    " ELSE m.traits ->> 'cohort' END"
)
_FILTERS = """
      AND (CAST(:cohort AS text) IS NULL OR m.traits ->> 'cohort' = CAST(:cohort AS text))
      AND (CAST(:course AS text) IS NULL OR f.course = CAST(:course AS text))
      AND (CAST(:program AS text) IS NULL
           OR COALESCE(f.program, u.name) = CAST(:program AS text))
"""

# An intervention counts for a flag when it names the flag, or names only the student and was
# logged while the flag was open.
_LINKED = """
    i.org_id = :org AND i.logged_at IS NOT NULL
    AND (i.flag_id = p.flag_id
         OR (i.flag_id IS NULL AND i.student_user_id = p.student
             AND i.logged_at >= p.flagged_at
             AND (p.resolved_at IS NULL OR i.logged_at <= p.resolved_at)))
"""

_BASE = "".join(
    [
        """
WITH flags AS (
    SELECT f.flag_id, f.student_user_id AS student, m.traits ->> 'name' AS student_name,
           f.level, """,
        _RANK,
        """ AS rank, f.confidence, f.course,
           COALESCE(f.program, u.name) AS program, m.traits ->> 'cohort' AS cohort,
           f.flagged_at, f.resolved_at, """,
        _GROUP,
        """ AS grp
    FROM risk_flags f
    LEFT JOIN members m ON m.org_id = f.org_id AND m.external_user_id = f.student_user_id
    LEFT JOIN units u ON u.org_id = m.org_id AND u.unit_id = m.unit_id
    WHERE f.org_id = :org AND f.flagged_at IS NOT NULL AND f.level IS NOT NULL
      AND f.student_user_id IS NOT NULL""",
        _FILTERS,
        """
), ivs AS (
    SELECT i.intervention_id, COALESCE(i.student_user_id, f.student_user_id) AS student,
           i.logged_at, i.outcome, """,
        _GROUP,
        """ AS grp
    FROM interventions i
    LEFT JOIN risk_flags f ON f.org_id = i.org_id AND f.flag_id = i.flag_id
    LEFT JOIN members m ON m.org_id = i.org_id
         AND m.external_user_id = COALESCE(i.student_user_id, f.student_user_id)
    LEFT JOIN units u ON u.org_id = m.org_id AND u.unit_id = m.unit_id
    WHERE i.org_id = :org AND i.logged_at IS NOT NULL
      AND COALESCE(i.student_user_id, f.student_user_id) IS NOT NULL""",
        _FILTERS,
        """
)
""",
    ]
)


def open_risk() -> TextClause:
    """Students by their highest open level just before ``:as_of``, per group and overall."""
    return text(
        _BASE  # noqa: S608 - constant fragments only; every value is a bound parameter
        + """
, open_students AS (
    SELECT GROUPING(grp) AS overall, grp, student, max(rank) AS rank
    FROM flags
    WHERE flagged_at < :as_of AND (resolved_at IS NULL OR resolved_at >= :as_of)
    GROUP BY GROUPING SETS ((grp, student), (student))
)
SELECT overall, grp, rank, count(*) FROM open_students GROUP BY 1, 2, 3
"""
    )


def flag_activity() -> TextClause:
    """For flags raised in [start, end): resolution hours and the students with interventions."""
    return text(
        _BASE  # noqa: S608 - constant fragments only
        + """
, period_flags AS (
    SELECT * FROM flags WHERE flagged_at >= :start AND flagged_at < :end
), intervened AS (
    -- Any intervention of the student logged in the period (course and program aside).
    SELECT DISTINCT COALESCE(i.student_user_id, f.student_user_id) AS student
    FROM interventions i
    LEFT JOIN risk_flags f ON f.org_id = i.org_id AND f.flag_id = i.flag_id
    WHERE i.org_id = :org AND i.logged_at >= :start AND i.logged_at < :end
)
SELECT GROUPING(p.grp) AS overall, p.grp,
       count(*) FILTER (WHERE p.resolved_at IS NOT NULL) AS resolved,
       avg(EXTRACT(EPOCH FROM GREATEST(p.resolved_at - p.flagged_at, interval '0')) / 3600)
           FILTER (WHERE p.resolved_at IS NOT NULL) AS hours,
       count(DISTINCT p.student) AS students,
       count(DISTINCT p.student) FILTER (WHERE a.student IS NOT NULL) AS intervened
FROM period_flags p LEFT JOIN intervened a ON a.student = p.student
GROUP BY GROUPING SETS ((p.grp), ())
"""
    )


def intervention_outcomes() -> TextClause:
    """Outcomes of the interventions logged in [start, end), per group and overall."""
    return text(
        _BASE  # noqa: S608 - constant fragments only
        + """
SELECT GROUPING(grp) AS overall, grp,
       count(*) FILTER (WHERE outcome = 'improved') AS improved,
       count(*) FILTER (WHERE outcome IN ('improved', 'no_change', 'worsened')) AS final,
       count(*) FILTER (WHERE outcome = 'pending') AS pending,
       count(*) FILTER (WHERE outcome IS NULL) AS no_outcome
FROM ivs WHERE logged_at >= :start AND logged_at < :end
GROUP BY GROUPING SETS ((grp), ())
"""
    )


def effectiveness() -> TextClause:
    """Per level: students flagged in [start, end) with/without an intervention, and resolved."""
    return text(
        _BASE  # noqa: S608 - constant fragments only
        + """
, per_flag AS (
    SELECT p.student, p.rank, p.resolved_at IS NOT NULL AS resolved,
           EXISTS (SELECT 1 FROM interventions i WHERE """
        + _LINKED
        + """) AS intervened
    FROM flags p WHERE p.flagged_at >= :start AND p.flagged_at < :end
), per_student AS (
    SELECT student, rank, bool_or(intervened) AS intervened, bool_and(resolved) AS resolved
    FROM per_flag GROUP BY student, rank
)
SELECT rank, intervened, count(*), count(*) FILTER (WHERE resolved)
FROM per_student GROUP BY 1, 2
"""
    )


def weekly_trend() -> TextClause:
    """Flags raised per org-local week (Monday) and level in [trend_start, trend_end)."""
    return text(
        _BASE  # noqa: S608 - constant fragments only
        + """
SELECT CAST(date_trunc('week', timezone(:tz, flagged_at)) AS date) AS week, rank, count(*)
FROM flags WHERE flagged_at >= :trend_start AND flagged_at < :trend_end
GROUP BY 1, 2
"""
    )


def filter_options() -> TextClause:
    """Whether the org has any raised flag, and the cohorts, courses and programs to filter by."""
    return text(
        """
SELECT count(*) AS flags,
       array_remove(array_agg(DISTINCT m.traits ->> 'cohort'), NULL) AS cohorts,
       array_remove(array_agg(DISTINCT f.course), NULL) AS courses,
       array_remove(array_agg(DISTINCT COALESCE(f.program, u.name)), NULL) AS programs
FROM risk_flags f
LEFT JOIN members m ON m.org_id = f.org_id AND m.external_user_id = f.student_user_id
LEFT JOIN units u ON u.org_id = m.org_id AND u.unit_id = m.unit_id
WHERE f.org_id = :org AND f.flagged_at IS NOT NULL AND f.level IS NOT NULL
"""
    )


def export_rows() -> TextClause:
    """One row per flag raised in [start, end), newest first, with its interventions."""
    return text(
        _BASE  # noqa: S608 - constant fragments only
        + """
SELECT p.flag_id, p.student, p.student_name, p.level, p.confidence,
       p.resolved_at IS NOT NULL AS resolved, count(i.intervention_id) AS interventions,
       (array_agg(i.outcome ORDER BY i.outcome_at DESC, i.intervention_id DESC)
            FILTER (WHERE i.outcome IS NOT NULL))[1] AS latest_outcome,
       p.flagged_at, p.cohort, p.course, p.program
FROM flags p LEFT JOIN interventions i ON """
        + _LINKED
        + """
WHERE p.flagged_at >= :start AND p.flagged_at < :end
GROUP BY p.flag_id, p.student, p.student_name, p.level, p.confidence, p.resolved_at,
         p.flagged_at, p.cohort, p.course, p.program
ORDER BY p.flagged_at DESC, p.flag_id
"""
    )
