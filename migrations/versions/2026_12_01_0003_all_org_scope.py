"""All-org staff scope: one transaction-local flag instead of every org id in the context.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

Why: a staff transaction listing all orgs made every row check ``org_id = ANY(<all ids>)``, a
linear search per row (PostgreSQL hashes such arrays only when they are constants), and the
planner estimated the org set at a handful of rows, so staff views over many orgs got
nested-loop plans (docs/benchmarks.md). The flag admits every org, exactly what the full list
admitted; without it (or without any context) the policy still admits nothing.
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TENANT_TABLES = [
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
]

LISTED = "org_id = ANY (CAST((SELECT orgpulse_org_ids()) AS bigint[]))"
# The flag first, so an all-org transaction never evaluates the (empty) list.
EITHER = f"((SELECT orgpulse_all_orgs()) OR {LISTED})"


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION orgpulse_all_orgs() RETURNS boolean
            LANGUAGE sql STABLE PARALLEL SAFE
            AS $$ SELECT COALESCE(current_setting('orgpulse.all_orgs', true) = 'on', false) $$
        """
    )
    for table in TENANT_TABLES:
        op.execute(f"ALTER POLICY tenant_isolation ON {table} USING {EITHER} WITH CHECK {EITHER}")


def downgrade() -> None:
    for table in TENANT_TABLES:
        op.execute(
            f"ALTER POLICY tenant_isolation ON {table} USING ({LISTED}) WITH CHECK ({LISTED})"
        )
    op.execute("DROP FUNCTION orgpulse_all_orgs()")
