"""Named SQL of the ingestion writer (bound parameters only).

Batches travel as one JSON document expanded by ``jsonb_to_recordset``: PostgreSQL parses it in C,
which is far cheaper than binding one text array per column.
"""

from sqlalchemy import text

GROUPS_BY_EXTERNAL_ID = text(
    "SELECT external_id, org_id, unit_id FROM directory_groups "
    "WHERE external_id = ANY(CAST(:ids AS text[]))"
)

MEMBERS_BY_EXTERNAL_ID = text(
    "SELECT external_user_id, org_id, associated_at FROM directory_members "
    "WHERE external_user_id = ANY(CAST(:ids AS text[]))"
)

NEXT_ORG_ID = text("SELECT nextval('org_id_seq')")

SLUGS_LIKE = text("SELECT slug FROM directory_groups WHERE slug = :s OR slug LIKE :p")

INSERT_ORG_DIRECTORY = text(
    "INSERT INTO directory_groups (external_id, org_id, slug) VALUES (:e, :o, :s) "
    "ON CONFLICT DO NOTHING RETURNING org_id"
)

GROUP_BY_EXTERNAL_ID = text("SELECT org_id, unit_id FROM directory_groups WHERE external_id = :e")

UPSERT_ORG = text(
    "INSERT INTO orgs (org_id, external_id, slug, name, traits, timezone,"
    "  profile_at)"
    " VALUES (:org_id, :external_id,"
    "  COALESCE(:slug, (SELECT slug FROM directory_groups WHERE org_id = :org_id"
    "                    AND unit_id IS NULL)),"
    "  COALESCE(CAST(:name AS text), :external_id), CAST(:traits AS jsonb),"
    "  COALESCE(CAST(:timezone AS text), 'UTC'), :profile_at)"
    " ON CONFLICT (org_id) DO UPDATE SET"
    "  name = COALESCE(CAST(:name AS text), orgs.name),"
    "  traits = orgs.traits || excluded.traits,"
    "  timezone = COALESCE(CAST(:timezone AS text), orgs.timezone),"
    "  profile_at = excluded.profile_at, updated_at = now()"
    " WHERE excluded.profile_at IS NOT NULL AND"
    "  (orgs.profile_at IS NULL OR excluded.profile_at >= orgs.profile_at)"
)

UPSERT_UNIT = text(
    "INSERT INTO units (org_id, external_id, name, kind, traits, profile_at)"
    " VALUES (:org_id, :external_id, COALESCE(CAST(:name AS text), :external_id),"
    "  COALESCE(CAST(:kind AS text), 'unit'), CAST(:traits AS jsonb), :profile_at)"
    " ON CONFLICT (org_id, external_id) DO UPDATE SET"
    "  name = CASE WHEN units.profile_at IS NULL"
    "   OR excluded.profile_at >= units.profile_at"
    "   THEN COALESCE(CAST(:name AS text), units.name) ELSE units.name END,"
    "  kind = CASE WHEN units.profile_at IS NULL"
    "   OR excluded.profile_at >= units.profile_at"
    "   THEN COALESCE(CAST(:kind AS text), units.kind) ELSE units.kind END,"
    "  traits = CASE WHEN units.profile_at IS NULL"
    "   OR excluded.profile_at >= units.profile_at"
    "   THEN units.traits || excluded.traits ELSE units.traits END,"
    "  profile_at = GREATEST(units.profile_at, excluded.profile_at),"
    "  updated_at = now()"
    " RETURNING unit_id"
)

INSERT_UNIT_DIRECTORY = text(
    "INSERT INTO directory_groups (external_id, org_id, unit_id)"
    " VALUES (:e, :o, :u) ON CONFLICT (external_id) DO NOTHING"
)

