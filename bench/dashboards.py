"""Org dashboard APIs and the portfolio API over 500 orgs × 2 years of rollups, vs raw-event SQL.

    python bench/dashboards.py [--orgs 500] [--members 40] [--days 730] [--big-members 400]
                               [--requests 200] [--portfolio-requests 100] [--workers 2]

Data, built in a scratch database (nothing goes through HTTP):

* orgs, units (schools) and members (teachers, students, admins) through the real ingestion
  service, in-process (``group`` and ``identify`` messages);
* for every org but one, two years of rollups and projections (``rollup_member_events``,
  ``rollup_member_days``, ``rollup_daily_events``, ``pair_items``, ``funnel_progress``,
  ``rollup_state``) filled with set-based SQL as the owner: active member-days drawn per org
  trajectory (steady, growing, declining, churned, new), event names per role, the other rollups
  aggregated from the per-member rows so they agree with each other;
* for one large org, two years of raw events generated with SQL (logins, page views,
  assignments, submissions and their scoring, uploads, roster syncs, course enrolments and
  lessons) and pushed through the ingestion writer's own events statement
  (``orgpulse.ingestion.queries.INSERT_EVENTS``) in chunks, so its ``events`` rows and its
  rollups/projections are exactly what ingestion would have written;
* 35 days of health snapshots per org and unit, and account managers with 50 orgs each.

Measured in one run, against ``orgpulse serve`` on loopback, one client, sequential requests
with a cs_leader's personal API token, after a warm-up:

1. ``GET /api/v1/orgs/{org}/metrics`` and ``…/overview`` over many orgs (bar: p95 ≤ 100 ms);
2. ``GET /api/v1/portfolio?per_page=500`` as a cs_leader seeing every org (bar: p95 ≤ 50 ms);
3. baseline: every number of those two APIs for the large org computed by SQL over its raw
   ``events`` (same query shapes as the metric engine and the overview, events instead of
   rollups; pairs and funnels by self-joining events on their key property), as the app role
   under row-level security, with its best plans (JIT off, ``plan_cache_mode =
   force_custom_plan``). The run asserts the baseline and the API agree on every number, then
   reports baseline time / API time (bar ≥ 50×), for the dashboards' default windows and for a
   one-year window.

``--pages-per-session N`` sets the large org's page views per session (uniform 0..N; default 2,
the first recorded runs' density); ``--keep NAME`` builds into database NAME on
``DATABASE_URL``'s server once and reuses it afterwards. ``--explain`` prints the
EXPLAIN ANALYZE evidence (the distinct-actors query with a custom and a generic plan, and the
portfolio query).

Prints a summary and Markdown rows for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
from harness import bench_database, kept_database, server
from harness import percentile as pct
from sqlalchemy import Connection, text

from orgpulse.auth import Role, create_api_token, create_user, grant_membership
from orgpulse.catalog import Catalog, catalog_of
from orgpulse.core.config import Settings
from orgpulse.core.db import app_engine, owner_engine
from orgpulse.core.tenancy import TenantScope, apply_scope, scoped, unscoped
from orgpulse.dashboards.portfolio import PORTFOLIO_SQL, portfolio
from orgpulse.dashboards.service import org_overview
from orgpulse.health import band_of
from orgpulse.ingestion import ingest
from orgpulse.ingestion.queries import INSERT_EVENTS
from orgpulse.ingestion.writer import Projections
from orgpulse.metrics import org_metrics
from orgpulse.metrics import queries as metric_queries

BIG = "bd-big"
TIMEZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")
KINDS = ("steady", "steady", "steady", "growing", "growing", "growing", "declining",
         "declining", "churned", "new")  # fmt: skip
PUSH_CHUNK = 5000
BIG_TABLES = ("events", "rollup_member_events", "rollup_member_days", "rollup_daily_events",
              "pair_items", "funnel_progress")  # fmt: skip
START = time.perf_counter()


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - START:6.1f}s] {msg}", flush=True)


# ---------------------------------------------------------------------------- 1. directory
def directory_messages(args: argparse.Namespace, now: datetime) -> list[list[dict[str, Any]]]:
    """Segment group/identify messages: orgs, then units, then members (three phases)."""
    ts = (now - timedelta(days=args.days - 2)).isoformat()
    orgs, units, members = [], [], []
    plans = ("starter", "standard", "enterprise")
    for o in range(args.orgs):
        ext = BIG if o == 0 else f"bd-{o:04d}"
        orgs.append(
            {
                "type": "group",
                "groupId": ext,
                "traits": {
                    "name": "Bench Large District" if o == 0 else f"Bench District {o:04d}",
                    "plan": plans[o % 3],
                    "timezone": TIMEZONES[o % len(TIMEZONES)],
                },
                "messageId": f"bd-g-{o}",
                "timestamp": ts,
            }
        )
        n_units = args.big_units if o == 0 else args.units
        n_members = args.big_members if o == 0 else args.members
        for u in range(n_units):
            units.append(
                {
                    "type": "group",
                    "groupId": f"{ext}-s{u}",
                    "traits": {"name": f"School {u:02d}", "kind": "school", "parent_group_id": ext},
                    "messageId": f"bd-u-{o}-{u}",
                    "timestamp": ts,
                }
            )
        for m in range(n_members):
            # 1 in 4 teachers, 1 in 40 admins, the rest students.
            role = "admin" if m % 40 == 39 else "teacher" if m % 4 == 0 else "student"
            members.append(
                {
                    "type": "identify",
                    "userId": f"{ext}-m{m}",
                    "context": {"groupId": ext},
                    # Every unit gets teachers and students (m // 4 walks the units).
                    "traits": {
                        "role": role,
                        "unit": f"{ext}-s{(m // 4) % n_units}",
                        "name": f"M {m}",
                    },
                    "messageId": f"bd-i-{o}-{m}",
                    "timestamp": ts,
                }
            )
    return [orgs, units, members]


def build_directory(settings: Settings, args: argparse.Namespace, now: datetime) -> None:
    engine = app_engine(settings)
    for phase in directory_messages(args, now):
        for i in range(0, len(phase), 500):
            result = ingest(
                engine=engine, settings=settings, body={"batch": phase[i : i + 500]}, source="bench"
            )
            assert not result.rejections, result.rejections[:3]


def org_rows(conn: Connection) -> list[tuple[int, str, str, str]]:
    """(org_id, external_id, slug, timezone) of every org, by id (owner connection)."""
    ids = conn.execute(text("SELECT org_id FROM directory_groups WHERE unit_id IS NULL")).scalars()
    apply_scope(conn, TenantScope.of(ids))
    rows = conn.execute(
        text("SELECT org_id, external_id, slug, timezone FROM orgs ORDER BY org_id")
    ).all()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def leader_token(settings: Settings) -> str:
    """A new API token for the cs_leader the build created."""
    with unscoped(app_engine(settings)) as conn:
        leader = conn.execute(
            text("SELECT user_id FROM users WHERE email = 'vp@bench.test'")
        ).scalar_one()
        return create_api_token(conn, user_id=leader, name="bench")


def build_users(settings: Settings, orgs: list[int], managers: int) -> None:
    """A cs_leader and account managers holding 50 orgs each."""
    with unscoped(app_engine(settings)) as conn:
        create_user(
            conn, email="vp@bench.test", password=None, display_name="VP", role=Role.CS_LEADER
        )
        per = max(1, len(orgs) // max(1, managers))
        for a in range(managers):
            mine = orgs[a * per : (a + 1) * per]
            if not mine:
                break
            user = create_user(
                conn,
                email=f"am{a:02d}@bench.test",
                password=None,
                display_name=f"Account Manager {a:02d}",
                role=Role.ACCOUNT_MANAGER,
                org_id=mine[0],
            )
            for org_id in mine[1:]:
                grant_membership(conn, user_id=user, org_id=org_id, role=Role.ACCOUNT_MANAGER)


# ---------------------------------------------------------------------------- 2. synthetic rollups
SYN_ORGS = text(
    "CREATE TEMP TABLE bo ON COMMIT DROP AS"
    " SELECT p.org_id, p.base, p.kind, p.score_rate, o.timezone AS tz,"
    "  CAST(timezone(o.timezone, CAST(:now AS timestamptz)) AS date) AS today"
    " FROM jsonb_to_recordset(CAST(:params AS jsonb))"
    "  AS p(org_id bigint, base float8, kind text, score_rate float8)"
    " JOIN orgs o ON o.org_id = p.org_id"
)

# Active member-days: org level × member engagement × weekday × the org's trajectory.
SYN_MEMBER_DAYS = text(
    """
    CREATE TEMP TABLE md ON COMMIT DROP AS
    SELECT b.org_id, m.member_id, COALESCE(m.unit_id, 0) AS unit_id, m.role, b.tz, b.score_rate,
           b.today - g.back AS day
    FROM bo b
    JOIN members m ON m.org_id = b.org_id
    CROSS JOIN generate_series(0, CAST(:days AS int) - 1) AS g(back)
    WHERE random() < b.base
        * (0.55 + 0.45 * ((m.member_id * 7919) % 100) / 100.0)
        * CASE WHEN extract(isodow FROM b.today - g.back) < 6 THEN 1.0 ELSE 0.05 END
        * CASE b.kind
            WHEN 'growing' THEN 0.35 + 0.65 * (1 - g.back / CAST(:days AS float8))
            WHEN 'declining' THEN 1 - 0.7 * (1 - g.back / CAST(:days AS float8))
            WHEN 'churned' THEN CASE WHEN g.back > 45 THEN 1.0 ELSE 0.0 END
            WHEN 'new' THEN CASE WHEN g.back < 120 THEN 1.0 ELSE 0.0 END
            ELSE 1.0 END
    """
)

# Event names per role: (role, name, probability per active day, min count, max count).
SYN_MEMBER_EVENTS = text(
    """
    CREATE TEMP TABLE me ON COMMIT DROP AS
    SELECT md.org_id, md.day, md.member_id, n.name, md.unit_id, md.tz, md.score_rate,
           CAST(n.lo + floor(random() * (n.hi - n.lo + 1)) AS bigint) AS events
    FROM md JOIN (VALUES
        ('teacher', 'Login', 1.0, 1, 3), ('teacher', '$page', 0.5, 1, 4),
        ('teacher', 'Login Failed', 0.03, 1, 1), ('teacher', 'Assignment Created', 0.22, 1, 2),
        ('teacher', 'Submission Scored', 0.6, 1, 6), ('teacher', 'Upload Started', 0.12, 1, 1),
        ('teacher', 'Upload Failed', 0.008, 1, 1),
        ('student', 'Login', 1.0, 1, 2), ('student', '$page', 0.4, 1, 3),
        ('student', 'Login Failed', 0.03, 1, 1), ('student', 'Submission Created', 0.6, 1, 2),
        ('student', 'Lesson Completed', 0.35, 1, 1), ('student', 'Course Enrolled', 0.03, 1, 1),
        ('student', 'Upload Started', 0.12, 1, 1), ('student', 'Upload Failed', 0.008, 1, 1),
        ('admin', 'Login', 1.0, 1, 1), ('admin', 'Roster Sync Completed', 0.95, 1, 1),
        ('admin', 'Roster Sync Failed', 0.05, 1, 1)
    ) AS n(role, name, p, lo, hi) ON n.role = md.role
    WHERE random() < CAST(n.p AS float8)
    """
)

SYN_INSERT_ROLLUPS = [
    text(
        "INSERT INTO rollup_member_events (org_id, day, member_id, name, unit_id, events)"
        " SELECT org_id, day, member_id, name, unit_id, events FROM me ORDER BY 1, 2, 3, 4"
    ),
    text(
        "INSERT INTO rollup_member_days (org_id, day, member_id, unit_id, events)"
        " SELECT org_id, day, member_id, max(unit_id), sum(events) FROM me"
        " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    ),
    text(
        "INSERT INTO rollup_daily_events (org_id, day, unit_id, name, events)"
        " SELECT org_id, day, unit_id, name, sum(events) FROM me"
        " GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
    ),
    # One scoring item per submission; some never scored, scoring delays skewed short.
    text(
        """
        INSERT INTO pair_items (org_id, pair, item_key, opened_at, closed_at, opener_member_id,
                                closer_member_id, unit_id, ref_key)
        WITH x AS MATERIALIZED (
            SELECT me.org_id, 'sub-' || me.member_id || '-' || me.day || '-' || i AS item_key,
                   timezone(me.tz, CAST(me.day AS timestamp) + interval '8 hours'
                                   + random() * interval '10 hours') AS opened_at,
                   random() < me.score_rate AS scored,
                   interval '3 hours' + random() * random() * interval '14 days' AS delay,
                   me.member_id, me.unit_id, 'asg-' || me.unit_id || '-' || me.day AS ref_key
            FROM me, generate_series(1, me.events) AS i
            WHERE me.name = 'Submission Created')
        SELECT org_id, 'scoring', item_key, opened_at,
               CASE WHEN scored AND opened_at + delay <= :now THEN opened_at + delay END,
               member_id, NULL, unit_id, ref_key
        FROM x WHERE opened_at <= :now ORDER BY 1, 2, 3
        """
    ),
    text(
        """
        INSERT INTO pair_items (org_id, pair, item_key, opened_at, opener_member_id, unit_id)
        WITH x AS MATERIALIZED (
            SELECT me.org_id, 'asg-' || me.member_id || '-' || me.day || '-' || i AS item_key,
                   timezone(me.tz, CAST(me.day AS timestamp) + interval '8 hours'
                                   + random() * interval '10 hours') AS opened_at,
                   me.member_id, me.unit_id
            FROM me, generate_series(1, me.events) AS i
            WHERE me.name = 'Assignment Created')
        SELECT org_id, 'assignments', item_key, opened_at, member_id, unit_id
        FROM x WHERE opened_at <= :now ORDER BY 1, 2, 3
        """
    ),
    text(
        """
        INSERT INTO funnel_progress (org_id, funnel, subject_key, member_id, started_at,
                                     total_steps, max_step, last_step_at, unit_id)
        WITH x AS MATERIALIZED (
            SELECT me.org_id, 'crs-' || me.day || '-' || i AS subject_key, me.member_id,
                   timezone(me.tz, CAST(me.day AS timestamp) + interval '16 hours') AS started_at,
                   CAST(floor(random() * 9) AS int) AS steps, me.unit_id
            FROM me, generate_series(1, me.events) AS i
            WHERE me.name = 'Course Enrolled')
        SELECT org_id, 'courses', subject_key, member_id, started_at, 8, NULLIF(steps, 0),
               CASE WHEN steps > 0 THEN started_at + steps * interval '2 days' END, unit_id
        FROM x WHERE started_at <= :now ORDER BY 1, 2, 3, 4
        """
    ),
    text(
        """
        UPDATE rollup_state s SET
            newest_event_at = x.newest, last_rollup_at = x.newest, last_received_at = x.newest,
            events_total = s.events_total + x.total
        FROM (SELECT me.org_id, sum(me.events) AS total,
                     LEAST(CAST(:now AS timestamptz) - random() * interval '8 minutes',
                           timezone(min(me.tz), CAST(max(me.day) AS timestamp)
                                    + interval '15 hours')) AS newest
              FROM me GROUP BY me.org_id) x
        WHERE s.org_id = x.org_id
        """
    ),
]


def fill_synthetic(
    conn: Connection, args: argparse.Namespace, orgs: list[int], all_ids: list[int], now: datetime
) -> None:
    """Two years of rollups and projections for ``orgs``, in chunks of orgs (set-based SQL)."""
    rng = random.Random(7)
    params = [
        {
            "org_id": o,
            "base": round(0.25 + 0.45 * rng.random(), 3),
            "kind": KINDS[i % len(KINDS)],
            "score_rate": round(0.6 + 0.35 * rng.random(), 3),
        }
        for i, o in enumerate(orgs)
    ]
    chunk = args.chunk
    for i in range(0, len(params), chunk):
        with conn.begin():
            conn.execute(text("SET LOCAL synchronous_commit = off"))
            conn.execute(text("SET LOCAL work_mem = '256MB'"))
            apply_scope(conn, TenantScope.of(all_ids))
            conn.execute(
                SYN_ORGS, {"params": orjson.dumps(params[i : i + chunk]).decode(), "now": now}
            )
            conn.execute(SYN_MEMBER_DAYS, {"days": args.days})
            conn.execute(SYN_MEMBER_EVENTS)
            for stmt in SYN_INSERT_ROLLUPS:
                conn.execute(stmt, {"now": now})
        done = min(i + chunk, len(params))
        if done % (chunk * 4) == 0 or done == len(params):
            log(f"  synthetic rollups: {done}/{len(params)} orgs")


# ---------------------------------------------------------------------------- 3. the large org
BIG_SETUP = [
    text(
        "CREATE TEMP TABLE bm AS SELECT member_id, COALESCE(unit_id, 0) AS unit_id, role,"
        " 0.55 + 0.45 * ((member_id * 7919) % 100) / 100.0 AS eng"
        " FROM members WHERE org_id = :org"
    ),
    text(
        """
        CREATE TEMP TABLE bd AS
        SELECT bm.member_id, bm.unit_id, bm.role, CAST(:today AS date) - g.back AS day,
               CASE WHEN bm.role = 'admin' THEN 1
                    ELSE 1 + CAST(floor(random() * 2.6) AS int) END AS sessions
        FROM bm CROSS JOIN generate_series(0, CAST(:days AS int) - 1) AS g(back)
        WHERE random() < bm.eng * (0.3 + 0.35 * (1 - g.back / CAST(:days AS float8)))
            * CASE WHEN extract(isodow FROM CAST(:today AS date) - g.back) < 6
                   THEN 1.0 ELSE 0.06 END
        """
    ),
    text(
        """
        CREATE TEMP TABLE bs AS
        SELECT bd.member_id, bd.unit_id, bd.role, bd.day,
               timezone(:tz, CAST(bd.day AS timestamp) + interval '7 hours'
                             + random() * interval '13 hours') AS t,
               CAST(floor(random() * (:pages + 1)) AS int) AS pages
        FROM bd, generate_series(1, bd.sessions)
        """
    ),
    text(
        "CREATE TEMP TABLE raw (event_time timestamptz, type text, name text, member_id bigint,"
        " unit_id bigint, properties jsonb)"
    ),
    text(
        "INSERT INTO raw SELECT t - interval '1 minute', 'track', 'Login Failed', member_id,"
        ' unit_id, \'{"reason": "invalid password"}\' FROM bs WHERE random() < 0.03'
    ),
    text(
        "INSERT INTO raw SELECT t, 'track', 'Login', member_id, unit_id,"
        ' \'{"method": "sso"}\' FROM bs'
    ),
    text(
        "INSERT INTO raw SELECT t + p * interval '1 minute', 'page', '$page', member_id, unit_id,"
        ' \'{"path": "/dashboard"}\' FROM bs, generate_series(1, bs.pages) AS p'
    ),
    text(
        "INSERT INTO raw SELECT timezone(:tz, CAST(day AS timestamp) + interval '9 hours'"
        " + random() * interval '8 hours'), 'track', 'Assignment Created', member_id, unit_id,"
        " jsonb_build_object('assignment_id', 'asg-' || member_id || '-' || day,"
        " 'due_in_days', 7)"
        " FROM bd WHERE role = 'teacher' AND extract(isodow FROM day) < 6 AND random() < 0.25"
    ),
    text(
        """
        CREATE TEMP TABLE subs AS
        SELECT member_id, unit_id, 'sub-' || member_id || '-' || day AS sid,
               'asg-' || unit_id || '-' || day AS aid,
               timezone(:tz, CAST(day AS timestamp) + interval '8 hours'
                             + random() * interval '12 hours') AS t,
               random() < 0.82 AS scored,
               interval '3 hours' + random() * random() * interval '14 days' AS delay,
               random() AS pick
        FROM bd WHERE role = 'student' AND random() < 0.6
        """
    ),
    text(
        "INSERT INTO raw SELECT t, 'track', 'Submission Created', member_id, unit_id,"
        " jsonb_build_object('assignment_id', aid, 'submission_id', sid) FROM subs"
    ),
    text(
        """
        INSERT INTO raw
        SELECT s.t + s.delay, 'track', 'Submission Scored',
               tt.arr[1 + CAST(floor(s.pick * cardinality(tt.arr)) AS int)], s.unit_id,
               jsonb_build_object('assignment_id', s.aid, 'submission_id', s.sid,
                                  'score', 50 + CAST(floor(s.pick * 50) AS int))
        FROM subs s
        JOIN (SELECT unit_id, array_agg(member_id ORDER BY member_id) AS arr FROM bm
              WHERE role = 'teacher' GROUP BY unit_id) tt ON tt.unit_id = s.unit_id
        WHERE s.scored
        """
    ),
    text(
        """
        CREATE TEMP TABLE ups AS
        SELECT member_id, unit_id, 'upl-' || member_id || '-' || day AS uid,
               timezone(:tz, CAST(day AS timestamp) + interval '8 hours'
                             + random() * interval '10 hours') AS t,
               random() < 0.07 AS failed
        FROM bd WHERE role <> 'admin' AND random() < 0.12
        """
    ),
    text(
        "INSERT INTO raw SELECT t, 'track', 'Upload Started', member_id, unit_id,"
        " jsonb_build_object('upload_id', uid, 'file_type', 'mp4') FROM ups"
    ),
    text(
        "INSERT INTO raw SELECT t + interval '1 minute', 'track', 'Upload Failed', member_id,"
        " unit_id, jsonb_build_object('upload_id', uid, 'error', 'timeout') FROM ups WHERE failed"
    ),
    text(
        "INSERT INTO raw SELECT timezone(:tz, CAST(day AS timestamp) + interval '5 hours'"
        " + random() * interval '1 hour'), 'track',"
        " CASE WHEN random() < 0.05 THEN 'Roster Sync Failed' ELSE 'Roster Sync Completed' END,"
        " member_id, unit_id, jsonb_build_object('sync_id', 'sync-' || member_id || '-' || day)"
        " FROM bd WHERE role = 'admin'"
    ),
    # A new course every 45 days for every student; lessons every 2 days up to a random reach.
    text(
        """
        CREATE TEMP TABLE enr AS
        SELECT bm.member_id, bm.unit_id, 'crs-' || p.n AS cid,
               CAST(:first AS date) + p.n * 45 + CAST(bm.member_id % 7 AS int) AS day,
               6 + p.n % 5 AS lessons, random() AS r
        FROM bm CROSS JOIN generate_series(0, CAST(:days AS int) / 45) AS p(n)
        WHERE bm.role = 'student'
        """
    ),
    text(
        "INSERT INTO raw SELECT timezone(:tz, CAST(day AS timestamp) + interval '16 hours'"
        " + r * interval '2 hours'), 'track', 'Course Enrolled', member_id, unit_id,"
        " jsonb_build_object('course_id', cid, 'lessons', lessons) FROM enr"
    ),
    text(
        "INSERT INTO raw SELECT timezone(:tz, CAST(e.day + 2 * k AS timestamp)"
        " + interval '17 hours' + e.r * interval '2 hours'), 'track', 'Lesson Completed',"
        " e.member_id, e.unit_id, jsonb_build_object('course_id', e.cid, 'lesson', k)"
        " FROM enr e, generate_series(1, LEAST(e.lessons,"
        " CAST(floor(e.r * (e.lessons + 4)) AS int))) AS k"
    ),
    text("DELETE FROM raw WHERE event_time > :now"),
    text(
        "CREATE TEMP TABLE raw_sorted AS SELECT row_number() OVER (ORDER BY event_time) AS rn,"
        " * FROM raw"
    ),
    text("CREATE INDEX ON raw_sorted (rn)"),
]

BIG_CHUNK_JSON = text(
    """
    SELECT CAST(jsonb_agg(jsonb_build_object(
        'org_id', CAST(:org AS bigint), 'event_time', event_time, 'event_id', gen_random_uuid(),
        'message_id', 'bench-raw-' || rn, 'type', type, 'name', name, 'member_id', member_id,
        'unit_id', unit_id, 'anonymous_id', NULL, 'properties', properties,
        'context', CAST(:ctx AS jsonb)) ORDER BY rn) AS text)
    FROM raw_sorted WHERE rn > :a AND rn <= :b
    """
)


def fill_big_org(
    conn: Connection,
    args: argparse.Namespace,
    org_id: int,
    tz: str,
    catalog: Catalog,
    now: datetime,
) -> int:
    """Generate the large org's raw events and write them with the ingestion events statement."""
    today = now.astimezone(ZoneInfo(tz)).date()
    params = {
        "org": org_id,
        "tz": tz,
        "days": args.days,
        "pages": args.pages_per_session,
        "today": today,
        "first": today - timedelta(days=args.days - 1),
        "now": now,
    }
    with conn.begin():
        apply_scope(conn, TenantScope.of([org_id]))
        for stmt in BIG_SETUP:
            conn.execute(stmt, params)
        total = int(conn.execute(text("SELECT count(*) FROM raw_sorted")).scalar_one())
    log(f"  large org: {total:,} raw events generated; writing them through INSERT_EVENTS")
    projections = Projections.of(catalog)
    ctx = orjson.dumps({"groupId": BIG}).decode()
    for a in range(0, total, PUSH_CHUNK):
        with conn.begin():
            conn.execute(text("SET LOCAL synchronous_commit = off"))
            apply_scope(conn, TenantScope.of([org_id]))
            rows = conn.execute(
                BIG_CHUNK_JSON, {"org": org_id, "ctx": ctx, "a": a, "b": a + PUSH_CHUNK}
            ).scalar_one()
            inserted = conn.execute(
                INSERT_EVENTS,
                {
                    "rows": rows,
                    "received": now,
                    "pairs": projections.pairs,
                    "funnels": projections.funnels,
                },
            ).scalar_one()
            assert inserted == min(PUSH_CHUNK, total - a), (inserted, a)
    with conn.begin():
        for t in ("raw_sorted", "raw", "enr", "ups", "subs", "bs", "bd", "bm"):
            conn.execute(text(f"DROP TABLE {t}"))
    return total


