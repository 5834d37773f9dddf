"""Reset the test database between tests: every table emptied, every id sequence restarted.

A module of its own (not conftest.py) so test modules can import it by one unambiguous name.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

TABLES = (
    "users, web_sessions, api_tokens, write_keys, login_failures, audit_records, job_runs, "
    "directory_groups, directory_members, unattributed_events, ingest_batches, orgs, units, "
    "members, memberships, events, event_dedup, rollup_daily_events, rollup_member_days, "
    "rollup_state, rollup_member_events, pair_items, funnel_progress, health_snapshots, "
    "security_alerts, risk_flags, interventions, rollout_settings, checklist_items, "
    "onboarding_steps, banner_episodes, banner_dismissals, support_request_events, "
    "support_requests, action_items, delivery_attachments, deliveries, webhook_endpoints, "
    "alert_inbox, alerts, alert_rules, report_subscriptions"
)


def truncate_all(owner: Engine) -> None:
    """Empty every table and restart the ids: the next test starts from a fresh database."""
    with owner.begin() as conn:
        conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
        conn.execute(text("ALTER SEQUENCE org_id_seq RESTART"))