UPSERT_MEMBER_DIRECTORY = text(
    "INSERT INTO directory_members AS d (external_user_id, org_id, member_id,"
    "  associated_at)"
    " SELECT * FROM unnest(CAST(:users AS text[]), CAST(:orgs AS bigint[]),"
    "  CAST(:members AS bigint[]), CAST(:at AS timestamptz[]))"
    " ON CONFLICT (external_user_id) DO UPDATE SET org_id = excluded.org_id,"
    "  member_id = excluded.member_id, associated_at = excluded.associated_at"
    " WHERE excluded.associated_at > d.associated_at"
    " RETURNING external_user_id, org_id, associated_at, (xmax = 0) AS inserted"
)

EXISTING_MEMBERS = text(
    "SELECT m.org_id, m.external_user_id, m.member_id, m.unit_id, m.first_seen_at,"
    " m.last_seen_at, m.profile_at FROM members m"
    " JOIN jsonb_to_recordset(CAST(:keys AS jsonb)) AS k(org_id bigint,"
    "  external_user_id text)"
    " ON m.org_id = k.org_id AND m.external_user_id = k.external_user_id"
)

HOLD_MESSAGES = text(
    "INSERT INTO unattributed_events (event_id, received_at, external_user_id,"
    "  group_external_id, message_id, reason, message)"
    " SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:recv AS timestamptz[]),"
    "  CAST(:users AS text[]), CAST(:groups AS text[]), CAST(:mids AS text[]),"
    "  CAST(:reasons AS text[]), CAST(:msgs AS jsonb[]))"
    " ON CONFLICT (message_id) DO NOTHING RETURNING 1"
)

CLAIM_HELD = text(
    "DELETE FROM unattributed_events WHERE event_id IN ("
    " SELECT event_id FROM unattributed_events"
    " WHERE group_external_id = ANY(CAST(:groups AS text[]))"
    "  OR (group_external_id IS NULL"
    "      AND external_user_id = ANY(CAST(:users AS text[])))"
    " ORDER BY event_id FOR UPDATE SKIP LOCKED)"
    " RETURNING message"
)

UPSERT_MEMBERS = text(
    "INSERT INTO members AS m (org_id, external_user_id, first_seen_at, last_seen_at,"
    "  profile_at, traits, role, unit_id)"
    " SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS t(org_id bigint,"
    "  external_user_id text, first_seen_at timestamptz, last_seen_at timestamptz,"
    "  profile_at timestamptz, traits jsonb, role text, unit_id bigint)"
    " ON CONFLICT (org_id, external_user_id) DO UPDATE SET"
    "  first_seen_at = LEAST(m.first_seen_at, excluded.first_seen_at),"
    "  last_seen_at = GREATEST(m.last_seen_at, excluded.last_seen_at),"
    "  traits = CASE WHEN excluded.profile_at IS NOT NULL AND (m.profile_at IS NULL"
    "   OR excluded.profile_at >= m.profile_at) THEN m.traits || excluded.traits"
    "   ELSE m.traits END,"
    "  role = CASE WHEN excluded.profile_at IS NOT NULL AND (m.profile_at IS NULL"
    "   OR excluded.profile_at >= m.profile_at) THEN COALESCE(excluded.role, m.role)"
    "   ELSE m.role END,"
    "  unit_id = CASE WHEN excluded.profile_at IS NOT NULL AND (m.profile_at IS NULL"
    "   OR excluded.profile_at >= m.profile_at)"
    "   THEN COALESCE(excluded.unit_id, m.unit_id) ELSE m.unit_id END,"
    "  profile_at = GREATEST(m.profile_at, excluded.profile_at),"
    "  updated_at = now()"
    " RETURNING org_id, external_user_id, member_id, unit_id"
)

