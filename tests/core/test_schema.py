"""The database enforces tenancy on its own: catalog lints plus behaviour under the app role.

Everything here reads the real catalog of the migrated test database (owner engine) or runs raw
SQL as the non-owner app role, so a migration that weakens isolation fails a test here even when
no application code path notices.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg.errors
import pytest
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from factories import Factory
from orgpulse.auth import Role
from orgpulse.core.config import Settings
from orgpulse.core.db import app_url
from orgpulse.core.errors import MissingTenantContext
from orgpulse.core.tenancy import TenantScope, apply_scope, require_org, scope_of, scoped, unscoped
from tenancy_catalog import PLATFORM_TABLES_WITH_ORG_ID, TENANT_TABLES, isolation_violations


# ---------------------------------------------------------------------------------- catalog helpers
def _tables_with_org_id(conn: Connection) -> dict[str, dict[str, Any]]:
    """Every ordinary/partitioned table in ``public`` with an ``org_id`` column."""
    rows = conn.execute(
        text(
            "SELECT c.oid, c.relname, c.relkind, c.relispartition, a.attnum,"
            "       c.relrowsecurity, c.relforcerowsecurity,"
            "       (SELECT p.relname FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent"
            "         WHERE i.inhrelid = c.oid) AS parent"
            " FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'"
            " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'org_id'"
            "  AND NOT a.attisdropped"
            " WHERE c.relkind IN ('r', 'p')"
        )
    )
    return {
        r.relname: {
            "oid": r.oid,
            "kind": r.relkind,
            "is_partition": r.relispartition,
            "org_attnum": r.attnum,
            "rls": r.relrowsecurity,
            "force": r.relforcerowsecurity,
            "parent": r.parent,
        }
        for r in rows
    }


def _event_partitions(conn: Connection) -> set[str]:
    return set(
        conn.execute(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'events'"
            )
        ).scalars()
    )


def citus_violations(conn: Connection) -> list[str]:
    """Return every Citus-readiness violation of the tenant tables (empty list: compliant).

    Rule, with T = the tenant tables (``org_id`` column, minus the declared platform tables) and
    their partitions:

    * every table in T has a primary key, and the primary key contains ``org_id``;
    * every unique index in T (whether it backs a PRIMARY KEY/UNIQUE constraint or is a bare
      ``CREATE UNIQUE INDEX``) contains ``org_id`` as a plain key column;
    * every foreign key *from* a table in T to another table in T contains ``org_id`` and maps it
      onto the referenced table's ``org_id`` (co-located join);
    * a foreign key from a table in T to a non-tenant table (``memberships.user_id → users``) is
      allowed: in Citus the referenced table becomes a reference table, replicated everywhere;
    * no foreign key from a non-tenant table references a table in T (a reference table cannot
      point into a distributed table).
    """
    tables = _tables_with_org_id(conn)
    tenant = {name: t for name, t in tables.items() if name not in PLATFORM_TABLES_WITH_ORG_ID}
    by_oid = {t["oid"]: name for name, t in tenant.items()}
    problems: list[str] = []

    pk_tables = {
        r[0]
        for r in conn.execute(text("SELECT conrelid FROM pg_constraint WHERE contype = 'p'"))
    }
    for name, t in sorted(tenant.items()):
        if t["oid"] not in pk_tables:
            problems.append(f"{name}: no primary key")

    for r in conn.execute(
        text(
            "SELECT i.indrelid, ic.relname AS index, i.indisprimary,"
            "       CAST(i.indkey AS int2[]) AS keys, i.indnkeyatts"
            " FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid"
            " WHERE i.indisunique AND i.indrelid = ANY(:oids)"
        ),
        {"oids": list(by_oid)},
    ):
        table = by_oid[r.indrelid]
        key_columns = list(r.keys)[: r.indnkeyatts]
        if tenant[table]["org_attnum"] not in key_columns:
            kind = "primary key" if r.indisprimary else "unique index"
            problems.append(f"{table}: {kind} {r.index} does not include org_id")

    for r in conn.execute(
        text(
            "SELECT con.conname, con.conrelid, con.confrelid, con.conkey, con.confkey,"
            "       src.relname AS src, dst.relname AS dst"
            " FROM pg_constraint con"
            " JOIN pg_class src ON src.oid = con.conrelid"
            " JOIN pg_class dst ON dst.oid = con.confrelid"
            " JOIN pg_namespace n ON n.oid = src.relnamespace AND n.nspname = 'public'"
            " WHERE con.contype = 'f'"
        )
    ):
        src_tenant, dst_tenant = r.conrelid in by_oid, r.confrelid in by_oid
        if not src_tenant and dst_tenant:
            problems.append(f"{r.src}: non-tenant table has foreign key {r.conname} into {r.dst}")
        elif src_tenant and dst_tenant:
            pairs = dict(zip(r.conkey, r.confkey, strict=True))
            src_org, dst_org = tenant[r.src]["org_attnum"], tenant[r.dst]["org_attnum"]
            if pairs.get(src_org) != dst_org:
                problems.append(
                    f"{r.src}: foreign key {r.conname} to tenant table {r.dst} does not map "
                    "org_id to org_id"
                )
    return problems


# ---------------------------------------------------------------------------------- (a) Citus lint
def test_tables_with_org_id_are_exactly_the_tenant_tables_and_their_partitions(
    owner: Engine,
) -> None:
    with owner.connect() as conn:
        tables = _tables_with_org_id(conn)
        partitions = _event_partitions(conn)
    assert partitions, "the migration creates monthly events partitions"
    assert all(tables[p]["parent"] == "events" for p in partitions)
    assert set(tables) == TENANT_TABLES | PLATFORM_TABLES_WITH_ORG_ID | partitions
    assert {n for n, t in tables.items() if t["kind"] == "p"} == {"events"}


def test_tenant_tables_are_citus_ready(owner: Engine) -> None:
    with owner.connect() as conn:
        assert citus_violations(conn) == []


def test_citus_lint_catches_violations(owner: Engine) -> None:
    """The lint is not vacuous: each kind of violation is reported (DDL rolled back)."""
    with owner.connect() as conn, conn.begin() as tx:
        conn.execute(text("CREATE TABLE lint_no_pk (org_id bigint NOT NULL, x int)"))
        conn.execute(text("CREATE TABLE lint_pk (org_id bigint, x int PRIMARY KEY)"))
        conn.execute(text("CREATE UNIQUE INDEX lint_uniq ON members (external_user_id)"))
        conn.execute(
            text(
                "CREATE TABLE lint_fk (org_id bigint, unit_id bigint,"
                " PRIMARY KEY (org_id, unit_id),"
                " CONSTRAINT lint_fk_units FOREIGN KEY (unit_id, org_id)"
                "  REFERENCES units (org_id, unit_id))"
            )
        )
        conn.execute(
            text(
                "CREATE TABLE lint_ref (id int PRIMARY KEY,"
                " CONSTRAINT lint_ref_orgs FOREIGN KEY (id) REFERENCES orgs (org_id))"
            )
        )
        problems = citus_violations(conn)
        tx.rollback()
    assert sorted(problems) == sorted(
        [
            "lint_no_pk: no primary key",
            "lint_pk: primary key lint_pk_pkey does not include org_id",
            "members: unique index lint_uniq does not include org_id",
            "lint_fk: foreign key lint_fk_units to tenant table units does not map org_id"
            " to org_id",
            "lint_ref: non-tenant table has foreign key lint_ref_orgs into orgs",
        ]
    )


# ---------------------------------------------------------------------------------- (b) RLS on
def test_every_tenant_table_and_partition_forces_rls(owner: Engine, settings: Settings) -> None:
    with owner.connect() as conn:
        tables = _tables_with_org_id(conn)
        partitions = _event_partitions(conn)
        policies: dict[str, list[tuple[str, str, str | None, str | None]]] = {}
        for r in conn.execute(
            text("SELECT tablename, policyname, cmd, qual, with_check FROM pg_policies"
                 " WHERE schemaname = 'public'")
        ):
            policies.setdefault(r.tablename, []).append((r.policyname, r.cmd, r.qual, r.with_check))
        rls_tables = set(
            conn.execute(
                text(
                    "SELECT c.relname FROM pg_class c JOIN pg_namespace n"
                    " ON n.oid = c.relnamespace AND n.nspname = 'public' WHERE c.relrowsecurity"
                )
            ).scalars()
        )
        partition_grants = conn.execute(
            text(
                "SELECT count(*) FROM unnest(CAST(:names AS text[])) AS p(name)"
                " WHERE has_table_privilege(:role, CAST(p.name AS regclass),"
                "  'SELECT, INSERT, UPDATE, DELETE')"
            ),
            {"names": sorted(partitions), "role": settings.app_db_role},
        ).scalar_one()

    for name in sorted(TENANT_TABLES | partitions):
        assert tables[name]["rls"] is True, f"{name}: row level security not enabled"
        assert tables[name]["force"] is True, f"{name}: row level security not forced"
    # Only tenant tables (and partitions) carry RLS; platform tables are protected by grants.
    assert rls_tables == TENANT_TABLES | partitions

    for name in sorted(TENANT_TABLES):
        by_name = {p[0]: p for p in policies.get(name, [])}
        assert "tenant_isolation" in by_name, f"{name}: no tenant_isolation policy"
        _, cmd, qual, with_check = by_name["tenant_isolation"]
        assert cmd == "ALL"
        for expr in (qual, with_check):
            assert expr is not None and "org_id" in expr and "orgpulse_org_ids()" in expr
            assert "orgpulse_all_orgs()" in expr
    assert set(policies) == TENANT_TABLES  # no partition or platform table has a policy
    assert {p[0] for p in policies["memberships"]} == {"tenant_isolation", "own_memberships"}
    own = next(p for p in policies["memberships"] if p[0] == "own_memberships")
    assert own[1] == "SELECT" and own[3] is None  # read-only: nobody writes through it

    # Partitions are reached through ``events`` (whose policy applies); on their own they are
    # deny-all twice over: RLS forced with no policy, and no privilege for the app role.
    assert partition_grants == 0


def test_app_role_cannot_read_a_partition_directly(
    engine: Engine, owner: Engine, factory: Factory
) -> None:
    org = factory.org("acme", "Acme")
    factory.send([{"type": "track", "userId": "u1", "event": "Login",
                   "context": {"groupId": "acme"}}])
    with owner.connect() as conn:
        partition = conn.execute(
            text("SELECT tableoid::regclass::text FROM events"
                 " WHERE org_id = :o AND name = 'Login'"),
            {"o": org},
        ).scalar_one()
    with pytest.raises(DBAPIError) as excinfo, scoped(engine, TenantScope.of([org])) as conn:
        conn.execute(text(f"SELECT count(*) FROM {partition}"))  # noqa: S608 (catalog name)
    assert isinstance(excinfo.value.orig, psycopg.errors.InsufficientPrivilege)


# ---------------------------------------------------------------------------------- (c) app role
def test_app_role_is_unprivileged_and_owns_nothing(owner: Engine, settings: Settings) -> None:
    with owner.connect() as conn:
        role = conn.execute(
            text(
                "SELECT oid, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb"
                " FROM pg_roles WHERE rolname = :r"
            ),
            {"r": settings.app_db_role},
        ).one()
        owned_relations = conn.execute(
            text("SELECT relname FROM pg_class WHERE relowner = :o"), {"o": role.oid}
        ).scalars().all()
        owned_functions = conn.execute(
            text("SELECT proname FROM pg_proc WHERE proowner = :o"), {"o": role.oid}
        ).scalars().all()
        owned_schemas = conn.execute(
            text("SELECT nspname FROM pg_namespace WHERE nspowner = :o"), {"o": role.oid}
        ).scalars().all()
        member_of = conn.execute(
            text(
                "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid"
                " WHERE m.member = :o"
            ),
            {"o": role.oid},
        ).scalars().all()
        tenant_owners = conn.execute(
            text(
                "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class"
                " WHERE relname = ANY(:t) AND relnamespace = 'public'::regnamespace"
            ),
            {"t": sorted(TENANT_TABLES)},
        ).scalars().all()
    assert role.rolsuper is False
    assert role.rolbypassrls is False
    assert role.rolcreaterole is False
    assert role.rolcreatedb is False
    assert owned_relations == []
    assert owned_functions == []
    assert owned_schemas == []
    assert member_of == []  # inherits nothing (e.g. the owner role)
    assert settings.app_db_role not in tenant_owners


def test_app_role_cannot_switch_row_security_off(engine: Engine, factory: Factory) -> None:
    factory.org("acme", "Acme")
    with pytest.raises(DBAPIError) as excinfo, unscoped(engine) as conn:
        conn.execute(text("SET LOCAL row_security = off"))
        conn.execute(text("SELECT count(*) FROM orgs"))
    assert isinstance(excinfo.value.orig, psycopg.errors.InsufficientPrivilege)


# ---------------------------------------------------------------------------------- (d) bypasses
def test_no_view_or_security_definer_function_bypasses_rls(
    owner: Engine, settings: Settings
) -> None:
    with owner.connect() as conn:
        assert isolation_violations(conn, settings.app_db_role) == []


def test_isolation_lint_catches_bypasses(owner: Engine, settings: Settings) -> None:
    with owner.connect() as conn, conn.begin() as tx:
        conn.execute(text("CREATE VIEW lint_plain_view AS SELECT org_id, name FROM orgs"))
        conn.execute(
            text(
                "CREATE VIEW lint_invoker_view WITH (security_invoker = true)"
                " AS SELECT org_id, name FROM orgs"
            )
        )
        conn.execute(
            text(
                "CREATE FUNCTION lint_definer() RETURNS bigint LANGUAGE sql SECURITY DEFINER"
                " AS 'SELECT count(*) FROM orgs'"
            )
        )
        conn.execute(
            text(
                "CREATE FUNCTION lint_definer_revoked() RETURNS bigint LANGUAGE sql"
                " SECURITY DEFINER AS 'SELECT count(*) FROM orgs'"
            )
        )
        conn.execute(text("REVOKE EXECUTE ON FUNCTION lint_definer_revoked() FROM PUBLIC"))
        conn.execute(text("CREATE MATERIALIZED VIEW lint_matview AS SELECT org_id FROM orgs"))
        conn.execute(text(f'GRANT SELECT ON lint_matview TO "{settings.app_db_role}"'))
        problems = isolation_violations(conn, settings.app_db_role)
        tx.rollback()
    assert sorted(problems) == sorted(
        [
            "view lint_plain_view lacks security_invoker=true",
            f"materialized view lint_matview is readable by {settings.app_db_role}",
            f"SECURITY DEFINER function lint_definer() is executable by {settings.app_db_role}",
        ]
    )


# ---------------------------------------------------------------------------------- shared data
@pytest.fixture
def two_orgs(factory: Factory) -> tuple[int, int]:
    """Two orgs with a row in every tenant table: orgs, units, members, memberships, events,
    event_dedup and all three rollups."""
    ids = []
    for ext, name in (("acme", "Acme"), ("globex", "Globex")):
        org = factory.org(ext, name, units=("north",))
        result = factory.send(
            [
                {"type": "identify", "userId": f"{ext}-u1", "traits": {"unit": f"{ext}-north"},
                 "context": {"groupId": f"{ext}-north"}},
                {"type": "track", "userId": f"{ext}-u2", "event": "Login",
                 "context": {"groupId": ext}},
            ]
        )
        assert result.accepted == 2 and not result.rejections
        factory.send([{"type": "track", "userId": f"{ext}-u1", "event": "Lesson Started"}])
        # One catalog pair (scoring) and one funnel (courses) item.
        factory.send(
            [
                {"type": "track", "userId": f"{ext}-u2", "event": "Submission Created",
                 "properties": {"submission_id": "s1"}},
                {"type": "track", "userId": f"{ext}-u1", "event": "Submission Scored",
                 "properties": {"submission_id": "s1"}},
                {"type": "track", "userId": f"{ext}-u1", "event": "Course Enrolled",
                 "properties": {"course_id": "c1", "lessons": 3}},
                {"type": "track", "userId": f"{ext}-u1", "event": "Lesson Completed",
                 "properties": {"course_id": "c1", "lesson": 1}},
                # One risk flag (u1, the student) and one intervention on it.
                {"type": "track", "userId": f"{ext}-u1", "event": "Risk Flagged",
                 "properties": {"flag_id": "f1", "level": "high", "confidence": 0.8}},
                {"type": "track", "userId": f"{ext}-u2", "event": "Intervention Logged",
                 "properties": {"intervention_id": "i1", "flag_id": "f1"}},
            ]
        )
        with scoped(factory.engine, TenantScope.of([org])) as conn:
            conn.execute(
                text(
                    "INSERT INTO health_snapshots (org_id, day, unit_id, score, status, profile,"
                    " components) VALUES (:o, current_date, 0, 50, 'scored', 'default', '[]')"
                ),
                {"o": org},
            )
            conn.execute(
                text(
                    "INSERT INTO hr_submissions (org_id, period_start, period_end, version,"
                    " metrics) VALUES (:o, '2026-07-01', '2026-09-30', 1, '{}')"
                ),
                {"o": org},
            )
            for statement in (
                "INSERT INTO rollout_settings (org_id, mode, launch_date)"
                " VALUES (:o, 'pilot', current_date)",
                "INSERT INTO checklist_items (org_id, item_key, status)"
                " VALUES (:o, 'tenant_setup', 'in_progress')",
                "INSERT INTO onboarding_steps (org_id, step_key, started_at)"
                " VALUES (:o, 'rollout_mode', now())",
            ):
                conn.execute(text(statement), {"o": org})
        factory.user(Role.ORG_ADMIN, org_id=org)
        with scoped(factory.engine, TenantScope.of([org])) as conn:
            conn.execute(
                text(
                    "INSERT INTO baa_acceptances (org_id, user_id, version)"
                    " SELECT :o, max(user_id), 'test' FROM users"
                ),
                {"o": org},
            )
            # A banner episode and its dismissal; a support request and its history entry.
            for statement in (
                "INSERT INTO banner_episodes (org_id, banner, started_at)"
                " VALUES (:o, 'stale_data', now())",
                "INSERT INTO banner_dismissals (org_id, user_id, banner, episode_at,"
                " dismissed_at) VALUES (:o, 1, 'stale_data', now(), now())",
                "INSERT INTO support_requests (org_id, request_id, tracking_id,"
                " requester_user_id, category, severity, description, created_at, updated_at)"
                " VALUES (:o, :o, 'SR-2026-00000' || :o, 1, 'other', 'low', 'x', now(), now())",
                "INSERT INTO support_request_events (org_id, request_id, at, kind, to_status)"
                " VALUES (:o, :o, now(), 'created', 'open')",
                # A follow-up action item owned by the org admin.
                "INSERT INTO action_items (org_id, title, owner_user_id, due_date, created_by,"
                " created_at, updated_at) SELECT :o, 'Call the principal', max(user_id),"
                " current_date, max(user_id), now(), now() FROM users",
            ):
                conn.execute(text(statement), {"o": org})
        ids.append(org)
    return ids[0], ids[1]


def _counts(conn: Connection) -> dict[str, dict[int, int]]:
    counts: dict[str, dict[int, int]] = {}
    for table in sorted(TENANT_TABLES):
        rows = conn.execute(
            text(f"SELECT org_id, count(*) FROM {table} GROUP BY org_id")  # noqa: S608
        ).all()
        counts[table] = {r[0]: r[1] for r in rows}
    return counts


# Rows per org that ``two_orgs`` creates: org + unit group calls, an identify, two tracks.
EXPECTED_PER_ORG = {
    "orgs": 1,
    "units": 1,
    "members": 2,
    "memberships": 1,
    "events": 11,
    "event_dedup": 11,
    "rollup_daily_events": 11,  # ($group, unit 0), ($group, north), ($identify, north),
    # (Login, unit 0), (Lesson Started, north), (Submission Created, unit 0), and north's
    # Submission Scored, Course Enrolled, Lesson Completed, Risk Flagged; u2's Intervention
    # Logged (unit 0): all on today
    "rollup_member_days": 2,
    "rollup_state": 1,
    # u1: $identify, Lesson Started, Submission Scored, Course Enrolled, Lesson Completed,
    # Risk Flagged; u2: Login, Submission Created, Intervention Logged
    "rollup_member_events": 9,
    "pair_items": 1,
    "funnel_progress": 1,
    "health_snapshots": 1,
    "hr_submissions": 1,
    "baa_acceptances": 1,
    "risk_flags": 1,
    "interventions": 1,
    "rollout_settings": 1,
    "checklist_items": 1,
    "onboarding_steps": 1,
    "banner_episodes": 1,
    "banner_dismissals": 1,
    "support_requests": 1,
    "support_request_events": 1,
    "action_items": 1,
}


# ---------------------------------------------------------------------------------- (e) no context
def test_without_tenant_context_every_tenant_table_reads_empty(
    engine: Engine, owner: Engine, two_orgs: tuple[int, int]
) -> None:
    a, b = two_orgs
    # The rows exist (read as the owner with both orgs in scope: works for a superuser owner and
    # for an owner subject to FORCE ROW LEVEL SECURITY alike).
    with scoped(owner, TenantScope.of([a, b])) as conn:
        assert _counts(conn) == {t: {a: n, b: n} for t, n in EXPECTED_PER_ORG.items()}

    with unscoped(engine) as conn:
        assert _counts(conn) == {t: {} for t in TENANT_TABLES}
        with pytest.raises(MissingTenantContext):
            scope_of(conn)
    # A bare transaction that never called set_config, and an explicitly empty scope.
    with engine.begin() as conn:
        assert _counts(conn) == {t: {} for t in TENANT_TABLES}
    with scoped(engine, TenantScope.of([])) as conn:
        assert _counts(conn) == {t: {} for t in TENANT_TABLES}
    # A user id alone opens only that user's own memberships, nothing else.
    with scoped(engine, TenantScope.of([])) as conn:
        uid = conn.execute(text("SELECT min(user_id) FROM users")).scalar_one()
        apply_scope(conn, TenantScope(frozenset(), uid))
        counts = _counts(conn)
    assert counts == {t: ({a: 1} if t == "memberships" else {}) for t in TENANT_TABLES}


# ---------------------------------------------------------------------------------- (f) other org
def test_raw_sql_in_org_a_context_cannot_see_or_write_org_b(
    engine: Engine, two_orgs: tuple[int, int]
) -> None:
    a, b = two_orgs
    tables = sorted(EXPECTED_PER_ORG)
    with scoped(engine, TenantScope.of([a])) as conn:
        for table in tables:
            sql = f"SELECT count(*) FROM {table} WHERE org_id = :o"  # noqa: S608
            assert conn.execute(text(sql), {"o": b}).scalar_one() == 0, table
            assert conn.execute(text(sql), {"o": a}).scalar_one() == EXPECTED_PER_ORG[table]
        # Writes aimed at B's rows touch nothing.
        assert conn.execute(text("UPDATE orgs SET name = 'pwned' WHERE org_id = :o"),
                            {"o": b}).rowcount == 0
        assert conn.execute(text("DELETE FROM members WHERE org_id = :o"), {"o": b}).rowcount == 0
        with pytest.raises(MissingTenantContext):
            require_org(conn, b)

    inserts = {
        "events": "INSERT INTO events (org_id, event_time, event_id, message_id, type, name,"
                  " received_at) VALUES (:o, now(), gen_random_uuid(), 'x', 'track', 'X', now())",
        "members": "INSERT INTO members (org_id, external_user_id) VALUES (:o, 'intruder')",
        "orgs": "INSERT INTO orgs (org_id, external_id, slug, name) VALUES (:o, 'e', 's', 'n')",
        "rollup_daily_events": "INSERT INTO rollup_daily_events VALUES (:o, current_date, 0,"
                               " 'X', 1)",
        "rollup_state": "INSERT INTO rollup_state VALUES (:o, now(), now(), now(), 1)",
        # Moving one of A's rows into B fails the WITH CHECK as well.
        "orgs (update)": "UPDATE orgs SET org_id = :o",
    }
    for label, sql in inserts.items():
        with pytest.raises(DBAPIError) as excinfo, scoped(engine, TenantScope.of([a])) as conn:
            conn.execute(text(sql), {"o": b})
        assert isinstance(excinfo.value.orig, psycopg.errors.InsufficientPrivilege), label
        assert "new row violates row-level security policy" in str(excinfo.value.orig), label

    # Nothing was written to B (checked in B's own context).
    with scoped(engine, TenantScope.of([b])) as conn:
        assert _counts(conn) == {t: {b: n} for t, n in EXPECTED_PER_ORG.items()}
        assert conn.execute(text("SELECT name FROM orgs")).scalar_one() == "Globex"


def test_all_org_scope_reads_every_org_and_nothing_else_sets_it(
    engine: Engine, owner: Engine, two_orgs: tuple[int, int], small_pool: Engine
) -> None:
    a, b = two_orgs
    # The all-org scope lists no ids in the database, only the flag, and sees both orgs' rows.
    with scoped(small_pool, TenantScope.all_orgs([a, b], user_id=None)) as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert conn.execute(
            text("SELECT current_setting('orgpulse.org_ids'), current_setting('orgpulse.all_orgs')")
        ).one() == ("", "on")
        assert _counts(conn) == {t: {a: n, b: n} for t, n in EXPECTED_PER_ORG.items()}
        # Python-side checks still hold to the listed orgs.
        require_org(conn, a)
        with pytest.raises(MissingTenantContext):
            require_org(conn, b + 1000)
    # The flag dies with the transaction, on the same physical connection too.
    with small_pool.connect() as c1, small_pool.connect() as c2:
        pids = set()
        for c in (c1, c2):
            pids.add(c.execute(text("SELECT pg_backend_pid()")).scalar_one())
            assert c.execute(
                text("SELECT COALESCE(current_setting('orgpulse.all_orgs', true), '')")
            ).scalar_one() == ""
            assert c.execute(text("SELECT count(*) FROM orgs")).scalar_one() == 0
    assert pid in pids
    # Only the literal 'on' opens everything; any other value admits nothing.
    for value in ("true", "1", "ON ", "yes"):
        with engine.begin() as conn:
            conn.execute(text("SELECT set_config('orgpulse.all_orgs', :v, true)"), {"v": value})
            assert _counts(conn) == {t: {} for t in TENANT_TABLES}, value
    # Ordinary scopes never set the flag.
    with scoped(engine, TenantScope.of([a])) as conn:
        assert conn.execute(text("SELECT current_setting('orgpulse.all_orgs')")).scalar_one() == ""
        assert _counts(conn) == {t: {a: n} for t, n in EXPECTED_PER_ORG.items()}


# ---------------------------------------------------------------------------------- (g) pooling
@pytest.fixture
def small_pool(settings: Settings) -> Iterator[Engine]:
    e = create_engine(app_url(settings), pool_size=2, max_overflow=0, pool_timeout=30)
    yield e
    e.dispose()


def test_tenant_setting_does_not_survive_the_transaction(
    small_pool: Engine, two_orgs: tuple[int, int]
) -> None:
    a, _ = two_orgs
    with scoped(small_pool, TenantScope.of([a])) as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert conn.execute(text("SELECT count(*) FROM events")).scalar_one() == 11
    # Hold one connection so the next checkout must be the same physical connection as before
    # (a pool of two, LIFO order would also hand it back; holding makes it certain).
    pids = set()
    with small_pool.connect() as c1, small_pool.connect() as c2:
        for c in (c1, c2):
            pids.add(c.execute(text("SELECT pg_backend_pid()")).scalar_one())
            assert c.execute(
                text("SELECT COALESCE(current_setting('orgpulse.org_ids', true), '')")
            ).scalar_one() == ""
            assert c.execute(text("SELECT count(*) FROM events")).scalar_one() == 0
            assert c.execute(text("SELECT count(*) FROM orgs")).scalar_one() == 0
    assert pid in pids


def test_python_scope_does_not_survive_the_transaction(
    small_pool: Engine, two_orgs: tuple[int, int]
) -> None:
    """The in-process guard (``scope_of``/``require_org``) forgets the scope with the transaction,
    like the database does, whichever way the scope was applied."""
    a, _ = two_orgs
    with unscoped(small_pool) as conn:
        apply_scope(conn, TenantScope.of([a]))
    with small_pool.connect() as conn:
        with conn.begin():
            apply_scope(conn, TenantScope.of([a]))
            assert scope_of(conn).org_ids == {a}
        with conn.begin():  # same connection, next transaction
            with pytest.raises(MissingTenantContext):
                scope_of(conn)
            assert conn.execute(text("SELECT count(*) FROM events")).scalar_one() == 0
        with conn.begin() as tx:
            apply_scope(conn, TenantScope.of([a]))
            tx.rollback()
        with conn.begin(), pytest.raises(MissingTenantContext):
            require_org(conn, a)
    for _ in range(2):  # every pooled connection is clean at checkout
        with small_pool.connect() as c1, small_pool.connect() as c2:
            for c in (c1, c2):
                with pytest.raises(MissingTenantContext):
                    scope_of(c)


def test_interleaved_scoped_transactions_see_only_their_org(
    small_pool: Engine, two_orgs: tuple[int, int]
) -> None:
    a, b = two_orgs
    with scoped(small_pool, TenantScope.of([a, b])) as conn:
        expected = {
            org: sorted(
                conn.execute(
                    text("SELECT message_id FROM events WHERE org_id = :o"), {"o": org}
                ).scalars()
            )
            for org in (a, b)
        }
    assert len(expected[a]) == len(expected[b]) == EXPECTED_PER_ORG["events"]
    assert not set(expected[a]) & set(expected[b])

    seen: list[tuple[int, set[int], list[str], set[int], str]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    rng = random.Random(42)
    plan = [(a if i % 2 == 0 else b, rng.random() * 0.02) for i in range(20)]
    start = threading.Barrier(len(plan))

    def worker(org: int, pause: float) -> None:
        try:
            start.wait()
            with scoped(small_pool, TenantScope.of([org])) as conn:
                setting = conn.execute(
                    text("SELECT current_setting('orgpulse.org_ids', true)")
                ).scalar_one()
                orgs_seen = set(conn.execute(text("SELECT org_id FROM orgs")).scalars())
                time.sleep(pause)  # hold the connection so others queue and interleave
                conn.execute(text("SELECT pg_sleep(:s)"), {"s": pause})
                messages = sorted(conn.execute(text("SELECT message_id FROM events")).scalars())
                members = set(conn.execute(text("SELECT org_id FROM members")).scalars())
            with lock:
                seen.append((org, orgs_seen, messages, members, setting))
        except BaseException as exc:  # surfaced below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=p) for p in plan]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(seen) == 20
    assert sorted(s[0] for s in seen) == sorted([a] * 10 + [b] * 10)
    for org, orgs_seen, messages, members, setting in seen:
        assert setting == str(org)
        assert orgs_seen == {org}
        assert messages == expected[org]
        assert members == {org}
    # Afterwards, every pooled connection is back to no context.
    with small_pool.connect() as c1, small_pool.connect() as c2:
        for c in (c1, c2):
            assert c.execute(text("SELECT count(*) FROM events")).scalar_one() == 0
