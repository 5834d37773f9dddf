"""Follow-up action items: validation, creation, edits and status changes, lists.

Every function works on a connection whose tenant scope the caller set; ``action_items`` is a
tenant table, so a foreign org's items are invisible whatever is asked. Audit records are the
caller's (in the same transaction, after the write).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import Connection

from orgpulse.auth.roles import ALL_ORG_ROLES, MEMBERSHIP_ROLES, Permission, grants
from orgpulse.core.errors import Conflict, InvalidInput, NotFound
from orgpulse.core.ids import BIGINT_MAX
from orgpulse.core.tenancy import require_org
from orgpulse.followups import queries

Status = Literal["open", "done", "cancelled"]
STATUSES: tuple[Status, ...] = ("open", "done", "cancelled")
# Allowed status changes: close an open item either way, or reopen a closed one.
TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"done", "cancelled"}),
    "done": frozenset({"open"}),
    "cancelled": frozenset({"open"}),
}
MAX_TITLE = 200
MAX_NOTE = 4000
# A due date may be back-dated (logging something already late) by up to a year, and lie at most
# two years ahead; anything further is almost always a typo in the year.
MAX_PAST_DAYS = 365
MAX_FUTURE_DAYS = 730
EDITABLE = ("title", "note", "owner_user_id", "due_date", "status")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

Problems = list[dict[str, Any]]


class FollowUp(BaseModel):
    item_id: int
    org_id: int
    org_slug: str
    org_name: str
    title: str
    note: str
    owner_user_id: int
    owner: str
    due_date: date
    status: Status
    overdue: bool
    alert_id: int | None
    created_by: int
    created_at: datetime
    updated_at: datetime


class FollowUpList(BaseModel):
    """One org's follow-ups: a page of items plus the org's open and overdue counts."""

    org_slug: str
    org_name: str
    today: date
    status: Status | None
    items: list[FollowUp]
    total: int
    page: int
    per_page: int
    open: int
    overdue: int


class OrgCounts(BaseModel):
    slug: str
    name: str
    open: int
    overdue: int


class FollowUpOverview(BaseModel):
    """Follow-ups across the orgs a user may see: counts per org and a page of items."""

    as_of: datetime
    owner_user_id: int | None
    status: Status | None
    orgs: list[OrgCounts]
    items: list[FollowUp]
    total: int
    page: int
    per_page: int


class Owner(BaseModel):
    user_id: int
    display_name: str
    email: str


class NewFollowUp(BaseModel):
    title: str
    note: str
    owner_user_id: int
    due_date: date
    alert_id: int | None


def _item(row: Any) -> FollowUp:
    return FollowUp(
        item_id=row[0], org_id=row[1], org_slug=row[2], org_name=row[3], title=row[4],
        note=row[5], owner_user_id=row[6], owner=row[7], due_date=row[8], status=row[9],
        overdue=row[10], alert_id=row[11], created_by=row[12], created_at=row[13],
        updated_at=row[14],
    )


def _page_bounds(page: int, per_page: int) -> None:
    if page < 1 or not 1 <= per_page <= 500:
        raise InvalidInput("page must be ≥ 1 and per_page between 1 and 500")


def parse_status_filter(value: str | None) -> Status | None:
    """``open`` (also the default), ``done``, ``cancelled``, or ``all`` (None)."""
    if value is None or value == "":
        return "open"
    if value == "all":
        return None
    if value not in STATUSES:
        raise InvalidInput(
            f"status must be one of {', '.join(STATUSES)} or all, got {value!r}",
            details=[{"field": "status", "problem": "unknown status"}],
        )
    return value


def org_today(*, conn: Connection, org_id: int, now: datetime) -> date:
    """The org's calendar date at ``now`` (its timezone decides when an item becomes overdue)."""
    require_org(conn, org_id)
    day = conn.execute(queries.org_today(), {"org": org_id, "now": now}).scalar_one_or_none()
    if day is None:
        raise NotFound(f"no organization {org_id}")
    return day  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------- owners