# The events to project arrive as a CTE named ``stored`` (org_id, event_time, message_id, type,
# name, member_id, unit_id, properties, received_at): at ingest the rows just inserted, on a rebuild
# every stored event of one org. The projection below is the one definition of every rollup, so
# a rebuild produces exactly what ingesting the same events would have.
_PROJECT_STORED = """
    new AS (
        -- Days are the org's local calendar days (orgs.timezone), so "today" means the
        -- customer's today.
        SELECT s.*, CAST(timezone(o.timezone, s.event_time) AS date) AS day
        FROM stored s JOIN orgs o ON o.org_id = s.org_id
    ), daily AS (
        INSERT INTO rollup_daily_events AS r (org_id, day, unit_id, name, events)
        SELECT org_id, day, COALESCE(unit_id, 0), name, count(*)
        FROM new GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (org_id, day, unit_id, name) DO UPDATE SET events = r.events + excluded.events
        RETURNING 1
    ), active AS (
        INSERT INTO rollup_member_days AS r (org_id, day, member_id, unit_id, events)
        SELECT org_id, day, member_id, max(COALESCE(unit_id, 0)), count(*)
        FROM new WHERE member_id IS NOT NULL AND type IN ('track', 'page', 'screen')
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (org_id, day, member_id) DO UPDATE
            SET events = r.events + excluded.events, unit_id = excluded.unit_id
        RETURNING 1
    ), member_events AS (
        INSERT INTO rollup_member_events AS r (org_id, day, member_id, name, unit_id, events)
        SELECT org_id, day, member_id, name, max(COALESCE(unit_id, 0)), count(*)
        FROM new WHERE member_id IS NOT NULL
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (org_id, day, member_id, name) DO UPDATE
            SET events = r.events + excluded.events, unit_id = excluded.unit_id
        RETURNING 1
    ), pairs AS (
        INSERT INTO pair_items AS p (org_id, pair, item_key, opened_at, closed_at,
                                     opener_member_id, closer_member_id, unit_id, ref_key)
        SELECT n.org_id, d.pair, n.properties ->> d.key,
               min(n.event_time) FILTER (WHERE n.name = d.open),
               min(n.event_time) FILTER (WHERE n.name = d.close),
               (array_agg(n.member_id ORDER BY n.event_time)
                    FILTER (WHERE n.name = d.open))[1],
               (array_agg(n.member_id ORDER BY n.event_time)
                    FILTER (WHERE n.name = d.close))[1],
               COALESCE((array_agg(n.unit_id ORDER BY n.event_time)
                    FILTER (WHERE n.name = d.open))[1], 0),
               (array_agg(n.properties ->> d.ref ORDER BY n.event_time)
                    FILTER (WHERE n.name = d.open))[1]
        FROM new n
        JOIN jsonb_to_recordset(CAST(:pairs AS jsonb))
             AS d(pair text, open text, close text, key text, ref text)
          ON n.name IN (d.open, d.close)
        WHERE n.properties ->> d.key IS NOT NULL
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (org_id, pair, item_key) DO UPDATE SET
            opened_at = LEAST(p.opened_at, excluded.opened_at),
            closed_at = LEAST(p.closed_at, excluded.closed_at),
            opener_member_id = CASE WHEN excluded.opened_at IS NOT NULL AND (p.opened_at IS NULL
                OR excluded.opened_at < p.opened_at) THEN excluded.opener_member_id
                ELSE p.opener_member_id END,
            unit_id = CASE WHEN excluded.opened_at IS NOT NULL AND (p.opened_at IS NULL
                OR excluded.opened_at < p.opened_at) THEN excluded.unit_id ELSE p.unit_id END,
            ref_key = CASE WHEN excluded.opened_at IS NOT NULL AND (p.opened_at IS NULL
                OR excluded.opened_at < p.opened_at) THEN excluded.ref_key ELSE p.ref_key END,
            closer_member_id = CASE WHEN excluded.closed_at IS NOT NULL AND (p.closed_at IS NULL
                OR excluded.closed_at < p.closed_at) THEN excluded.closer_member_id
                ELSE p.closer_member_id END
        RETURNING 1
    ), funnels AS (
        INSERT INTO funnel_progress AS f (org_id, funnel, subject_key, member_id, started_at,
                                          total_steps, max_step, last_step_at, unit_id)
        SELECT n.org_id, d.funnel, n.properties ->> d.key, n.member_id,
               min(n.event_time) FILTER (WHERE n.name = d.start),
               max(CASE WHEN n.name = d.start
                        AND jsonb_typeof(n.properties -> d.total_property) = 'number' THEN
                   CASE WHEN CAST(n.properties ->> d.total_property AS numeric)
                             BETWEEN 0 AND 100000
                        THEN CAST(CAST(n.properties ->> d.total_property AS numeric) AS integer)
                   END END),
               max(CASE WHEN n.name = d.step
                        AND jsonb_typeof(n.properties -> d.step_property) = 'number' THEN
                   CASE WHEN CAST(n.properties ->> d.step_property AS numeric)
                             BETWEEN 0 AND 100000
                        THEN CAST(CAST(n.properties ->> d.step_property AS numeric) AS integer)
                   END END),
               max(n.event_time) FILTER (WHERE n.name = d.step),
               max(COALESCE(n.unit_id, 0))
        FROM new n
        JOIN jsonb_to_recordset(CAST(:funnels AS jsonb))
             AS d(funnel text, start text, step text, key text, step_property text,
                  total_property text)
          ON n.name IN (d.start, d.step)
        WHERE n.member_id IS NOT NULL AND n.properties ->> d.key IS NOT NULL
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (org_id, funnel, subject_key, member_id) DO UPDATE SET
            started_at = LEAST(f.started_at, excluded.started_at),
            total_steps = COALESCE(excluded.total_steps, f.total_steps),
            max_step = GREATEST(f.max_step, excluded.max_step),
            last_step_at = GREATEST(f.last_step_at, excluded.last_step_at),
            unit_id = excluded.unit_id
        RETURNING 1
    ), risk AS (
        -- Risk flags (docs/cohort-analytics.md). Every merge rule is order-independent: first
        -- flag and first resolution by time (LEAST ignores NULL), details from the latest flag
        -- (ties by message id), so a resolve before its flag converges to the in-order row.
        INSERT INTO risk_flags AS f (org_id, flag_id, student_user_id, level, confidence,
                                     course, program, flagged_at, detail_at, detail_message_id,
                                     resolved_at)
        SELECT n.org_id, n.properties ->> 'flag_id',
               (array_agg(COALESCE(n.properties ->> 'student_id', m.external_user_id)
                    ORDER BY n.event_time DESC, n.message_id DESC)
                    FILTER (WHERE n.name = 'Risk Flagged'))[1],
               (array_agg(CASE WHEN n.properties ->> 'level'
                                    IN ('low', 'moderate', 'high', 'critical')
                               THEN n.properties ->> 'level' END
                    ORDER BY n.event_time DESC, n.message_id DESC)
                    FILTER (WHERE n.name = 'Risk Flagged'))[1],
               (array_agg(CASE WHEN jsonb_typeof(n.properties -> 'confidence') = 'number' THEN
                               CASE WHEN CAST(n.properties ->> 'confidence' AS numeric)
                                         BETWEEN 0 AND 1
                                    THEN CAST(n.properties ->> 'confidence' AS numeric) END END
                    ORDER BY n.event_time DESC, n.message_id DESC)
                    FILTER (WHERE n.name = 'Risk Flagged'))[1],
               (array_agg(n.properties ->> 'course' ORDER BY n.event_time DESC, n.message_id DESC)
                    FILTER (WHERE n.name = 'Risk Flagged'))[1],
               (array_agg(n.properties ->> 'program' ORDER BY n.event_time DESC, n.message_id DESC)
                    FILTER (WHERE n.name = 'Risk Flagged'))[1],
               min(n.event_time) FILTER (WHERE n.name = 'Risk Flagged'),
               max(n.event_time) FILTER (WHERE n.name = 'Risk Flagged'),
               (array_agg(n.message_id ORDER BY n.event_time DESC, n.message_id DESC)
                    FILTER (WHERE n.name = 'Risk Flagged'))[1],
               min(n.event_time) FILTER (WHERE n.name = 'Risk Resolved')
        FROM new n
        LEFT JOIN members m ON m.org_id = n.org_id AND m.member_id = n.member_id
        WHERE n.type = 'track' AND n.name IN ('Risk Flagged', 'Risk Resolved')
          AND n.properties ->> 'flag_id' IS NOT NULL
        GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (org_id, flag_id) DO UPDATE SET
            flagged_at = LEAST(f.flagged_at, excluded.flagged_at),
            resolved_at = LEAST(f.resolved_at, excluded.resolved_at),
            student_user_id = CASE WHEN excluded.detail_at IS NOT NULL AND (f.detail_at IS NULL
                OR (excluded.detail_at, excluded.detail_message_id)
                   > (f.detail_at, f.detail_message_id))
                THEN excluded.student_user_id ELSE f.student_user_id END,
            level = CASE WHEN excluded.detail_at IS NOT NULL AND (f.detail_at IS NULL
                OR (excluded.detail_at, excluded.detail_message_id)
                   > (f.detail_at, f.detail_message_id))
                THEN excluded.level ELSE f.level END,
            confidence = CASE WHEN excluded.detail_at IS NOT NULL AND (f.detail_at IS NULL
                OR (excluded.detail_at, excluded.detail_message_id)
                   > (f.detail_at, f.detail_message_id))
                THEN excluded.confidence ELSE f.confidence END,
            course = CASE WHEN excluded.detail_at IS NOT NULL AND (f.detail_at IS NULL
                OR (excluded.detail_at, excluded.detail_message_id)
                   > (f.detail_at, f.detail_message_id))
                THEN excluded.course ELSE f.course END,
            program = CASE WHEN excluded.detail_at IS NOT NULL AND (f.detail_at IS NULL
                OR (excluded.detail_at, excluded.detail_message_id)
                   > (f.detail_at, f.detail_message_id))
                THEN excluded.program ELSE f.program END,
            detail_message_id = CASE WHEN excluded.detail_at IS NOT NULL AND (f.detail_at IS NULL
                OR (excluded.detail_at, excluded.detail_message_id)
                   > (f.detail_at, f.detail_message_id))
                THEN excluded.detail_message_id ELSE f.detail_message_id END,
            detail_at = GREATEST(f.detail_at, excluded.detail_at)
        RETURNING 1
    ), intervention AS (
        -- Interventions: details from the first "Intervention Logged", the outcome from the
        -- latest "Intervention Outcome" (ties by message id), whichever arrives first.
        INSERT INTO interventions AS i (org_id, intervention_id, flag_id, student_user_id, kind,
                                        logged_at, logged_message_id, outcome, outcome_at,
                                        outcome_message_id)
        SELECT n.org_id, n.properties ->> 'intervention_id',
               (array_agg(NULLIF(n.properties ->> 'flag_id', '')
                    ORDER BY n.event_time, n.message_id)
                    FILTER (WHERE n.name = 'Intervention Logged'))[1],
               (array_agg(NULLIF(n.properties ->> 'student_id', '')
                    ORDER BY n.event_time, n.message_id)
                    FILTER (WHERE n.name = 'Intervention Logged'))[1],
               (array_agg(n.properties ->> 'type' ORDER BY n.event_time, n.message_id)
                    FILTER (WHERE n.name = 'Intervention Logged'))[1],
               min(n.event_time) FILTER (WHERE n.name = 'Intervention Logged'),
               (array_agg(n.message_id ORDER BY n.event_time, n.message_id)
                    FILTER (WHERE n.name = 'Intervention Logged'))[1],
               (array_agg(CASE WHEN n.properties ->> 'outcome'
                                    IN ('improved', 'no_change', 'worsened', 'pending')
                               THEN n.properties ->> 'outcome' END
                    ORDER BY n.event_time DESC, n.message_id DESC)
                    FILTER (WHERE n.name = 'Intervention Outcome'))[1],
               max(n.event_time) FILTER (WHERE n.name = 'Intervention Outcome'),
               (array_agg(n.message_id ORDER BY n.event_time DESC, n.message_id DESC)
                    FILTER (WHERE n.name = 'Intervention Outcome'))[1]
        FROM new n
        WHERE n.type = 'track' AND n.name IN ('Intervention Logged', 'Intervention Outcome')
          AND n.properties ->> 'intervention_id' IS NOT NULL
        GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (org_id, intervention_id) DO UPDATE SET
            flag_id = CASE WHEN excluded.logged_at IS NOT NULL AND (i.logged_at IS NULL
                OR (excluded.logged_at, excluded.logged_message_id)
                   < (i.logged_at, i.logged_message_id))
                THEN excluded.flag_id ELSE i.flag_id END,
            student_user_id = CASE WHEN excluded.logged_at IS NOT NULL AND (i.logged_at IS NULL
                OR (excluded.logged_at, excluded.logged_message_id)
                   < (i.logged_at, i.logged_message_id))
                THEN excluded.student_user_id ELSE i.student_user_id END,
            kind = CASE WHEN excluded.logged_at IS NOT NULL AND (i.logged_at IS NULL
                OR (excluded.logged_at, excluded.logged_message_id)
                   < (i.logged_at, i.logged_message_id))
                THEN excluded.kind ELSE i.kind END,
            logged_message_id = CASE WHEN excluded.logged_at IS NOT NULL AND (i.logged_at IS NULL
                OR (excluded.logged_at, excluded.logged_message_id)
                   < (i.logged_at, i.logged_message_id))
                THEN excluded.logged_message_id ELSE i.logged_message_id END,
            logged_at = LEAST(i.logged_at, excluded.logged_at),
            outcome = CASE WHEN excluded.outcome_at IS NOT NULL AND (i.outcome_at IS NULL
                OR (excluded.outcome_at, excluded.outcome_message_id)
                   > (i.outcome_at, i.outcome_message_id))
                THEN excluded.outcome ELSE i.outcome END,
            outcome_message_id = CASE WHEN excluded.outcome_at IS NOT NULL
                AND (i.outcome_at IS NULL
                OR (excluded.outcome_at, excluded.outcome_message_id)
                   > (i.outcome_at, i.outcome_message_id))
                THEN excluded.outcome_message_id ELSE i.outcome_message_id END,
            outcome_at = GREATEST(i.outcome_at, excluded.outcome_at)
        RETURNING 1
    ), state AS (
        INSERT INTO rollup_state AS s (org_id, newest_event_at, last_received_at, last_rollup_at,
                                       events_total)
        SELECT org_id, max(event_time), max(received_at), clock_timestamp(), count(*)
        FROM stored GROUP BY org_id ORDER BY org_id
        ON CONFLICT (org_id) DO UPDATE SET
            newest_event_at = GREATEST(s.newest_event_at, excluded.newest_event_at),
            last_received_at = excluded.last_received_at,
            last_rollup_at = excluded.last_rollup_at,
            events_total = s.events_total + excluded.events_total
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM stored) AS events,
           (SELECT count(*) FROM daily) AS rollup_daily_events,
           (SELECT count(*) FROM active) AS rollup_member_days,
           (SELECT count(*) FROM member_events) AS rollup_member_events,
           (SELECT count(*) FROM pairs) AS pair_items,
           (SELECT count(*) FROM funnels) AS funnel_progress,
           (SELECT count(*) FROM risk) AS risk_flags,
           (SELECT count(*) FROM intervention) AS interventions
"""

