"""Foundation schema: directory, tenant tables with forced RLS, events, rollups, access, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from alembic import context, op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Tenant tables: org_id first, RLS enabled and forced, policy on the transaction-local setting.
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
]

SCHEMA = r"""
-- The allowed org set of the current transaction; NULL (no context) matches no row.
CREATE FUNCTION orgpulse_org_ids() RETURNS bigint[]
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT string_to_array(NULLIF(current_setting('orgpulse.org_ids', true), ''), ',')::bigint[] $$;

CREATE FUNCTION orgpulse_user_id() RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('orgpulse.user_id', true), '')::bigint $$;

-- ---------------------------------------------------------------- platform tables (no tenant)
CREATE TABLE users (
    user_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         text NOT NULL,
    display_name  text NOT NULL,
    password_hash text,
    staff_role    text CHECK (staff_role IN ('platform_admin', 'cs_leader', 'account_manager', 'support')),
    is_active     boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE web_sessions (
    token_hash    bytea PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    active_org_id bigint,
    user_agent    text,
    ip            text
);
CREATE INDEX web_sessions_user_idx ON web_sessions (user_id);

CREATE TABLE api_tokens (
    token_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    name         text NOT NULL,
    prefix       text NOT NULL,
    token_hash   bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);

CREATE TABLE write_keys (
    key_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL,
    prefix       text NOT NULL,
    key_hash     bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);

CREATE TABLE login_failures (
    failure_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email      text NOT NULL,
    ip         text NOT NULL,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_lookup_idx ON login_failures (lower(email), ip, at);

CREATE TABLE audit_records (
    audit_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    actor_user_id bigint,
    actor_kind    text NOT NULL,
    org_id        bigint,
    action        text NOT NULL,
    target        text,
    outcome       text NOT NULL DEFAULT 'ok',
    details       jsonb NOT NULL DEFAULT '{}'::jsonb,
    request_id    text,
    ip            text
);
CREATE INDEX audit_records_org_idx ON audit_records (org_id, at);
CREATE FUNCTION audit_records_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_records is append-only';
END $$;
CREATE TRIGGER audit_records_no_update BEFORE UPDATE OR DELETE ON audit_records
    FOR EACH ROW EXECUTE FUNCTION audit_records_append_only();

CREATE TABLE job_runs (
    run_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job         text NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    status      text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
    detail      text NOT NULL DEFAULT ''
);
CREATE INDEX job_runs_job_idx ON job_runs (job, started_at DESC);

-- Routing directory: opaque ids only (no names, traits or data), so ingestion can resolve a
-- Segment groupId/userId to its org before it opens the org's tenant context.
CREATE SEQUENCE org_id_seq;
CREATE TABLE directory_groups (
    external_id text PRIMARY KEY,
    org_id      bigint NOT NULL,
    unit_id     bigint,
    slug        text UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((unit_id IS NULL) = (slug IS NOT NULL))
);
CREATE INDEX directory_groups_org_idx ON directory_groups (org_id);

CREATE TABLE directory_members (
    external_user_id text PRIMARY KEY,
    org_id           bigint NOT NULL,
    member_id        bigint NOT NULL,
    associated_at    timestamptz NOT NULL
);

-- Accepted messages that no org can be found for yet; re-attributed when it becomes known.
CREATE TABLE unattributed_events (
    event_id          uuid PRIMARY KEY,
    received_at       timestamptz NOT NULL DEFAULT now(),
    external_user_id  text,
    group_external_id text,
    message_id        text NOT NULL UNIQUE,
    reason            text NOT NULL,
    message           jsonb NOT NULL
);
CREATE INDEX unattributed_user_idx ON unattributed_events (external_user_id);
CREATE INDEX unattributed_group_idx ON unattributed_events (group_external_id);

CREATE TABLE ingest_batches (
    batch_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at  timestamptz NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    source       text NOT NULL,
    accepted     integer NOT NULL,
    duplicates   integer NOT NULL,
    rejected     integer NOT NULL,
    unattributed integer NOT NULL
);
CREATE INDEX ingest_batches_committed_idx ON ingest_batches (committed_at DESC);

-- ---------------------------------------------------------------- tenant tables
CREATE TABLE orgs (
    org_id      bigint PRIMARY KEY,
    external_id text NOT NULL,
    slug        text NOT NULL,
    name        text NOT NULL,
    traits      jsonb NOT NULL DEFAULT '{}'::jsonb,
    timezone    text NOT NULL DEFAULT 'UTC',
    profile_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, external_id),
    UNIQUE (org_id, slug)
);

CREATE TABLE units (
    org_id      bigint NOT NULL REFERENCES orgs (org_id) ON DELETE CASCADE,
    unit_id     bigint GENERATED ALWAYS AS IDENTITY,
    external_id text NOT NULL,
    name        text NOT NULL,
    kind        text NOT NULL DEFAULT 'unit',
    traits      jsonb NOT NULL DEFAULT '{}'::jsonb,
    profile_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, unit_id),
    UNIQUE (org_id, external_id)
);

