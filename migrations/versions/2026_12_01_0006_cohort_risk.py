"""Cohort risk analytics: risk flags and interventions projected from their reserved events.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

Both tables are projections (like ``pair_items``): ingest and ``orgpulse metrics rebuild`` fill
them from the same statement, so they hold no fact that is not in ``events``. Rows may exist
before the event that creates them (a ``Risk Resolved`` ahead of its ``Risk Flagged``, an
``Intervention Outcome`` ahead of its ``Intervention Logged``): every column is merged with an
order-independent rule, so any arrival order ends in the same row. Students are kept by their
external user id, not a member id, because a flag may name a student before their ``identify``.
"""

from alembic import context, op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

NEW_TENANT_TABLES = ["risk_flags", "interventions"]
EITHER = (
    "((SELECT orgpulse_all_orgs()) OR "
    "org_id = ANY (CAST((SELECT orgpulse_org_ids()) AS bigint[])))"
)

SCHEMA = r"""
-- One row per flag_id. flagged_at: the first "Risk Flagged"; the details (student, level,
-- confidence, course, program) come from the latest one (detail_at, ties by message id), so a
-- re-sent flag with a new level updates it. resolved_at: the first "Risk Resolved".
CREATE TABLE risk_flags (
    org_id            bigint NOT NULL,
    flag_id           text NOT NULL,
    student_user_id   text,
    level             text CHECK (level IN ('low', 'moderate', 'high', 'critical')),
    confidence        numeric CHECK (confidence BETWEEN 0 AND 1),
    course            text,
    program           text,
    flagged_at        timestamptz,
    detail_at         timestamptz,
    detail_message_id text,
    resolved_at       timestamptz,
    PRIMARY KEY (org_id, flag_id)
);
CREATE INDEX risk_flags_flagged_idx ON risk_flags (org_id, flagged_at);
CREATE INDEX risk_flags_student_idx ON risk_flags (org_id, student_user_id);

-- One row per intervention_id. The first "Intervention Logged" gives logged_at, flag_id,
-- student and kind; the latest "Intervention Outcome" (ties by message id) gives the outcome.
CREATE TABLE interventions (
    org_id             bigint NOT NULL,
    intervention_id    text NOT NULL,
    flag_id            text,
    student_user_id    text,
    kind               text,
    logged_at          timestamptz,
    logged_message_id  text,
    outcome            text CHECK (outcome IN ('improved', 'no_change', 'worsened', 'pending')),
    outcome_at         timestamptz,
    outcome_message_id text,
    PRIMARY KEY (org_id, intervention_id)
);
CREATE INDEX interventions_flag_idx ON interventions (org_id, flag_id);
CREATE INDEX interventions_logged_idx ON interventions (org_id, logged_at);
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
    op.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON {", ".join(NEW_TENANT_TABLES)} TO "{role}"')
    # Events stored before this revision are projected by `orgpulse metrics rebuild`.


def downgrade() -> None:
    op.execute("DROP TABLE interventions, risk_flags")
