"""SQL of the alerts slice: rule rows, the inputs of each rule kind, alerts, inbox and routing."""

from __future__ import annotations

from sqlalchemy import TextClause, text

INSERT_DEFAULT_RULE = text(
    "INSERT INTO alert_rules (rule_key, kind, title, params, notify_org_admins, channels,"
    " cooldown_minutes, updated_at) VALUES (:key, :kind, :title, CAST(:params AS jsonb),"
    " :admins, CAST(:channels AS text[]), :cooldown, :now) ON CONFLICT (rule_key) DO NOTHING"
)
RULES = text(
    "SELECT rule_key, kind, title, enabled, params, notify_org_admins, channels,"
    " cooldown_minutes, updated_at, updated_by FROM alert_rules ORDER BY rule_key"
)
RULE = text(
    "SELECT rule_key, kind, title, enabled, params, notify_org_admins, channels,"
    " cooldown_minutes, updated_at, updated_by FROM alert_rules WHERE rule_key = :key"
)
UPDATE_RULE = text(
    "UPDATE alert_rules SET enabled = :enabled, params = CAST(:params AS jsonb),"
    " notify_org_admins = :admins, channels = CAST(:channels AS text[]),"
    " cooldown_minutes = :cooldown, updated_at = :now, updated_by = :user WHERE rule_key = :key"
)

ORGS = text("SELECT org_id, slug, name, timezone FROM orgs ORDER BY org_id")
LATEST_SCORES = text(
    "SELECT DISTINCT ON (org_id) org_id, day, score FROM health_snapshots"
    " WHERE unit_id = 0 ORDER BY org_id, day DESC"
)
SCORES_SINCE = text(
    "SELECT org_id, day, score FROM health_snapshots"
    " WHERE unit_id = 0 AND day >= :since AND score IS NOT NULL ORDER BY org_id, day"
)
DAILY_EVENTS = text(
    "SELECT org_id, day, name, sum(events) FROM rollup_daily_events"
    " WHERE day >= :since AND day < :until GROUP BY org_id, day, name"
)
FRESHNESS = text("SELECT org_id, newest_event_at FROM rollup_state")
LATEST_JOB_RUNS = text(
    "SELECT DISTINCT ON (job) job, status, detail, started_at FROM job_runs"
    " WHERE status <> 'running' ORDER BY job, started_at DESC, run_id DESC"
)
OPEN_SECURITY_ALERTS = text(
    "SELECT alert_id, kind, org_id, user_id, raised_at FROM security_alerts"
    " WHERE acknowledged_at IS NULL ORDER BY alert_id"
)

OPEN_ALERTS = text(
    "SELECT alert_id, org_id, subject FROM alerts WHERE rule_key = :rule AND status = 'open'"
)
LAST_RESOLVED = text(
    "SELECT org_id, subject, max(resolved_at) FROM alerts"
    " WHERE rule_key = :rule AND status = 'resolved' AND resolved_at > :since"
    " GROUP BY org_id, subject"
)
INSERT_ALERT = text(
    "INSERT INTO alerts (rule_key, org_id, subject, severity, title, message, value, threshold,"
    " details, opened_at, last_evaluated_at) VALUES (:rule, :org, :subject, :severity, :title,"
    " :message, :value, :threshold, CAST(:details AS jsonb), :now, :now)"
    " ON CONFLICT (rule_key, COALESCE(org_id, 0), subject) WHERE status = 'open' DO NOTHING"
    " RETURNING alert_id"
)
TOUCH_ALERT = text(
    "UPDATE alerts SET last_evaluated_at = :now, value = :value, message = :message,"
    " details = CAST(:details AS jsonb) WHERE alert_id = :id"
)
RESOLVE_ALERTS = text(
    "UPDATE alerts SET status = 'resolved', resolved_at = :now, last_evaluated_at = :now"
    " WHERE alert_id = ANY(:ids) AND status = 'open'"
    " RETURNING alert_id, org_id, subject, title, message, value, threshold"
)

