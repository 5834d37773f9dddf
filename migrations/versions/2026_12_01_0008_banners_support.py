"""Implementation banners (episodes and per-user dismissals) and support requests.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-01

``banner_episodes``: one row per time a banner's condition became true for an org; the row is
closed (``cleared_at``) when the condition is seen false, and a later return opens a new row, so a
dismissal (keyed by the episode) does not hide the banner's next occurrence.
``support_requests`` keep the requester's context (and optional screenshot) until the retention
period purges them; ``support_request_events`` is their append-only history.
"""

from alembic import context, op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

EITHER = (
    "((SELECT orgpulse_all_orgs()) OR "
    "org_id = ANY (CAST((SELECT orgpulse_org_ids()) AS bigint[])))"
)

SCHEMA = r"""
CREATE TABLE banner_episodes (
    org_id     bigint NOT NULL,
    banner     text NOT NULL,
    started_at timestamptz NOT NULL,
    cleared_at timestamptz,
    PRIMARY KEY (org_id, banner, started_at)
);
-- At most one open episode per org and banner.
CREATE UNIQUE INDEX banner_episodes_open_key ON banner_episodes (org_id, banner)
    WHERE cleared_at IS NULL;

CREATE TABLE banner_dismissals (
    org_id       bigint NOT NULL,
    user_id      bigint NOT NULL,
    banner       text NOT NULL,
    episode_at   timestamptz NOT NULL,
    dismissed_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, user_id, banner, episode_at)
);

CREATE SEQUENCE support_request_seq;
CREATE TABLE support_requests (
    org_id            bigint NOT NULL,
    request_id        bigint NOT NULL DEFAULT nextval('support_request_seq'),
    tracking_id       text NOT NULL,
    requester_user_id bigint NOT NULL,
    category          text NOT NULL,
    severity          text NOT NULL,
    description       text NOT NULL,
    status            text NOT NULL DEFAULT 'open'
                      CHECK (status IN ('open', 'in_progress', 'resolved', 'closed')),
    context_json      jsonb,
    screenshot        bytea,
    screenshot_type   text CHECK (screenshot_type IN ('image/png', 'image/jpeg')),
    context_purged_at timestamptz,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    PRIMARY KEY (org_id, request_id),
    UNIQUE (org_id, tracking_id)
);
ALTER SEQUENCE support_request_seq OWNED BY support_requests.request_id;
CREATE INDEX support_requests_created_idx ON support_requests (created_at);
CREATE INDEX support_requests_requester_idx ON support_requests (org_id, requester_user_id);

CREATE TABLE support_request_events (
    org_id        bigint NOT NULL,
    request_id    bigint NOT NULL,
    event_id      bigint GENERATED ALWAYS AS IDENTITY,
    at            timestamptz NOT NULL,
    actor_user_id bigint,
    kind          text NOT NULL CHECK (kind IN ('created', 'status_changed')),
    from_status   text,
    to_status     text NOT NULL,
    PRIMARY KEY (org_id, request_id, event_id),
    FOREIGN KEY (org_id, request_id) REFERENCES support_requests (org_id, request_id)
);
"""

GRANTS = {
    "banner_episodes": "SELECT, INSERT, UPDATE",
    "banner_dismissals": "SELECT, INSERT",
    "support_requests": "SELECT, INSERT, UPDATE",
    "support_request_events": "SELECT, INSERT",
}


def upgrade() -> None:
    role = context.config.attributes["app_role"]
    op.execute(SCHEMA)
    for table, privileges in GRANTS.items():
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} USING {EITHER} WITH CHECK {EITHER}"
        )
        op.execute(f'GRANT {privileges} ON {table} TO "{role}"')
    op.execute(f'GRANT USAGE ON SEQUENCE support_request_seq TO "{role}"')


def downgrade() -> None:
    op.execute(
        "DROP TABLE support_request_events, support_requests, banner_dismissals, banner_episodes"
    )