def _owner_roles() -> tuple[list[str], list[str]]:
    """Staff roles with reach over every org, and membership roles, that hold follow-ups."""
    staff = sorted(r.value for r in ALL_ORG_ROLES if grants(r, Permission.MANAGE_FOLLOW_UPS))
    members = sorted(
        r.value
        for r in MEMBERSHIP_ROLES
        if grants(r, Permission.MANAGE_FOLLOW_UPS)
    )
    return staff, members


def eligible_owners(
    *, conn: Connection, org_id: int, user_id: int | None = None
) -> list[Owner]:
    """Users who may own a follow-up of the org (all of them, or just ``user_id`` if eligible)."""
    require_org(conn, org_id)
    staff, members = _owner_roles()
    rows = conn.execute(
        queries.eligible_owners(),
        {"org": org_id, "staff": staff, "member_roles": members, "user": user_id},
    )
    return [Owner(user_id=r[0], display_name=r[1], email=r[2]) for r in rows]


# ---------------------------------------------------------------------------- validation
def _title(value: str, problems: Problems) -> str:
    title = value.strip()
    if not title:
        problems.append({"field": "title", "problem": "required"})
    elif len(title) > MAX_TITLE:
        problems.append({"field": "title", "problem": f"at most {MAX_TITLE} characters"})
    return title


def _note(value: str, problems: Problems) -> str:
    note = value.strip()
    if len(note) > MAX_NOTE:
        problems.append({"field": "note", "problem": f"at most {MAX_NOTE} characters"})
    return note


def _due_date(value: str, *, today: date, problems: Problems) -> date | None:
    raw = value.strip()
    try:
        if not _ISO_DATE.match(raw):
            raise ValueError(raw)
        due = date.fromisoformat(raw)
    except ValueError:
        problems.append(
            {"field": "due_date", "problem": f"must be a date like 2026-06-30, got {raw!r}"}
        )
        return None
    earliest = today - timedelta(days=MAX_PAST_DAYS)
    latest = today + timedelta(days=MAX_FUTURE_DAYS)
    if due < earliest:
        problems.append(
            {"field": "due_date", "problem": f"must not be before {earliest.isoformat()}"}
        )
    elif due > latest:
        problems.append(
            {"field": "due_date", "problem": f"must not be after {latest.isoformat()}"}
        )
    return due


def _int_field(value: str | int | None, field: str, problems: Problems) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        problems.append({"field": field, "problem": f"must be a number, got {value!r}"})
        return None
    if abs(number) > BIGINT_MAX:
        problems.append({"field": field, "problem": f"no such id: {number}"})
        return None
    return number


def _owner(
    conn: Connection, org_id: int, value: str | int | None, problems: Problems
) -> int | None:
    owner = _int_field(value, "owner_user_id", problems)
    if owner is None:
        if value is None or value == "":
            problems.append({"field": "owner_user_id", "problem": "required"})
        return None
    if not eligible_owners(conn=conn, org_id=org_id, user_id=owner):
        problems.append(
            {"field": "owner_user_id",
             "problem": f"user {owner} cannot hold follow-ups of this organization"}
        )
    return owner


def alert_title(*, conn: Connection, org_id: int, alert_id: int) -> str:
    """The title of an alert raised on ``org_id``; InvalidInput for any other alert."""
    problems: Problems = []
    title = _alert(conn, org_id, alert_id, problems)
    if problems:
        raise InvalidInput("the alert cannot be followed up here", details=problems)
    return title or ""


def _alert(conn: Connection, org_id: int, alert_id: int, problems: Problems) -> str | None:
    # Why one message for "no such alert" and "another org's alert": the answer must not tell
    # anyone which alert ids exist on orgs outside their reach.
    row = conn.execute(queries.alert_of(), {"alert": alert_id}).first()
    if row is None or row[0] != org_id:
        problems.append(
            {"field": "alert_id",
             "problem": f"alert {alert_id} is not an alert of this organization"}
        )
        return None
    return str(row[1])