ORG_RECIPIENTS = text(
    "SELECT u.user_id, u.email FROM users u WHERE u.is_active AND (u.staff_role = 'cs_leader'"
    " OR EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.user_id AND m.org_id = :org"
    "   AND (m.role = 'account_manager' OR (:admins AND m.role = 'org_admin'))))"
    " ORDER BY u.user_id"
)
PLATFORM_RECIPIENTS = text(
    "SELECT user_id, email FROM users WHERE is_active AND staff_role = 'platform_admin'"
    " ORDER BY user_id"
)
INSERT_INBOX = text(
    "INSERT INTO alert_inbox (user_id, alert_id, created_at) VALUES (:user, :alert, :now)"
    " ON CONFLICT DO NOTHING"
)
WEBHOOK_ENDPOINTS = text(
    "SELECT endpoint_id FROM webhook_endpoints WHERE enabled ORDER BY endpoint_id"
)

# Inbox: a user's rows, re-filtered by the orgs they may still see (platform alerts: admins).
_VISIBLE = (
    " FROM alert_inbox i JOIN alerts a ON a.alert_id = i.alert_id"
    " JOIN alert_rules r ON r.rule_key = a.rule_key"
    " LEFT JOIN orgs o ON o.org_id = a.org_id"
    " WHERE i.user_id = :user"
    " AND ((a.org_id IS NULL AND :platform) OR a.org_id = ANY(:orgs))"
    " AND (CAST(:status AS text) IS NULL OR a.status = :status)"
)
ITEM_COLUMNS = (
    "SELECT a.alert_id, a.rule_key, r.kind, a.title, a.message, a.status, a.severity, a.value,"
    " a.threshold, a.subject, a.details, a.opened_at, a.last_evaluated_at, a.resolved_at,"
    " o.slug, o.name, i.read_at IS NOT NULL AS read, a.org_id"
)
INBOX_PAGE = text(
    ITEM_COLUMNS + _VISIBLE + " ORDER BY a.opened_at DESC, a.alert_id DESC"
    " LIMIT :limit OFFSET :offset"
)
INBOX_COUNTS = text(
    "SELECT count(*), count(*) FILTER (WHERE i.read_at IS NULL)" + _VISIBLE
)
UNREAD_COUNT = text(
    "SELECT count(*) FROM alert_inbox i JOIN alerts a ON a.alert_id = i.alert_id"
    " WHERE i.user_id = :user AND i.read_at IS NULL"
    " AND ((a.org_id IS NULL AND :platform) OR a.org_id = ANY(:orgs))"
)
MARK_READ = text(
    "UPDATE alert_inbox SET read_at = :now"
    " WHERE user_id = :user AND read_at IS NULL AND (CAST(:alert AS bigint) IS NULL"
    "   OR alert_id = :alert)"
)
ALERT = text(
    "SELECT a.alert_id, a.rule_key, r.kind, a.title, a.message, a.status, a.severity, a.value,"
    " a.threshold, a.subject, a.details, a.opened_at, a.last_evaluated_at, a.resolved_at,"
    " o.slug, o.name, i.read_at IS NOT NULL AS read, a.org_id, i.user_id IS NOT NULL AS routed"
    " FROM alerts a JOIN alert_rules r ON r.rule_key = a.rule_key"
    " LEFT JOIN orgs o ON o.org_id = a.org_id"
    " LEFT JOIN alert_inbox i ON i.alert_id = a.alert_id AND i.user_id = :user"
    " WHERE a.alert_id = :id"
)
LATEST_INGEST = text("SELECT max(committed_at) FROM ingest_batches")
LAST_RUN_STARTED = text("SELECT max(started_at) FROM job_runs WHERE job = :job")


def all_queries() -> list[TextClause]:
    """Every statement of the slice (for a test that they all parse against the schema)."""
    return [v for v in globals().values() if isinstance(v, TextClause)]
