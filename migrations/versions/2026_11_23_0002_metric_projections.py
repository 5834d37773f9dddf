"""Metric projections: per-member event days, paired items, funnel progress, health snapshots.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from alembic import context, op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ["rollup_member_events", "pair_items", "funnel_progress", "health_snapshots"]

SCHEMA = r"""
-- Per member, per org-local day, per event name: distinct actors and per-person counts.
CREATE TABLE rollup_member_events (
    org_id    bigint NOT NULL,
    day       date NOT NULL,
    member_id bigint NOT NULL,
    name      text NOT NULL,
    unit_id   bigint NOT NULL,
    events    bigint NOT NULL,
    PRIMARY KEY (org_id, day, member_id, name)
);
CREATE INDEX rollup_member_events_member_idx ON rollup_member_events (org_id, member_id, name);

-- An "open" event and the "close" event with the same key (catalog [pairs]).
CREATE TABLE pair_items (
    org_id           bigint NOT NULL,
    pair             text NOT NULL,
    item_key         text NOT NULL,
    opened_at        timestamptz,
    closed_at        timestamptz,
    opener_member_id bigint,
    closer_member_id bigint,
    unit_id          bigint NOT NULL DEFAULT 0,
    ref_key          text,
    PRIMARY KEY (org_id, pair, item_key)
);
CREATE INDEX pair_items_opened_idx ON pair_items (org_id, pair, opened_at);

-- A member's furthest step in one subject of a funnel (catalog [funnels]).
CREATE TABLE funnel_progress (
    org_id       bigint NOT NULL,
    funnel       text NOT NULL,
    subject_key  text NOT NULL,
    member_id    bigint NOT NULL,
    started_at   timestamptz,
    total_steps  integer,
    max_step     integer,
    last_step_at timestamptz,
    unit_id      bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, funnel, subject_key, member_id)
);
CREATE INDEX funnel_progress_started_idx ON funnel_progress (org_id, funnel, started_at);

-- Daily health score per org (unit_id 0) and per unit, for trends and the portfolio.
CREATE TABLE health_snapshots (
    org_id      bigint NOT NULL,
    day         date NOT NULL,
    unit_id     bigint NOT NULL,
    score       numeric(5, 1),
    status      text NOT NULL,
    profile     text NOT NULL,
    components  jsonb NOT NULL,
    computed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, unit_id, day)
);
"""


def upgrade() -> None:
    role = context.config.attributes["app_role"]
    op.execute(SCHEMA)
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} "
            "USING (org_id = ANY (CAST((SELECT orgpulse_org_ids()) AS bigint[]))) "
            "WITH CHECK (org_id = ANY (CAST((SELECT orgpulse_org_ids()) AS bigint[])))"
        )
    op.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON {", ".join(TABLES)} TO "{role}"')
    # Backfill the per-member rollup from stored events (all orgs: the owner sets the context,
    # since forced RLS applies to the owner too).
    op.execute(
        "SELECT set_config('orgpulse.org_ids', COALESCE((SELECT string_agg(org_id::text, ',')"
        " FROM directory_groups WHERE unit_id IS NULL), ''), true)"
    )
    op.execute(
        "INSERT INTO rollup_member_events (org_id, day, member_id, name, unit_id, events)"
        " SELECT e.org_id, CAST(timezone(o.timezone, e.event_time) AS date), e.member_id,"
        "  e.name, max(COALESCE(e.unit_id, 0)), count(*)"
        " FROM events e JOIN orgs o ON o.org_id = e.org_id WHERE e.member_id IS NOT NULL"
        " GROUP BY 1, 2, 3, 4"
    )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.execute(f"DROP TABLE {table}")