_NEW_EVENTS = """
    input AS (
        SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS t(
            org_id bigint, event_time timestamptz, event_id uuid, message_id text, type text,
            name text, member_id bigint, unit_id bigint, anonymous_id text, properties jsonb,
            context jsonb)
    ), fresh AS (
        INSERT INTO event_dedup (org_id, message_id, received_at)
        SELECT org_id, message_id, CAST(:received AS timestamptz) FROM input
        ORDER BY org_id, message_id
        ON CONFLICT DO NOTHING
        RETURNING org_id, message_id
    ), stored AS (
        INSERT INTO events (org_id, event_time, event_id, message_id, type, name, member_id,
                            unit_id, anonymous_id, received_at, properties, context)
        SELECT i.org_id, i.event_time, i.event_id, i.message_id, i.type, i.name, i.member_id,
               i.unit_id, i.anonymous_id, CAST(:received AS timestamptz), i.properties, i.context
        FROM input i JOIN fresh f ON f.org_id = i.org_id AND f.message_id = i.message_id
        RETURNING org_id, event_time, message_id, type, name, member_id, unit_id, properties,
                  received_at
    ),
"""

_ORG_EVENTS = """
    stored AS (
        SELECT org_id, event_time, message_id, type, name, member_id, unit_id, properties,
               received_at
        FROM events WHERE org_id = :org
    ),
"""

