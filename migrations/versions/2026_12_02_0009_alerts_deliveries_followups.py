"""Alerts, delivery outbox, webhook endpoints, report subscriptions and follow-up action items.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

Platform tables (no row-level security; the app reads them only through the alerts, delivery and
reports services, which re-check a user's access to an org before showing or sending anything):

``alert_rules``      one row per rule; shipped defaults are inserted on first evaluation, admins
                     edit thresholds, channels and audience in the UI.
``alerts``           one row per raised alert; ``org_id`` is plain data (NULL for platform alerts such
                     as a failed job). At most one *open* alert per rule × org × subject.
``alert_inbox``      the in-app inbox: which user was routed which alert, and when they read it.
``webhook_endpoints`` where webhook alerts go, with the HMAC secret their bodies are signed with.
``deliveries``       the outbox: every email and webhook call to make, with attempts, back-off and
                     a dead-letter state after the last try; ``delivery_attachments`` holds files.
``report_subscriptions`` a user's weekly/monthly report, rendered with their permissions at send time.

Tenant table: ``action_items`` (follow-ups on an org, optionally raised from an alert).
"""

from alembic import context, op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

EITHER = (
    "((SELECT orgpulse_all_orgs()) OR "
    "org_id = ANY (CAST((SELECT orgpulse_org_ids()) AS bigint[])))"
)