def validate_new(
    *,
    conn: Connection,
    org_id: int,
    today: date,
    title: str,
    note: str,
    owner_user_id: str | int | None,
    due_date: str,
    alert_id: str | int | None,
) -> NewFollowUp:
    """Check a new follow-up's fields; every problem is named at once (InvalidInput)."""
    require_org(conn, org_id)
    problems: Problems = []
    clean_title = _title(title, problems)
    clean_note = _note(note, problems)
    owner = _owner(conn, org_id, owner_user_id, problems)
    due = _due_date(due_date, today=today, problems=problems)
    alert = _int_field(alert_id, "alert_id", problems)
    if alert is not None:
        _alert(conn, org_id, alert, problems)
    if problems:
        raise InvalidInput(
            "the follow-up is invalid: " + ", ".join(p["field"] for p in problems),
            details=problems,
        )
    assert owner is not None and due is not None  # noqa: S101 - no problems means both parsed
    return NewFollowUp(
        title=clean_title, note=clean_note, owner_user_id=owner, due_date=due, alert_id=alert
    )


# ---------------------------------------------------------------------------- writes
def create_item(
    *, conn: Connection, org_id: int, data: NewFollowUp, actor_user_id: int, now: datetime
) -> FollowUp:
    """Store a new open follow-up and return it (the caller audits, last)."""
    require_org(conn, org_id)
    item_id = int(
        conn.execute(
            queries.insert_item(),
            {"org": org_id, "alert": data.alert_id, "title": data.title, "note": data.note,
             "owner": data.owner_user_id, "due": data.due_date, "by": actor_user_id,
             "now": now},
        ).scalar_one()
    )
    return get_item(conn=conn, org_id=org_id, item_id=item_id, now=now)


def audit_fields(item: FollowUp) -> dict[str, Any]:
    """The fields of an item as they go into an audit record."""
    return {
        "title": item.title, "note": item.note, "owner_user_id": item.owner_user_id,
        "due_date": item.due_date.isoformat(), "status": item.status, "alert_id": item.alert_id,
    }


def update_item(
    *,
    conn: Connection,
    org_id: int,
    item_id: int,
    changes: dict[str, Any],
    today: date,
    now: datetime,
) -> tuple[FollowUp, dict[str, Any], dict[str, Any]]:
    """Apply the given field changes; return the item and the changed fields before and after.

    ``changes`` holds any of ``title``, ``note``, ``owner_user_id``, ``due_date`` (ISO text) and
    ``status``; values equal to the stored ones are no change. Nothing is written when nothing
    changed (both dicts empty) or when any field is invalid (InvalidInput, every field named).
    """
    require_org(conn, org_id)
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise InvalidInput(
            f"cannot change {', '.join(unknown)}",
            details=[{"field": f, "problem": "not editable"} for f in unknown],
        )
    row = conn.execute(queries.item_for_update(), {"org": org_id, "item": item_id}).first()
    if row is None:
        raise NotFound(f"no follow-up {item_id} in this organization")
    current: dict[str, Any] = {
        "title": row[0], "note": row[1], "owner_user_id": row[2], "due_date": row[3],
        "status": row[4],
    }
    problems: Problems = []
    wanted: dict[str, Any] = {}
    if changes.get("title") is not None:
        wanted["title"] = _title(str(changes["title"]), problems)
    if changes.get("note") is not None:
        wanted["note"] = _note(str(changes["note"]), problems)
    if changes.get("owner_user_id") not in (None, ""):
        owner = _int_field(changes["owner_user_id"], "owner_user_id", problems)
        if owner is not None and owner != current["owner_user_id"]:
            owner = _owner(conn, org_id, owner, problems)
        wanted["owner_user_id"] = owner
    if changes.get("due_date") not in (None, ""):
        raw = str(changes["due_date"])
        if raw.strip() != current["due_date"].isoformat():
            wanted["due_date"] = _due_date(raw, today=today, problems=problems)
    status = changes.get("status")
    if status not in (None, "") and status != current["status"]:
        if status not in TRANSITIONS:
            problems.append({"field": "status", "problem": f"one of {', '.join(STATUSES)}"})
        elif not problems and status not in TRANSITIONS[current["status"]]:
            raise Conflict(
                f"a follow-up that is {current['status']} cannot become {status}"
                " (reopen it first)"
            )
        wanted["status"] = status
    if problems:
        raise InvalidInput(
            "the follow-up is invalid: " + ", ".join(p["field"] for p in problems),
            details=problems,
        )
    changed = {k: v for k, v in wanted.items() if v != current[k]}
    if changed:
        merged = {**current, **changed}
        conn.execute(
            queries.update_item(),
            {"org": org_id, "item": item_id, "now": now, "title": merged["title"],
             "note": merged["note"], "owner": merged["owner_user_id"],
             "due": merged["due_date"], "status": merged["status"]},
        )

    def shown(value: Any) -> Any:
        return value.isoformat() if isinstance(value, date) else value

    before = {k: shown(current[k]) for k in changed}
    after = {k: shown(v) for k, v in changed.items()}
    return get_item(conn=conn, org_id=org_id, item_id=item_id, now=now), before, after