# Ingest and a rebuild of the same org must not interleave: a rebuild deletes the org's rollups
# and re-projects the events its snapshot sees, so a batch committing in between would either be
# counted twice (its rollup rows inserted after the delete, its events seen by the projection) or
# lost. A row lock on ``rollup_state`` cannot serve: ingest touches that row only inside the same
# statement that writes the rollups (too late to order anything), and a new org has no row to
# lock. So both take a transaction-scoped advisory lock per org before touching any rollup:
# ingest shared (concurrent batches of one org add up correctly through their upserts), a rebuild
# exclusive. The two-int form keeps these keys apart from the jobs' one-bigint keys; org ids are
# folded into int4, where a collision only makes two orgs wait for each other.
PROJECTION_LOCK_CLASS = 28528

# Orgs in ascending order, so two batches never wait for each other's locks in a cycle.
LOCK_PROJECTIONS_SHARED = text(
    "SELECT count(pg_advisory_xact_lock_shared(:cls, CAST(o % 2147483648 AS integer)))"
    " FROM (SELECT DISTINCT o FROM unnest(CAST(:orgs AS bigint[])) AS o ORDER BY o) AS s"
)

LOCK_PROJECTIONS_EXCLUSIVE = text(
    "SELECT pg_advisory_xact_lock(:cls, CAST(CAST(:org AS bigint) % 2147483648 AS integer))"
)

