"""SQL of follow-up action items (bound parameters only).

"Overdue" is computed in one place, here: an open item whose due date is before the org's
today (``:now`` read in the org's timezone). Lists read ``action_items`` through its
``(org_id, due_date) WHERE status = 'open'`` index or a small per-org slice of the table.
"""

from __future__ import annotations

from sqlalchemy import TextClause, text

_OVERDUE = "(a.status = 'open' AND a.due_date < CAST(timezone(o.timezone, :now) AS date))"

_ITEM_COLUMNS = (
    "a.item_id, a.org_id, o.slug, o.name, a.title, a.note, a.owner_user_id, u.display_name,"
    " a.due_date, a.status, " + _OVERDUE + " AS overdue, a.alert_id, a.created_by,"
    " a.created_at, a.updated_at"
)
_ITEMS_FROM = (
    " FROM action_items a JOIN orgs o ON o.org_id = a.org_id"
    " JOIN users u ON u.user_id = a.owner_user_id"
)
# Open items first (soonest due first), then the closed ones by due date.
_ORDER = " ORDER BY (a.status = 'open') DESC, a.due_date, a.item_id"


def org_today() -> TextClause:
    """The org's calendar date at ``:now`` in its timezone."""
    return text("SELECT CAST(timezone(timezone, :now) AS date) FROM orgs WHERE org_id = :org")


def org_header() -> TextClause:
    """The org's slug, name and calendar date at ``:now``."""
    return text(
        "SELECT slug, name, CAST(timezone(timezone, :now) AS date) FROM orgs WHERE org_id = :org"
    )


def item() -> TextClause:
    """One item of one org."""
    return text(f"SELECT {_ITEM_COLUMNS}{_ITEMS_FROM} WHERE a.org_id = :org AND a.item_id = :item")


def item_for_update() -> TextClause:
    """The editable fields of one item, locked for the rest of the transaction."""
    return text(
        "SELECT title, note, owner_user_id, due_date, status FROM action_items"
        " WHERE org_id = :org AND item_id = :item FOR UPDATE"
    )


def org_items() -> TextClause:
    """A page of one org's items, optionally of one status."""
    return text(
        f"SELECT {_ITEM_COLUMNS}{_ITEMS_FROM}"
        " WHERE a.org_id = :org AND (CAST(:status AS text) IS NULL OR a.status = :status)"
        f"{_ORDER} LIMIT :limit OFFSET :offset"
    )


def org_counts() -> TextClause:
    """Matching, open and overdue items of one org."""
    return text(
        "SELECT count(*) FILTER (WHERE CAST(:status AS text) IS NULL OR a.status = :status),"  # noqa: S608 - constant fragments only
        " count(*) FILTER (WHERE a.status = 'open'),"
        f" count(*) FILTER (WHERE {_OVERDUE})"
        " FROM action_items a JOIN orgs o ON o.org_id = a.org_id WHERE a.org_id = :org"
    )


def scope_items() -> TextClause:
    """A page of the items of the given orgs, optionally one owner's and of one status."""
    return text(
        f"SELECT {_ITEM_COLUMNS}{_ITEMS_FROM}"
        " WHERE a.org_id = ANY(CAST(:orgs AS bigint[]))"
        " AND (CAST(:owner AS bigint) IS NULL OR a.owner_user_id = :owner)"
        " AND (CAST(:status AS text) IS NULL OR a.status = :status)"
        f"{_ORDER} LIMIT :limit OFFSET :offset"
    )


def scope_total() -> TextClause:
    """How many items ``scope_items`` pages through."""
    return text(
        "SELECT count(*) FROM action_items a"
        " WHERE a.org_id = ANY(CAST(:orgs AS bigint[]))"
        " AND (CAST(:owner AS bigint) IS NULL OR a.owner_user_id = :owner)"
        " AND (CAST(:status AS text) IS NULL OR a.status = :status)"
    )


def counts_per_org() -> TextClause:
    """Open and overdue items per org, for orgs with at least one open item."""
    return text(
        "SELECT o.slug, o.name, count(*), count(*) FILTER (WHERE " + _OVERDUE + ")"  # noqa: S608 - constant fragments only
        " FROM action_items a JOIN orgs o ON o.org_id = a.org_id"
        " WHERE a.org_id = ANY(CAST(:orgs AS bigint[])) AND a.status = 'open'"
        " GROUP BY o.org_id, o.slug, o.name"
        " ORDER BY 4 DESC, 3 DESC, o.name, o.org_id"
    )


def eligible_owners() -> TextClause:
    """Active users whose role in the org may hold follow-ups (staff reach or membership)."""
    return text(
        "SELECT u.user_id, u.display_name, u.email FROM users u"
        " WHERE u.is_active AND (u.staff_role = ANY(CAST(:staff AS text[]))"
        "  OR EXISTS (SELECT 1 FROM memberships m WHERE m.org_id = :org"
        "   AND m.user_id = u.user_id AND m.role = ANY(CAST(:member_roles AS text[]))))"
        " AND (CAST(:user AS bigint) IS NULL OR u.user_id = :user)"
        " ORDER BY lower(u.display_name), u.user_id"
    )


def alert_of() -> TextClause:
    """An alert's org and title (alerts are a platform table; ``org_id`` is plain data)."""
    return text("SELECT org_id, title FROM alerts WHERE alert_id = :alert")


def insert_item() -> TextClause:
    return text(
        "INSERT INTO action_items (org_id, alert_id, title, note, owner_user_id, due_date,"
        " status, created_by, created_at, updated_at)"
        " VALUES (:org, :alert, :title, :note, :owner, :due, 'open', :by, :now, :now)"
        " RETURNING item_id"
    )


def update_item() -> TextClause:
    return text(
        "UPDATE action_items SET title = :title, note = :note, owner_user_id = :owner,"
        " due_date = :due, status = :status, updated_at = :now"
        " WHERE org_id = :org AND item_id = :item"
    )