# ---------------------------------------------------------------------------- 4. snapshots
SNAPSHOTS_INSERT = text(
    "INSERT INTO health_snapshots (org_id, day, unit_id, score, status, profile, components,"
    " computed_at) SELECT org_id, day, unit_id, score, status, 'default', components, :now"
    " FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS t(org_id bigint, day date,"
    " unit_id bigint, score numeric, status text, components jsonb)"
)


def fill_snapshots(
    conn: Connection,
    catalog: Catalog,
    orgs: list[tuple[int, str, str, str]],
    all_ids: list[int],
    now: datetime,
    days: int,
) -> int:
    """``days`` daily snapshots per org (unit 0) and per unit, with components and drivers."""
    rng = random.Random(11)
    weights = catalog.profile("default")
    keys = sorted(weights)
    with conn.begin():
        apply_scope(conn, TenantScope.of(all_ids))
        units: dict[int, list[int]] = {}
        for org_id, unit_id in conn.execute(text("SELECT org_id, unit_id FROM units")):
            units.setdefault(org_id, []).append(unit_id)
    rows: list[dict[str, Any]] = []
    for i, (org_id, _ext, _slug, tz) in enumerate(orgs):
        today = now.astimezone(ZoneInfo(tz)).date()
        kind = KINDS[i % len(KINDS)]
        slope = {"growing": 0.35, "declining": -0.45, "churned": -0.8}.get(kind, 0.0)
        insufficient = kind == "new" and i % 20 == 9
        for unit_id in [0, *units.get(org_id, [])]:
            level = 25 + 65 * rng.random()
            for back in range(days):
                score = None
                if not insufficient:
                    score = round(max(0.0, min(100.0, level - slope * back + rng.gauss(0, 1.5))), 1)
                comps = []
                for key in keys:
                    included = score is not None and key != "checklist_completion"
                    normalized = (
                        round(max(0.0, min(100.0, (score or 0) + rng.gauss(0, 15))), 2)
                        if included
                        else None
                    )
                    comps.append({"key": key, "normalized": normalized, "included": included})
                ranked = sorted(
                    (c for c in comps if c["included"]),
                    key=lambda c: -weights[c["key"]] * (100 - c["normalized"]),
                )
                ranks = {c["key"]: r for r, c in enumerate(ranked[:3], start=1)}
                for c in comps:
                    c["driver"] = ranks.get(c["key"])
                rows.append(
                    {
                        "org_id": org_id,
                        "day": (today - timedelta(days=back)).isoformat(),
                        "unit_id": unit_id,
                        "score": score,
                        "status": band_of(score),
                        "components": comps,
                    }
                )
    for a in range(0, len(rows), 5000):
        with conn.begin():
            apply_scope(conn, TenantScope.of(all_ids))
            conn.execute(
                SNAPSHOTS_INSERT, {"rows": orjson.dumps(rows[a : a + 5000]).decode(), "now": now}
            )
    return len(rows)


