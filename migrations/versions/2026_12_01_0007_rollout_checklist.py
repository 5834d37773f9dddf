"""Rollout mode, deployment checklist and onboarding wizard progress, per org.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

Rows hold what people decided (a mode, a checklist status, a wizard step started or completed);
what the system can see by itself (a roster sync, a first assignment, a month-1 snapshot) is not
copied here but derived on every read from events and snapshots (``ops/checklist.py``), so a
stored status can never disagree with the data. A missing checklist row means "not started".
"""

from alembic import context, op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

NEW_TENANT_TABLES = ["rollout_settings", "checklist_items", "onboarding_steps"]
EITHER = (
    "((SELECT orgpulse_all_orgs()) OR "
    "org_id = ANY (CAST((SELECT orgpulse_org_ids()) AS bigint[])))"
)

SCHEMA = r"""
-- One row per org once a mode was chosen. launch_date starts the month-1 and month-3 checks.
CREATE TABLE rollout_settings (
    org_id            bigint NOT NULL REFERENCES orgs (org_id) ON DELETE CASCADE,
    mode              text NOT NULL CHECK (mode IN ('pilot', 'phased', 'full')),
    pilot_unit_ids    bigint[] NOT NULL DEFAULT '{}',
    pilot_member_ids  bigint[] NOT NULL DEFAULT '{}',
    launch_date       date NOT NULL,
    updated_by        bigint,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id)
);

CREATE TABLE checklist_items (
    org_id         bigint NOT NULL REFERENCES orgs (org_id) ON DELETE CASCADE,
    item_key       text NOT NULL,
    status         text NOT NULL
                   CHECK (status IN ('not_started', 'in_progress', 'complete', 'blocked')),
    blocked_reason text,
    updated_by     bigint,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, item_key),
    CHECK ((status = 'blocked') = (coalesce(btrim(blocked_reason), '') <> ''))
);

CREATE TABLE onboarding_steps (
    org_id        bigint NOT NULL REFERENCES orgs (org_id) ON DELETE CASCADE,
    step_key      text NOT NULL,
    started_by    bigint,
    started_at    timestamptz,
    completed_by  bigint,
    completed_at  timestamptz,
    skipped       boolean NOT NULL DEFAULT false,
    PRIMARY KEY (org_id, step_key)
);
"""


def upgrade() -> None:
    role = context.config.attributes["app_role"]
    op.execute(SCHEMA)
    for table in NEW_TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} USING {EITHER} WITH CHECK {EITHER}"
        )
    # No DELETE: a status goes back to "not started" by an update; the history is the audit log.
    op.execute(f'GRANT SELECT, INSERT, UPDATE ON {", ".join(NEW_TENANT_TABLES)} TO "{role}"')


def downgrade() -> None:
    op.execute("DROP TABLE onboarding_steps, checklist_items, rollout_settings")