# ---------------------------------------------------------------------------- reads
def get_item(*, conn: Connection, org_id: int, item_id: int, now: datetime) -> FollowUp:
    """One follow-up of one org; NotFound otherwise."""
    require_org(conn, org_id)
    row = conn.execute(queries.item(), {"org": org_id, "item": item_id, "now": now}).first()
    if row is None:
        raise NotFound(f"no follow-up {item_id} in this organization")
    return _item(row)


def org_follow_ups(
    *,
    conn: Connection,
    org_id: int,
    now: datetime,
    status: Status | None = "open",
    page: int = 1,
    per_page: int = 50,
) -> FollowUpList:
    """A page of one org's follow-ups (open ones soonest due first) with open/overdue counts."""
    require_org(conn, org_id)
    _page_bounds(page, per_page)
    params = {"org": org_id, "now": now, "status": status}
    org = conn.execute(queries.org_header(), params).one_or_none()
    if org is None:
        raise NotFound(f"no organization {org_id}")
    total, open_count, overdue = conn.execute(queries.org_counts(), params).one()
    rows = conn.execute(
        queries.org_items(), {**params, "limit": per_page, "offset": (page - 1) * per_page}
    )
    return FollowUpList(
        org_slug=org[0], org_name=org[1], today=org[2], status=status,
        items=[_item(r) for r in rows], total=total, page=page, per_page=per_page,
        open=open_count, overdue=overdue,
    )


def overview(
    *,
    conn: Connection,
    org_ids: list[int],
    now: datetime,
    owner_user_id: int | None,
    status: Status | None = "open",
    page: int = 1,
    per_page: int = 50,
) -> FollowUpOverview:
    """Open/overdue counts per org over ``org_ids`` and a page of their items (one owner's)."""
    _page_bounds(page, per_page)
    params = {"orgs": sorted(org_ids), "now": now, "owner": owner_user_id, "status": status}
    orgs = [
        OrgCounts(slug=r[0], name=r[1], open=r[2], overdue=r[3])
        for r in conn.execute(queries.counts_per_org(), params)
    ]
    total = int(conn.execute(queries.scope_total(), params).scalar_one())
    rows = conn.execute(
        queries.scope_items(), {**params, "limit": per_page, "offset": (page - 1) * per_page}
    )
    return FollowUpOverview(
        as_of=now, owner_user_id=owner_user_id, status=status, orgs=orgs,
        items=[_item(r) for r in rows], total=total, page=page, per_page=per_page,
    )