CREATE TABLE members (
    org_id           bigint NOT NULL REFERENCES orgs (org_id) ON DELETE CASCADE,
    member_id        bigint GENERATED ALWAYS AS IDENTITY,
    external_user_id text NOT NULL,
    role             text,
    unit_id          bigint,
    traits           jsonb NOT NULL DEFAULT '{}'::jsonb,
    first_seen_at    timestamptz,
    last_seen_at     timestamptz,
    profile_at       timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, member_id),
    UNIQUE (org_id, external_user_id),
    FOREIGN KEY (org_id, unit_id) REFERENCES units (org_id, unit_id)
);

CREATE TABLE memberships (
    org_id     bigint NOT NULL REFERENCES orgs (org_id) ON DELETE CASCADE,
    user_id    bigint NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('account_manager', 'org_admin', 'unit_admin',
                                              'employer_viewer', 'hr_submitter', 'member')),
    unit_ids   bigint[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);

CREATE TABLE events (
    org_id       bigint NOT NULL,
    event_time   timestamptz NOT NULL,
    event_id     uuid NOT NULL,
    message_id   text NOT NULL,
    type         text NOT NULL,
    name         text NOT NULL,
    member_id    bigint,
    unit_id      bigint,
    anonymous_id text,
    received_at  timestamptz NOT NULL,
    properties   jsonb NOT NULL DEFAULT '{}'::jsonb,
    context      jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (org_id, event_time, event_id)
) PARTITION BY RANGE (event_time);
CREATE INDEX events_org_name_time_idx ON events (org_id, name, event_time);

CREATE TABLE event_dedup (
    org_id      bigint NOT NULL,
    message_id  text NOT NULL,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, message_id)
);
CREATE INDEX event_dedup_received_idx ON event_dedup (received_at);

-- unit_id 0 means "no unit": rollups are derived data keyed for upserts, not FK'd to units.
CREATE TABLE rollup_daily_events (
    org_id  bigint NOT NULL,
    day     date NOT NULL,
    unit_id bigint NOT NULL,
    name    text NOT NULL,
    events  bigint NOT NULL,
    PRIMARY KEY (org_id, day, unit_id, name)
);

CREATE TABLE rollup_member_days (
    org_id    bigint NOT NULL,
    day       date NOT NULL,
    member_id bigint NOT NULL,
    unit_id   bigint NOT NULL,
    events    bigint NOT NULL,
    PRIMARY KEY (org_id, day, member_id)
);

CREATE TABLE rollup_state (
    org_id            bigint PRIMARY KEY,
    newest_event_at   timestamptz NOT NULL,
    last_received_at  timestamptz NOT NULL,
    last_rollup_at    timestamptz NOT NULL,
    events_total      bigint NOT NULL
);
"""


def upgrade() -> None:
    role = context.config.attributes["app_role"]
    password = context.config.attributes["app_password"]
    op.execute(SCHEMA)
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        column = "org_id"
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} "
            f"USING ({column} = ANY (CAST((SELECT orgpulse_org_ids()) AS bigint[]))) "
            f"WITH CHECK ({column} = ANY (CAST((SELECT orgpulse_org_ids()) AS bigint[])))"
        )
    # A user may read their own grants before their org set is known (to compute it).
    op.execute(
        "CREATE POLICY own_memberships ON memberships FOR SELECT "
        "USING (user_id = (SELECT orgpulse_user_id()))"
    )
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                CREATE ROLE "{role}" LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
            END IF;
        END $$;
        """
    )
    # Literal DDL cannot take bind parameters; format() quotes the password safely.
    op.execute(
        "DO $$ BEGIN EXECUTE format('ALTER ROLE %I LOGIN NOBYPASSRLS PASSWORD %L', "
        f"'{role}', '{password.replace(chr(39), chr(39) * 2)}'); END $$;"
    )
    op.execute(f'GRANT USAGE ON SCHEMA public TO "{role}"')
    op.execute(f'GRANT CONNECT ON DATABASE "{op.get_bind().engine.url.database}" TO "{role}"')
    tenant = ", ".join(TENANT_TABLES)
    op.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON {tenant} TO "{role}"')
    op.execute(
        "GRANT SELECT, INSERT, UPDATE, DELETE ON users, web_sessions, api_tokens, write_keys, "
        f'login_failures, directory_groups, directory_members, unattributed_events TO "{role}"'
    )
    op.execute(f'GRANT SELECT, INSERT ON audit_records, ingest_batches TO "{role}"')
    op.execute(f'GRANT SELECT, INSERT, UPDATE ON job_runs TO "{role}"')
    op.execute(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"')


def downgrade() -> None:
    raise NotImplementedError("the foundation revision cannot be downgraded; restore a backup")
