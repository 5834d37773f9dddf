"""The tenancy facts of the schema, shared by the catalog lints (tests/core/test_schema.py) and
the checks made from the app role's own session (tests/security/test_database_controls.py)."""

from __future__ import annotations

from sqlalchemy import Connection, text

# The tenant tables, written out here (not imported from the migration) so that adding or
# dropping one is a deliberate change to this list.
TENANT_TABLES = frozenset(
    {
        "orgs",
        "units",
        "members",
        "memberships",
        "events",
        "event_dedup",
        "rollup_daily_events",
        "rollup_member_days",
        "rollup_state",
        "rollup_member_events",
        "pair_items",
        "funnel_progress",
        "health_snapshots",
        "hr_submissions",
        "baa_acceptances",
        "risk_flags",
        "interventions",
        "rollout_settings",
        "checklist_items",
        "onboarding_steps",
        "banner_episodes",
        "banner_dismissals",
        "support_requests",
        "support_request_events",
        "action_items",
    }
)
# Platform tables that carry an org id as plain data but are not tenant tables: the audit log
# (platform-wide, append-only; org_id is nullable), the routing directory (opaque ids only, read
# before a tenant context exists), security and operational alerts (NULL org for platform alerts)
# and report subscriptions (re-checked against the recipient's access at send time). In a Citus
# cluster they are reference/local tables.
PLATFORM_TABLES_WITH_ORG_ID = frozenset(
    {
        "audit_records",
        "directory_groups",
        "directory_members",
        "api_tokens",
        "security_alerts",
        "alerts",
        "report_subscriptions",
    }
)



def isolation_violations(conn: Connection, app_role: str) -> list[str]:
    """Return views/functions that could side-step row-level security for the app role.

    * a view is checked with its *owner's* rights unless it has ``security_invoker=true``, so a
      view without it over a tenant table would bypass RLS; materialized views never apply RLS at
      read time, so the app role may not read any;
    * a SECURITY DEFINER function runs as its owner (who may bypass RLS); the app role must not
      be able to execute any.
    """
    problems = [
        f"view {r[0]} lacks security_invoker=true"
        for r in conn.execute(
            text(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relkind = 'v'"
                "  AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
                "  AND n.nspname NOT LIKE 'pg_toast%'"
                "  AND NOT COALESCE('security_invoker=true' = ANY(c.reloptions), false)"
                "  AND NOT COALESCE('security_invoker=on' = ANY(c.reloptions), false)"
                "  AND NOT COALESCE('security_invoker=1' = ANY(c.reloptions), false)"
            )
        )
    ]
    problems += [
        f"materialized view {r[0]} is readable by {app_role}"
        for r in conn.execute(
            text(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relkind = 'm' AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
                "  AND has_table_privilege(:role, c.oid, 'SELECT')"
            ),
            {"role": app_role},
        )
    ]
    problems += [
        f"SECURITY DEFINER function {r[0]} is executable by {app_role}"
        for r in conn.execute(
            text(
                "SELECT p.oid::regprocedure::text FROM pg_proc p"
                " JOIN pg_namespace n ON n.oid = p.pronamespace"
                " WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
                "  AND has_function_privilege(:role, p.oid, 'EXECUTE')"
            ),
            {"role": app_role},
        )
    ]
    return problems