# ---------------------------------------------------------------------------- 5. baseline
def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, dtime(0), tzinfo=zone).astimezone(UTC)


RAW_COUNTS_BY_DAY = text(
    "SELECT name, CAST(timezone(:tz, event_time) AS date) AS day, count(*) FROM events"
    " WHERE org_id = :org AND name = ANY(CAST(:names AS text[]))"
    " AND event_time >= :start AND event_time < :end GROUP BY 1, 2"
)
RAW_DISTINCT_NAMED = text(
    "SELECT count(DISTINCT e.member_id) FROM events e"
    " JOIN members m ON m.org_id = e.org_id AND m.member_id = e.member_id"
    " WHERE e.org_id = :org AND e.name = ANY(CAST(:names AS text[]))"
    " AND e.event_time >= :start AND e.event_time < :end"
    " AND (CAST(:role AS text) IS NULL OR m.role = CAST(:role AS text))"
)
RAW_DISTINCT_ANY = text(
    "SELECT count(DISTINCT e.member_id) FROM events e"
    " JOIN members m ON m.org_id = e.org_id AND m.member_id = e.member_id"
    " WHERE e.org_id = :org AND e.name NOT IN ('$identify', '$group')"
    " AND e.event_time >= :start AND e.event_time < :end"
    " AND (CAST(:role AS text) IS NULL OR m.role = CAST(:role AS text))"
)
RAW_POPULATION = text(
    "SELECT count(*) FROM members m WHERE m.org_id = :org"
    " AND (m.first_seen_at IS NULL OR m.first_seen_at < :end)"
    " AND (CAST(:role AS text) IS NULL OR m.role = CAST(:role AS text))"
)
RAW_ACTIVE_UNITS = text(
    "SELECT (SELECT count(DISTINCT m.unit_id) FROM events e"
    "        JOIN members m ON m.org_id = e.org_id AND m.member_id = e.member_id"
    "        WHERE e.org_id = :org AND e.name = ANY(CAST(:names AS text[]))"
    "        AND e.event_time >= :start AND e.event_time < :end AND m.unit_id IS NOT NULL"
    "        AND (CAST(:role AS text) IS NULL OR m.role = CAST(:role AS text))),"
    " (SELECT count(*) FROM units WHERE org_id = :org)"
)
# Pairs: the open event and the first close event with the same key (self-join on the key).
# Exact for keys opened once and closed after they open, as generated here.
RAW_PAIR_WINDOW = text(
    """
    WITH opened AS (
        SELECT properties ->> :key AS k, min(event_time) AS opened_at FROM events
        WHERE org_id = :org AND name = :open AND event_time >= :start AND event_time < :end
          AND properties ->> :key IS NOT NULL GROUP BY 1
    ), closed AS (
        SELECT properties ->> :key AS k, min(event_time) AS closed_at FROM events
        WHERE org_id = :org AND name = :close AND event_time >= :start
          AND properties ->> :key IS NOT NULL GROUP BY 1
    )
    SELECT count(*),
           count(*) FILTER (WHERE c.closed_at IS NOT NULL
                            AND c.closed_at <= o.opened_at + make_interval(days => :within)),
           count(*) FILTER (WHERE c.closed_at IS NULL OR c.closed_at >= :end)
    FROM opened o LEFT JOIN closed c ON c.k = o.k
    WHERE o.opened_at < :cutoff
    """
)
# Funnel: enrolments started in the window and the furthest step each member reached since.
# Exact when every enrolment declares its total (as generated here).
RAW_FUNNEL = text(
    """
    WITH started AS (
        SELECT member_id, properties ->> :key AS k, min(event_time) AS started_at,
               max(CASE WHEN jsonb_typeof(properties -> :total) = 'number'
                         AND CAST(properties ->> :total AS numeric) BETWEEN 0 AND 100000
                        THEN CAST(CAST(properties ->> :total AS numeric) AS int) END) AS total
        FROM events
        WHERE org_id = :org AND name = :start_event AND member_id IS NOT NULL
          AND properties ->> :key IS NOT NULL AND event_time >= :start AND event_time < :end
        GROUP BY 1, 2
    ), steps AS (
        SELECT member_id, properties ->> :key AS k,
               max(CASE WHEN jsonb_typeof(properties -> :step) = 'number'
                         AND CAST(properties ->> :step AS numeric) BETWEEN 0 AND 100000
                        THEN CAST(CAST(properties ->> :step AS numeric) AS int) END) AS top
        FROM events
        WHERE org_id = :org AND name = :step_event AND member_id IS NOT NULL
          AND properties ->> :key IS NOT NULL AND event_time >= :start
        GROUP BY 1, 2
    )
    SELECT count(*), count(*) FILTER (WHERE s.top IS NOT NULL AND s.top >= st.total)
    FROM started st LEFT JOIN steps s ON s.member_id = st.member_id AND s.k = st.k
    """
)
RAW_DAILY = text(
    "SELECT CAST(timezone(:tz, event_time) AS date), count(*),"
    " count(DISTINCT member_id) FILTER (WHERE type IN ('track', 'page', 'screen'))"
    " FROM events WHERE org_id = :org AND event_time >= :start AND event_time < :end GROUP BY 1"
)
RAW_BY_NAME = text(
    "SELECT name, count(*) FROM events"
    " WHERE org_id = :org AND event_time >= :start AND event_time < :end GROUP BY 1"
)
RAW_ACTIVE = text(
    "SELECT count(DISTINCT member_id) FROM events WHERE org_id = :org"
    " AND type IN ('track', 'page', 'screen') AND member_id IS NOT NULL"
    " AND event_time >= :start AND event_time < :end"
)
RAW_MEMBERS = text("SELECT count(*) FROM members WHERE org_id = :org")
RAW_NEWEST = text("SELECT max(event_time) FROM events WHERE org_id = :org")