# Inserts only the messages not seen before and projects exactly those rows.
INSERT_EVENTS = text("WITH" + _NEW_EVENTS + _PROJECT_STORED)

# Projects every stored event of ``:org`` into the rollups emptied by DELETE_ORG_PROJECTIONS.
PROJECT_ORG_EVENTS = text("WITH" + _ORG_EVENTS + _PROJECT_STORED)

DELETE_ORG_PROJECTIONS = text(
    """
    WITH daily AS (DELETE FROM rollup_daily_events WHERE org_id = :org RETURNING 1),
    active AS (DELETE FROM rollup_member_days WHERE org_id = :org RETURNING 1),
    member_events AS (DELETE FROM rollup_member_events WHERE org_id = :org RETURNING 1),
    pairs AS (DELETE FROM pair_items WHERE org_id = :org RETURNING 1),
    funnels AS (DELETE FROM funnel_progress WHERE org_id = :org RETURNING 1),
    state AS (DELETE FROM rollup_state WHERE org_id = :org RETURNING 1),
    risk AS (DELETE FROM risk_flags WHERE org_id = :org RETURNING 1),
    intervention AS (DELETE FROM interventions WHERE org_id = :org RETURNING 1)
    SELECT (SELECT count(*) FROM daily) + (SELECT count(*) FROM active)
         + (SELECT count(*) FROM member_events) + (SELECT count(*) FROM pairs)
         + (SELECT count(*) FROM funnels) + (SELECT count(*) FROM state)
         + (SELECT count(*) FROM risk) + (SELECT count(*) FROM intervention)
    """
)

LOG_BATCH = text(
    "INSERT INTO ingest_batches (received_at, source, accepted, duplicates, rejected,"
    " unattributed) VALUES (:r, :s, :a, :d, :j, :u)"
)