SCHEMA = r"""
CREATE TABLE alert_rules (
    rule_key          text PRIMARY KEY,
    kind              text NOT NULL CHECK (kind IN ('health_below', 'score_drop', 'metric_decline',
                                                    'freshness_lag', 'job_failure',
                                                    'security_signal')),
    title             text NOT NULL,
    enabled           boolean NOT NULL DEFAULT true,
    params            jsonb NOT NULL DEFAULT '{}'::jsonb,
    notify_org_admins boolean NOT NULL DEFAULT false,
    channels          text[] NOT NULL DEFAULT '{inapp}',
    cooldown_minutes  integer NOT NULL DEFAULT 1440 CHECK (cooldown_minutes >= 0),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    updated_by        bigint REFERENCES users (user_id) ON DELETE SET NULL,
    CHECK (channels <@ ARRAY['inapp', 'email', 'webhook']::text[])
);

CREATE TABLE alerts (
    alert_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule_key          text NOT NULL REFERENCES alert_rules (rule_key) ON DELETE CASCADE,
    org_id            bigint,
    subject           text NOT NULL DEFAULT '',
    status            text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved')),
    severity          text NOT NULL DEFAULT 'warning'
                      CHECK (severity IN ('info', 'warning', 'critical')),
    title             text NOT NULL,
    message           text NOT NULL,
    value             double precision,
    threshold         double precision,
    details           jsonb NOT NULL DEFAULT '{}'::jsonb,
    opened_at         timestamptz NOT NULL,
    last_evaluated_at timestamptz NOT NULL,
    resolved_at       timestamptz
);
-- Deduplication: one open alert per rule x org x subject (subject: a job name, a metric key).
CREATE UNIQUE INDEX alerts_open_key ON alerts (rule_key, COALESCE(org_id, 0), subject)
    WHERE status = 'open';
CREATE INDEX alerts_org_idx ON alerts (org_id, opened_at DESC);
CREATE INDEX alerts_recent_idx ON alerts (rule_key, org_id, subject, resolved_at DESC);

CREATE TABLE alert_inbox (
    user_id    bigint NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    alert_id   bigint NOT NULL REFERENCES alerts (alert_id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    read_at    timestamptz,
    PRIMARY KEY (user_id, alert_id)
);
CREATE INDEX alert_inbox_unread_idx ON alert_inbox (user_id) WHERE read_at IS NULL;

CREATE TABLE webhook_endpoints (
    endpoint_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL,
    url         text NOT NULL CHECK (url ~ '^https?://'),
    secret      text NOT NULL,
    enabled     boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  bigint REFERENCES users (user_id) ON DELETE SET NULL
);

CREATE TABLE deliveries (
    delivery_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel          text NOT NULL CHECK (channel IN ('email', 'webhook')),
    email_to         text,
    endpoint_id      bigint REFERENCES webhook_endpoints (endpoint_id) ON DELETE CASCADE,
    user_id          bigint REFERENCES users (user_id) ON DELETE SET NULL,
    source           text NOT NULL,
    subject          text NOT NULL DEFAULT '',
    body_text        text NOT NULL DEFAULT '',
    body_html        text,
    payload          jsonb,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    last_error       text,
    last_status_code integer,
    created_at       timestamptz NOT NULL,
    sent_at          timestamptz,
    CHECK ((channel = 'email' AND email_to IS NOT NULL AND endpoint_id IS NULL)
        OR (channel = 'webhook' AND endpoint_id IS NOT NULL AND email_to IS NULL
            AND payload IS NOT NULL))
);
CREATE INDEX deliveries_due_idx ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_created_idx ON deliveries (created_at DESC);

CREATE TABLE delivery_attachments (
    delivery_id  bigint NOT NULL REFERENCES deliveries (delivery_id) ON DELETE CASCADE,
    position     integer NOT NULL,
    filename     text NOT NULL,
    content_type text NOT NULL,
    content      bytea NOT NULL,
    PRIMARY KEY (delivery_id, position)
);

CREATE TABLE report_subscriptions (
    subscription_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    report          text NOT NULL
                    CHECK (report IN ('business_review', 'portfolio', 'employer_quarterly')),
    org_id          bigint,
    cadence         text NOT NULL CHECK (cadence IN ('weekly', 'monthly')),
    next_run_at     timestamptz NOT NULL,
    last_run_at     timestamptz,
    last_status     text CHECK (last_status IN ('sent', 'skipped', 'failed')),
    last_detail     text,
    created_at      timestamptz NOT NULL,
    CHECK ((report = 'portfolio') = (org_id IS NULL))
);
CREATE UNIQUE INDEX report_subscriptions_key
    ON report_subscriptions (user_id, report, COALESCE(org_id, 0), cadence);
CREATE INDEX report_subscriptions_due_idx ON report_subscriptions (next_run_at);

CREATE SEQUENCE action_item_seq;
CREATE TABLE action_items (
    org_id        bigint NOT NULL,
    item_id       bigint NOT NULL DEFAULT nextval('action_item_seq'),
    alert_id      bigint REFERENCES alerts (alert_id) ON DELETE SET NULL,
    title         text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    note          text NOT NULL DEFAULT '',
    owner_user_id bigint NOT NULL REFERENCES users (user_id),
    due_date      date NOT NULL,
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done', 'cancelled')),
    created_by    bigint NOT NULL REFERENCES users (user_id),
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (org_id, item_id)
);
ALTER SEQUENCE action_item_seq OWNED BY action_items.item_id;
CREATE INDEX action_items_open_idx ON action_items (org_id, due_date) WHERE status = 'open';
"""

PLATFORM_GRANTS = {
    "alert_rules": "SELECT, INSERT, UPDATE",
    "alerts": "SELECT, INSERT, UPDATE",
    "alert_inbox": "SELECT, INSERT, UPDATE",
    "webhook_endpoints": "SELECT, INSERT, UPDATE, DELETE",
    "deliveries": "SELECT, INSERT, UPDATE",
    "delivery_attachments": "SELECT, INSERT, DELETE",
    "report_subscriptions": "SELECT, INSERT, UPDATE, DELETE",
}


def upgrade() -> None:
    role = context.config.attributes["app_role"]
    op.execute(SCHEMA)
    for table, privileges in PLATFORM_GRANTS.items():
        op.execute(f'GRANT {privileges} ON {table} TO "{role}"')
    op.execute("ALTER TABLE action_items ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE action_items FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON action_items USING {EITHER} WITH CHECK {EITHER}"
    )
    op.execute(f'GRANT SELECT, INSERT, UPDATE ON action_items TO "{role}"')
    op.execute(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"')


def downgrade() -> None:
    op.execute(
        "DROP TABLE action_items, report_subscriptions, delivery_attachments, deliveries,"
        " webhook_endpoints, alert_inbox, alerts, alert_rules"
    )
