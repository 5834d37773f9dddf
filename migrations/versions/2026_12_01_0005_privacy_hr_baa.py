"""Privacy modes, HR aggregates, BAA acceptances, org-scoped API tokens and security alerts.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

* ``orgs.privacy_mode`` / ``orgs.min_cohort_size``: an org in ``aggregate_only`` mode is shown to
  every viewer through the suppressed aggregate view only; ``min_cohort_size`` is its k, which the
  database itself refuses to set below the product floor of 10.
* ``hr_submissions``: pre-aggregated HR metrics per calendar quarter. A resubmission for the same
  quarter adds a new version and marks the old one superseded; nothing is ever deleted (the app
  role has no DELETE), so every version stays for the audit trail.
* ``baa_acceptances``: who accepted which BAA version for which org, when and from where.
* ``api_tokens.org_id``: a token limited to one org (the HR submitter's token), NULL = the user's
  full reach.
* ``security_alerts``: signals for platform admins (repeated suppressed-cohort access, unusual
  export volume, BAA failures). A platform table: it spans orgs and only platform admins read it.
"""

from alembic import context, op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

NEW_TENANT_TABLES = ["hr_submissions", "baa_acceptances"]
EITHER = (
    "((SELECT orgpulse_all_orgs()) OR "
    "org_id = ANY (CAST((SELECT orgpulse_org_ids()) AS bigint[])))"
)

SCHEMA = r"""
ALTER TABLE orgs
    ADD COLUMN privacy_mode text NOT NULL DEFAULT 'standard'
        CHECK (privacy_mode IN ('standard', 'aggregate_only')),
    ADD COLUMN min_cohort_size integer NOT NULL DEFAULT 10 CHECK (min_cohort_size >= 10);

-- Plain data, no foreign key: a platform table may not point into a tenant table (Citus rule,
-- tests/core/test_schema.py); a token of a deleted org matches no org and opens nothing.
ALTER TABLE api_tokens ADD COLUMN org_id bigint;

CREATE TABLE hr_submissions (
    org_id          bigint NOT NULL REFERENCES orgs (org_id) ON DELETE CASCADE,
    submission_id   bigint GENERATED ALWAYS AS IDENTITY,
    period_start    date NOT NULL,
    period_end      date NOT NULL CHECK (period_end >= period_start),
    version         integer NOT NULL CHECK (version >= 1),
    submission_date date,
    metrics         jsonb NOT NULL,
    submitted_by    bigint REFERENCES users (user_id) ON DELETE SET NULL,
    submitted_at    timestamptz NOT NULL DEFAULT now(),
    superseded_at   timestamptz,
    PRIMARY KEY (org_id, submission_id),
    UNIQUE (org_id, period_start, version)
);
-- At most one current submission per org and quarter.
CREATE UNIQUE INDEX hr_submissions_current_idx ON hr_submissions (org_id, period_start)
    WHERE superseded_at IS NULL;

CREATE TABLE baa_acceptances (
    org_id      bigint NOT NULL REFERENCES orgs (org_id) ON DELETE CASCADE,
    user_id     bigint NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    version     text NOT NULL,
    accepted_at timestamptz NOT NULL DEFAULT now(),
    ip          text,
    PRIMARY KEY (org_id, user_id, version)
);

CREATE TABLE security_alerts (
    alert_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            text NOT NULL
        CHECK (kind IN ('suppressed_cohort_access', 'export_volume', 'baa_failure')),
    org_id          bigint,
    user_id         bigint,
    raised_at       timestamptz NOT NULL DEFAULT now(),
    details         jsonb NOT NULL DEFAULT '{}'::jsonb,
    acknowledged_at timestamptz,
    acknowledged_by bigint
);
CREATE INDEX security_alerts_raised_idx ON security_alerts (raised_at DESC);
CREATE INDEX security_alerts_open_idx ON security_alerts (kind, user_id, org_id, raised_at)
    WHERE acknowledged_at IS NULL;
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
    # HR submissions are superseded (UPDATE of superseded_at), never deleted; BAA acceptances are
    # facts: insert and read only.
    op.execute(f'GRANT SELECT, INSERT, UPDATE ON hr_submissions TO "{role}"')
    op.execute(f'GRANT SELECT, INSERT ON baa_acceptances TO "{role}"')
    op.execute(f'GRANT SELECT, INSERT, UPDATE ON security_alerts TO "{role}"')
    op.execute(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"')


def downgrade() -> None:
    op.execute("DROP TABLE security_alerts, baa_acceptances, hr_submissions")
    op.execute("ALTER TABLE api_tokens DROP COLUMN org_id")
    op.execute("ALTER TABLE orgs DROP COLUMN min_cohort_size, DROP COLUMN privacy_mode")
