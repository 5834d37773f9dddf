"""SQL for rollout, checklist and wizard: named builders with bound parameters."""

from __future__ import annotations

from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import BigInteger, Text


def rollout_row() -> TextClause:
    """The org's rollout settings (no row: no mode chosen yet)."""
    return text(
        "SELECT mode, pilot_unit_ids, pilot_member_ids, launch_date, updated_by, updated_at"
        " FROM rollout_settings WHERE org_id = :org"
    )


def upsert_rollout() -> TextClause:
    return text(
        "INSERT INTO rollout_settings (org_id, mode, pilot_unit_ids, pilot_member_ids,"
        " launch_date, updated_by, updated_at)"
        " VALUES (:org, :mode, :units, :members, :launch, :by, :at)"
        " ON CONFLICT (org_id) DO UPDATE SET mode = EXCLUDED.mode,"
        " pilot_unit_ids = EXCLUDED.pilot_unit_ids, pilot_member_ids = EXCLUDED.pilot_member_ids,"
        " launch_date = EXCLUDED.launch_date, updated_by = EXCLUDED.updated_by,"
        " updated_at = EXCLUDED.updated_at"
    ).bindparams(
        bindparam("units", type_=ARRAY(BigInteger)),
        bindparam("members", type_=ARRAY(BigInteger)),
    )


def units_by_external_id() -> TextClause:
    return text(
        "SELECT external_id, unit_id FROM units WHERE org_id = :org AND external_id = ANY(:refs)"
    ).bindparams(bindparam("refs", type_=ARRAY(Text)))


def members_by_external_id() -> TextClause:
    return text(
        "SELECT external_user_id, member_id FROM members"
        " WHERE org_id = :org AND external_user_id = ANY(:refs)"
    ).bindparams(bindparam("refs", type_=ARRAY(Text)))


def unit_names() -> TextClause:
    return text(
        "SELECT unit_id, external_id, name FROM units WHERE org_id = :org"
        " AND unit_id = ANY(:ids) ORDER BY name"
    ).bindparams(bindparam("ids", type_=ARRAY(BigInteger)))


def member_refs() -> TextClause:
    return text(
        "SELECT member_id, external_user_id, unit_id FROM members WHERE org_id = :org"
        " AND member_id = ANY(:ids) ORDER BY external_user_id"
    ).bindparams(bindparam("ids", type_=ARRAY(BigInteger)))


def checklist_rows() -> TextClause:
    return text(
        "SELECT c.item_key, c.status, c.blocked_reason, c.updated_by, u.email, c.updated_at"
        " FROM checklist_items c LEFT JOIN users u ON u.user_id = c.updated_by"
        " WHERE c.org_id = :org"
    )


def checklist_row_for_update() -> TextClause:
    return text(
        "SELECT status, blocked_reason FROM checklist_items"
        " WHERE org_id = :org AND item_key = :key FOR UPDATE"
    )


def upsert_checklist_item() -> TextClause:
    return text(
        "INSERT INTO checklist_items (org_id, item_key, status, blocked_reason, updated_by,"
        " updated_at) VALUES (:org, :key, :status, :reason, :by, :at)"
        " ON CONFLICT (org_id, item_key) DO UPDATE SET status = EXCLUDED.status,"
        " blocked_reason = EXCLUDED.blocked_reason, updated_by = EXCLUDED.updated_by,"
        " updated_at = EXCLUDED.updated_at"
    )


def first_event_days() -> TextClause:
    """The first local day each named event occurred up to ``until`` (org-wide rollup)."""
    return text(
        "SELECT name, min(day) FROM rollup_daily_events"
        " WHERE org_id = :org AND name = ANY(:names) AND day <= :until GROUP BY name"
    ).bindparams(bindparam("names", type_=ARRAY(Text)))


def setup_counts() -> TextClause:
    """Units and org admin accounts of the org (tenant setup)."""
    return text(
        "SELECT (SELECT count(*) FROM units WHERE org_id = :org),"
        " (SELECT count(*) FROM memberships WHERE org_id = :org AND role = 'org_admin')"
    )


def first_snapshot_from() -> TextClause:
    """The first org-level health snapshot day in [since, until]."""
    return text(
        "SELECT min(day) FROM health_snapshots"
        " WHERE org_id = :org AND unit_id = 0 AND day BETWEEN :since AND :until"
    )


def first_admin_health_view() -> TextClause:
    """The first time an org admin of the org opened its health page since ``start``."""
    return text(
        "SELECT min(a.at) FROM audit_records a"
        " JOIN memberships m ON m.org_id = a.org_id AND m.user_id = a.actor_user_id"
        " WHERE a.org_id = :org AND a.action = 'analytics.read' AND a.target = 'org_health'"
        " AND a.outcome = 'ok' AND m.role = 'org_admin' AND a.at >= :start"
    )


def teachers_signed_in() -> TextClause:
    """Distinct members of ``role`` with a login event up to ``until``, optionally limited
    to pilot units or pilot members (both empty: everyone)."""
    return text(
        "SELECT count(DISTINCT r.member_id) FROM rollup_member_events r"
        " JOIN members m ON m.org_id = r.org_id AND m.member_id = r.member_id"
        " WHERE r.org_id = :org AND r.name = ANY(:names) AND r.day <= :until AND m.role = :role"
        " AND (cardinality(:units) + cardinality(:members) = 0"
        "      OR m.unit_id = ANY(:units) OR m.member_id = ANY(:members))"
    ).bindparams(
        bindparam("names", type_=ARRAY(Text)),
        bindparam("units", type_=ARRAY(BigInteger)),
        bindparam("members", type_=ARRAY(BigInteger)),
    )


def step_rows() -> TextClause:
    return text(
        "SELECT s.step_key, s.started_by, su.email, s.started_at, s.completed_by, cu.email,"
        " s.completed_at, s.skipped FROM onboarding_steps s"
        " LEFT JOIN users su ON su.user_id = s.started_by"
        " LEFT JOIN users cu ON cu.user_id = s.completed_by"
        " WHERE s.org_id = :org"
    )


def step_row_for_update() -> TextClause:
    return text(
        "SELECT started_by, started_at, completed_by, completed_at, skipped FROM onboarding_steps"
        " WHERE org_id = :org AND step_key = :key FOR UPDATE"
    )


def upsert_step() -> TextClause:
    return text(
        "INSERT INTO onboarding_steps (org_id, step_key, started_by, started_at, completed_by,"
        " completed_at, skipped) VALUES (:org, :key, :sb, :sa, :cb, :ca, :skipped)"
        " ON CONFLICT (org_id, step_key) DO UPDATE SET started_by = EXCLUDED.started_by,"
        " started_at = EXCLUDED.started_at, completed_by = EXCLUDED.completed_by,"
        " completed_at = EXCLUDED.completed_at, skipped = EXCLUDED.skipped"
    )


def checklist_in_use() -> TextClause:
    """Whether the org chose a rollout mode or edited a checklist item."""
    return text(
        "SELECT EXISTS (SELECT 1 FROM rollout_settings WHERE org_id = :org)"
        " OR EXISTS (SELECT 1 FROM checklist_items WHERE org_id = :org)"
    )