def raw_numbers(
    conn: Connection,
    catalog: Catalog,
    *,
    org_id: int,
    tz: str,
    metrics: dict[str, Any],
    overview: dict[str, Any],
) -> dict[str, Any]:
    """Every number of the two APIs' answers, computed from raw events (same windows)."""
    zone = ZoneInfo(tz)
    out: dict[str, Any] = {}

    def bounds(since: str, until: str) -> dict[str, Any]:
        s, u = date.fromisoformat(since), date.fromisoformat(until)
        return {
            "org": org_id,
            "tz": tz,
            "start": _midnight(s, zone),
            "end": _midnight(u + timedelta(days=1), zone),
        }

    values = {m["key"]: m for m in metrics["metrics"]}
    # Counts and ratios: one grouped query over the widest window, summed per metric window.
    counted = [catalog.metrics[k] for k in values if catalog.metrics[k].kind in ("count", "ratio")]
    if counted:
        names = sorted({n for m in counted for n in (*m.events, *m.numerator, *m.denominator)})
        since = min(values[m.key]["window_start"] for m in counted)
        until = max(values[m.key]["window_end"] for m in counted)
        per_day: dict[tuple[str, date], int] = {}
        for name, day, n in conn.execute(
            RAW_COUNTS_BY_DAY, {**bounds(since, until), "names": names}
        ):
            per_day[(name, day)] = int(n)

        def total(names: tuple[str, ...], mv: dict[str, Any]) -> float:
            s, u = date.fromisoformat(mv["window_start"]), date.fromisoformat(mv["window_end"])
            return float(sum(n for (nm, d), n in per_day.items() if nm in names and s <= d <= u))

        for m in counted:
            mv = values[m.key]
            if m.kind == "count":
                out[f"{m.key}.numerator"] = total(m.events, mv)
            else:
                out[f"{m.key}.numerator"] = total(m.numerator, mv)
                out[f"{m.key}.denominator"] = total(m.denominator, mv)
    for key, mv in values.items():
        m = catalog.metrics[key]
        b = bounds(mv["window_start"], mv["window_end"])
        role = m.population.role
        if m.kind in ("distinct", "active_share"):
            stmt = RAW_DISTINCT_NAMED if m.events else RAW_DISTINCT_ANY
            out[f"{key}.numerator"] = float(
                conn.execute(stmt, {**b, "names": list(m.events), "role": role}).scalar_one()
            )
            if m.kind == "active_share":
                out[f"{key}.denominator"] = float(
                    conn.execute(RAW_POPULATION, {**b, "role": role}).scalar_one()
                )
        elif m.kind == "active_units":
            active, units = conn.execute(
                RAW_ACTIVE_UNITS, {**b, "names": list(m.events), "role": role}
            ).one()
            out[f"{key}.numerator"], out[f"{key}.denominator"] = float(active), float(units)
        elif m.kind in ("backlog", "timely_share"):
            pair = catalog.pairs[str(m.pair)]
            days = m.older_than_days if m.kind == "backlog" else m.within_days
            judged, timely, still_open = conn.execute(
                RAW_PAIR_WINDOW,
                {
                    **b,
                    "key": pair.key,
                    "open": pair.open,
                    "close": pair.close,
                    "within": days,
                    "cutoff": b["end"] - timedelta(days=days),
                },
            ).one()
            out[f"{key}.denominator"] = float(judged)
            out[f"{key}.numerator"] = float(still_open if m.kind == "backlog" else timely)
        elif m.kind == "completion":
            f = catalog.funnels[str(m.funnel)]
            started, completed = conn.execute(
                RAW_FUNNEL,
                {
                    **b,
                    "key": f.key,
                    "total": f.total_property,
                    "step": f.step_property,
                    "start_event": f.start,
                    "step_event": f.step,
                },
            ).one()
            out[f"{key}.numerator"], out[f"{key}.denominator"] = float(completed), float(started)
        elif m.kind == "coverage":
            # The metric engine already reads raw events for this kind: the same query.
            required, covered = conn.execute(
                metric_queries.coverage(),
                {
                    **b,
                    "units": None,
                    "names": list(m.events),
                    "prop": m.tag_property,
                    "trait": m.required_trait,
                },
            ).one()
            out[f"{key}.numerator"], out[f"{key}.denominator"] = float(covered), float(required)
    # The overview.
    period = bounds(overview["period_start"], overview["period_end"])
    today = date.fromisoformat(overview["period_end"])
    out["overview.daily"] = sorted(
        (d.isoformat(), int(n), int(a)) for d, n, a in conn.execute(RAW_DAILY, period)
    )
    out["overview.events_by_name"] = dict(
        sorted((n, int(c)) for n, c in conn.execute(RAW_BY_NAME, period))
    )
    for days in (7, 30):
        b = bounds((today - timedelta(days=days - 1)).isoformat(), today.isoformat())
        out[f"overview.active_{days}d"] = int(conn.execute(RAW_ACTIVE, b).scalar_one())
    out["overview.members_total"] = int(conn.execute(RAW_MEMBERS, {"org": org_id}).scalar_one())
    newest = conn.execute(RAW_NEWEST, {"org": org_id}).scalar_one()
    out["overview.newest_event_at"] = newest.astimezone(UTC).isoformat() if newest else None
    return out


def api_numbers(metrics: dict[str, Any], overview: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in metrics["metrics"]:
        for part in ("numerator", "denominator"):
            if m[part] is not None:
                out[f"{m['key']}.{part}"] = float(m[part])
    out["overview.daily"] = sorted(
        (p["day"], p["events"], p["active_members"])
        for p in overview["daily"]
        if p["events"] or p["active_members"]
    )
    out["overview.events_by_name"] = dict(
        sorted((e["name"], e["events"]) for e in overview["events_by_name"])
    )
    out["overview.active_7d"] = overview["active_7d"]
    out["overview.active_30d"] = overview["active_30d"]
    out["overview.members_total"] = overview["members_total"]
    newest = overview["freshness"]["newest_event_at"]
    out["overview.newest_event_at"] = (
        datetime.fromisoformat(newest).astimezone(UTC).isoformat() if newest else None
    )
    return out


# ---------------------------------------------------------------------------- 6. server, timing
def timed_get(client: httpx.Client, path: str) -> tuple[float, Any]:
    start = time.perf_counter()
    r = client.get(path)
    elapsed = (time.perf_counter() - start) * 1000
    assert r.status_code == 200, (path, r.status_code, r.text[:300])
    return elapsed, r


def best_of(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """Median wall time (ms) of ``runs`` calls after one warm-up call, and the last result."""
    result = fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def summarize(times: list[float]) -> dict[str, float]:
    return {"p50": pct(times, 50), "p95": pct(times, 95), "p99": pct(times, 99), "n": len(times)}


def measure(
    url: str,
    token: str,
    args: argparse.Namespace,
    *,
    slugs: list[str],
    big_slug: str,
    windows: list[tuple[str, str, str]],
    orgs: int,
) -> dict[str, Any]:
    """One measuring pass against a running server: warm-up, org APIs, portfolio, large org."""
    out: dict[str, Any] = {"results": {}, "big": []}
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
        # Warm-up on orgs that are not measured afterwards; every endpoint.
        warm, measured = slugs[-20:], slugs[:-20] or slugs
        for slug in warm:
            timed_get(client, f"/api/v1/orgs/{slug}/metrics")
            timed_get(client, f"/api/v1/orgs/{slug}/overview")
        for _ in range(5):
            timed_get(client, "/api/v1/portfolio?per_page=500")
        log("  warm-up done; org APIs")
        for endpoint in ("metrics", "overview"):
            times = [
                timed_get(client, f"/api/v1/orgs/{measured[i % len(measured)]}/{endpoint}")[0]
                for i in range(args.requests)
            ]
            out["results"][endpoint] = summarize(times)
        log("  portfolio API")
        times = []
        for _ in range(args.portfolio_requests):
            ms, r = timed_get(client, "/api/v1/portfolio?per_page=500")
            times.append(ms)
        body = r.json()
        assert body["total"] == orgs and len(body["accounts"]) == orgs, body["total"]
        out["scored"] = sum(1 for a in body["accounts"] if a["score"] is not None)
        out["changed"] = sum(1 for a in body["accounts"] if a["change_30d"] is not None)
        out["results"]["portfolio"] = summarize(times)
        # The default page (50 accounts) still reads every account: bands, aggregates, top/bottom.
        times = [timed_get(client, "/api/v1/portfolio")[0] for _ in range(args.portfolio_requests)]
        out["results"]["portfolio_page"] = summarize(times)
        log(f"  large org {big_slug!r}")
        for label, mq, oq in windows:
            mpath = f"/api/v1/orgs/{big_slug}/metrics{mq}"
            opath = f"/api/v1/orgs/{big_slug}/overview{oq}"
            for _ in range(3):
                timed_get(client, mpath)
                timed_get(client, opath)
            mt, ot = [], []
            for _ in range(args.big_requests):
                ms, mr = timed_get(client, mpath)
                mt.append(ms)
                ms, orr = timed_get(client, opath)
                ot.append(ms)
            out["big"].append(
                {
                    "label": label,
                    "api_ms": (statistics.median(mt), statistics.median(ot)),
                    "metrics": mr.json(),
                    "overview": orr.json(),
                }
            )
    return out


# ---------------------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orgs", type=int, default=500)
    parser.add_argument("--members", type=int, default=40)
    parser.add_argument("--units", type=int, default=4)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--big-members", type=int, default=400)
    parser.add_argument("--big-units", type=int, default=20)
    parser.add_argument("--managers", type=int, default=10)
    parser.add_argument("--snapshot-days", type=int, default=35)
    parser.add_argument("--chunk", type=int, default=25, help="orgs per synthetic-fill statement")
    parser.add_argument("--requests", type=int, default=200, help="per org endpoint")
    parser.add_argument("--portfolio-requests", type=int, default=100)
    parser.add_argument("--big-requests", type=int, default=30)
    parser.add_argument("--baseline-runs", type=int, default=5)
    parser.add_argument("--long-window", type=int, default=365, help="0: skip that comparison")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--pages-per-session",
        type=int,
        default=2,
        help="largest number of page views per session of the large org (uniform from 0)",
    )
    parser.add_argument(
        "--keep",
        metavar="NAME",
        help="build into database NAME on DATABASE_URL's server and keep it; reuse it when it"
        " exists (for profiling: later runs skip the build)",
    )
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE evidence")
    args = parser.parse_args()
    assert args.days <= 730, "the bench keeps 760 days (bench/harness.py)"
    if args.keep:
        settings, db_url, existed = kept_database(args.keep)
        run(args, settings, db_url, reuse=existed)
        return
    with bench_database("orgpulse_bench") as (settings, db_url):
        run(args, settings, db_url, reuse=False)


def directory(
    settings: Settings,
) -> tuple[list[tuple[int, str, str, str]], list[int], tuple[int, str, str, str]]:
    """Every org (id, external id, slug, timezone), their ids, and the large org."""
    with owner_engine(settings).connect() as conn, conn.begin():
        orgs = org_rows(conn)
    return orgs, [o[0] for o in orgs], next(o for o in orgs if o[1] == BIG)


def build(args: argparse.Namespace, settings: Settings, now: datetime) -> None:
    """Fill an empty, migrated database with the benchmark's data."""
    catalog = catalog_of(settings)
    log(f"directory: {args.orgs} orgs through ingestion (in-process)")
    build_directory(settings, args, now)
    orgs, all_ids, big = directory(settings)
    build_users(settings, all_ids, args.managers)
    with owner_engine(settings).connect() as conn:
        log(f"synthetic rollups for {len(orgs) - 1} orgs × {args.days} days")
        fill_synthetic(conn, args, [o for o in all_ids if o != big[0]], all_ids, now)
        log(f"large org {big[2]!r}: raw events")
        fill_big_org(conn, args, big[0], big[3], catalog, now)
        written = fill_snapshots(conn, catalog, orgs, all_ids, now, args.snapshot_days)
        log(f"health snapshots: {written:,} rows")
    with owner_engine(settings).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def run(args: argparse.Namespace, settings: Settings, db_url: str, *, reuse: bool) -> None:
    catalog = catalog_of(settings)
    now = datetime.now(UTC)
    if reuse:
        log("reusing the kept database's data (built earlier; --pages-per-session etc. ignored)")
    else:
        build(args, settings, now)
    owner = owner_engine(settings)
    orgs, all_ids, big = directory(settings)
    big_id, big_slug, big_tz = big[0], big[2], big[3]
    token = leader_token(settings)
    with owner.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        sizes = conn.execute(
            text(
                "SELECT c.relname, c.reltuples::bigint,"
                " pg_size_pretty(pg_total_relation_size(c.oid)) FROM pg_class c"
                " WHERE c.relname IN ('rollup_daily_events', 'rollup_member_days',"
                " 'rollup_member_events', 'pair_items', 'funnel_progress', 'health_snapshots',"
                " 'members') ORDER BY 1"
            )
        ).all()
        events_rows, events_size = conn.execute(
            text(
                "SELECT sum(c.reltuples)::bigint,"
                " pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_inherits i"
                " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass"
            )
        ).one()
        server_version = conn.execute(text("SHOW server_version")).scalar_one()
    with owner.connect() as conn, conn.begin():
        apply_scope(conn, TenantScope.of([big_id]))
        # Table names from this fixed list only.
        big_rows = {
            t: int(
                conn.execute(
                    text(f"SELECT count(*) FROM {t} WHERE org_id = :o"),  # noqa: S608
                    {"o": big_id},
                ).scalar_one()
            )
            for t in BIG_TABLES
        }
    raw_events = big_rows["events"]
    log("data ready")
    for name, rows, size in [("events", events_rows, events_size), *sizes]:
        mine = f" (large org: {big_rows[name]:,})" if name in big_rows else ""
        print(f"    {name:22s} {rows:>12,} rows  {size:>8s}{mine}")

    slugs = [o[2] for o in orgs if o[0] != big_id]
    random.Random(3).shuffle(slugs)
    windows: list[tuple[str, str, str]] = [("default windows", "", "")]
    if args.long_window:
        today = now.astimezone(ZoneInfo(big_tz)).date()
        since = today - timedelta(days=args.long_window - 1)
        windows.append(
            (
                f"{args.long_window}-day window",
                f"?from={since}&to={today}",
                f"?days={args.long_window}",
            )
        )
    common = {"slugs": slugs, "big_slug": big_slug, "windows": windows, "orgs": len(orgs)}
    log("pass 1: the app as shipped")
    with server(settings, db_url, args.workers) as url:
        shipped = measure(url, token, args, **common)

    log(f"large org {big_slug!r}: raw-event SQL baseline, checked against the API's numbers")
    comparisons = [
        compare(settings, catalog, args, org_id=big_id, tz=big_tz, big=b) for b in shipped["big"]
    ]
    # In-process breakdown of the portfolio (no HTTP, no auth, no audit).
    with scoped(app_engine(settings), TenantScope.all_orgs(all_ids, user_id=None)) as conn:
        sql_ms, _ = best_of(lambda: conn.execute(PORTFOLIO_SQL, {"until": now.date()}).all(), 10)
        svc_ms, _ = best_of(
            lambda: portfolio(conn=conn, catalog=catalog, now=now, per_page=500), 10
        )
    # The same SQL without row-level security, when the owner is a superuser (it bypasses RLS).
    bypass_ms = None
    with owner.connect() as conn, conn.begin():
        if conn.execute(
            text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        ).scalar():
            bypass_ms, _ = best_of(
                lambda: conn.execute(PORTFOLIO_SQL, {"until": now.date()}).all(), 10
            )
    if args.explain:
        explain(settings, big_id, big_tz, all_ids, now)

    report(
        args,
        shipped,
        comparisons,
        orgs=len(orgs),
        raw_events=raw_events,
        events_rows=int(events_rows or 0),
        portfolio_breakdown=(sql_ms, svc_ms, bypass_ms),
        server_version=str(server_version),
    )


def compare(
    settings: Settings,
    catalog: Catalog,
    args: argparse.Namespace,
    *,
    org_id: int,
    tz: str,
    big: dict[str, Any],
) -> dict[str, Any]:
    """Time the raw-event baseline, check it agrees with the API, time the services in-process."""
    engine = app_engine(settings)
    scope = TenantScope.of([org_id])
    metrics, overview = big["metrics"], big["overview"]

    def baseline() -> dict[str, Any]:
        with scoped(engine, scope) as conn:
            # The baseline's best plans: no JIT compile time, no generic plans.
            conn.execute(text("SET LOCAL jit = off"))
            conn.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
            return raw_numbers(
                conn, catalog, org_id=org_id, tz=tz, metrics=metrics, overview=overview
            )

    base_ms, raw = best_of(baseline, args.baseline_runs)
    api = api_numbers(metrics, overview)
    mismatched = {k: (api[k], raw.get(k)) for k in sorted(api) if api[k] != raw.get(k)}
    assert not mismatched, f"{big['label']}: API and raw SQL disagree: {mismatched}"
    assert len(api) >= 20, sorted(api)

    window = big["label"] != "default windows"
    since = date.fromisoformat(metrics["metrics"][0]["window_start"]) if window else None
    until = date.fromisoformat(metrics["metrics"][0]["window_end"]) if window else None
    now = datetime.fromisoformat(metrics["as_of"])

    def services() -> None:
        with scoped(engine, scope) as conn:
            org_metrics(
                conn=conn, catalog=catalog, org_id=org_id, now=now, since=since, until=until
            )
        with scoped(engine, scope) as conn:
            org_overview(conn=conn, org_id=org_id, now=now, days=overview["period_days"])

    svc_ms, _ = best_of(services, 10)
    shown = {k: api[k] for k in (
        "assessments_assigned_30d.numerator", "active_members.numerator",
        "upload_failure_rate.numerator", "upload_failure_rate.denominator",
        "scoring_timeliness.numerator", "scoring_timeliness.denominator",
    ) if k in api}  # fmt: skip
    return {
        "label": big["label"],
        "baseline_ms": base_ms,
        "service_ms": svc_ms,
        "checked": len(api),
        "shown": shown,
    }


def explain(settings: Settings, org_id: int, tz: str, all_ids: list[int], now: datetime) -> None:
    """EXPLAIN ANALYZE the metric engine's distinct-actors query (active members, 7 days) for
    the large org with a custom and with a generic plan, and the portfolio SQL."""
    from orgpulse.metrics.queries import distinct_actors

    today = now.astimezone(ZoneInfo(tz)).date()
    sql = str(distinct_actors())
    names: list[str] = []
    for name in re.findall(r"(?<![:\w]):(\w+)", sql):
        if name not in names:
            names.append(name)
    for i, name in enumerate(names, start=1):
        sql = re.sub(rf"(?<![:\w]):{name}\b", f"${i}", sql)
    literal = {
        "org": str(org_id),
        "since": f"'{today - timedelta(days=6)}'",
        "until": f"'{today}'",
        "names": "NULL",
        "units": "NULL",
        "role": "NULL",
    }
    args = ", ".join(literal[n] for n in names)
    with scoped(app_engine(settings), TenantScope.of([org_id])) as conn:
        conn.execute(text("PREPARE bench_da AS " + sql))
        for mode in ("force_custom_plan", "force_generic_plan"):
            conn.execute(text(f"SET LOCAL plan_cache_mode = {mode}"))
            plan = conn.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_da({args})"))
            print(f"\nEXPLAIN ANALYZE distinct_actors (active members, 7 days), {mode}:")
            print("\n".join(plan.scalars()))
        conn.execute(text("DEALLOCATE bench_da"))
    with scoped(app_engine(settings), TenantScope.all_orgs(all_ids, user_id=None)) as conn:
        plan = conn.execute(
            text("EXPLAIN (ANALYZE, BUFFERS) " + str(PORTFOLIO_SQL)), {"until": now.date()}
        )
        print(f"\nEXPLAIN ANALYZE portfolio SQL ({len(all_ids)}-org scope):")
        print("\n".join(plan.scalars()))


def report(
    args: argparse.Namespace,
    shipped: dict[str, Any],
    comparisons: list[dict[str, Any]],
    *,
    orgs: int,
    raw_events: int,
    events_rows: int,
    portfolio_breakdown: tuple[float, float, float | None],
    server_version: str,
) -> None:
    bars = {"metrics": 100.0, "overview": 100.0, "portfolio": 50.0, "portfolio_page": 50.0}
    passes = [("as shipped", shipped)]
    print()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, PostgreSQL {server_version}, workers={args.workers}"
    )
    print(
        f"data: {orgs} orgs × {args.days} days; large org {args.big_members} members, "
        f"{raw_events:,} raw events; events table {events_rows:,} rows"
    )
    for label, p in passes:
        print(f"-- {label}")
        for name, r in p["results"].items():
            ok = "met" if r["p95"] <= bars[name] else "NOT met"
            print(
                f"   {name:10s} n={int(r['n'])} p50={r['p50']:.1f} ms p95={r['p95']:.1f} ms "
                f"p99={r['p99']:.1f} ms (bar p95 ≤ {bars[name]:.0f} ms: {ok})"
            )
        print(f"   portfolio: {p['scored']} accounts scored, {p['changed']} with a 30-day change")
        for c, b in zip(comparisons, p["big"], strict=True):
            api_total = sum(b["api_ms"])
            print(
                f"   large org, {c['label']}: baseline {c['baseline_ms']:.1f} ms; API metrics "
                f"{b['api_ms'][0]:.1f} + overview {b['api_ms'][1]:.1f} = {api_total:.1f} ms "
                f"→ {c['baseline_ms'] / api_total:.1f}× (bar ≥ 50×)"
            )
    sql_ms, svc_ms, bypass_ms = portfolio_breakdown
    bypass = f"; the same SQL without RLS (superuser) {bypass_ms:.1f} ms" if bypass_ms else ""
    print(
        f"portfolio in-process (as shipped, median of 10): SQL as the app role under RLS "
        f"{sql_ms:.1f} ms, service function {svc_ms:.1f} ms{bypass}"
    )
    for c in comparisons:
        print(
            f"large org, {c['label']}: services in-process {c['service_ms']:.1f} ms "
            f"(baseline / that = {c['baseline_ms'] / c['service_ms']:.1f}×); {c['checked']} "
            f"numbers equal in API and baseline, e.g. {c['shown']}"
        )

    day = datetime.now(UTC).date()
    data = f"{orgs} orgs × {args.days} d"
    labels = {
        "metrics": "`GET /api/v1/orgs/{org}/metrics`",
        "overview": "`GET /api/v1/orgs/{org}/overview`",
        "portfolio": "`GET /api/v1/portfolio?per_page=500` (cs_leader)",
        "portfolio_page": "`GET /api/v1/portfolio` (cs_leader, default page of 50)",
    }
    print("\nMarkdown rows:")
    print("| date | data | run | endpoint | n | p50 | p95 | p99 | bar | met |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for label, p in passes:
        for name, r in p["results"].items():
            met = "yes" if r["p95"] <= bars[name] else "**no**"
            print(
                f"| {day} | {data} | {label} | {labels[name]} | {int(r['n'])} | "
                f"{r['p50']:.1f} ms | {r['p95']:.1f} ms | {r['p99']:.1f} ms | "
                f"p95 ≤ {bars[name]:.0f} ms | {met} |"
            )
    print()
    print(
        "| date | large org | windows | run | baseline: raw-event SQL | OrgPulse API"
        " (metrics + overview, p50) | ratio (bar ≥ 50×) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for label, p in passes:
        for c, b in zip(comparisons, p["big"], strict=True):
            api_total = sum(b["api_ms"])
            ratio = c["baseline_ms"] / api_total
            shown = f"**{ratio:.1f}×**" if ratio < 50 else f"{ratio:.1f}×"
            print(
                f"| {day} | {args.big_members} members, {raw_events:,} events | {c['label']} | "
                f"{label} | {c['baseline_ms']:.1f} ms | {b['api_ms'][0]:.1f} + "
                f"{b['api_ms'][1]:.1f} = {api_total:.1f} ms | {shown} |"
            )


if __name__ == "__main__":
    main()
