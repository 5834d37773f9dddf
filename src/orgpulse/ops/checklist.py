"""The deployment checklist: ten items per org, a pure status machine, and system signals.

Stored rows hold what people set; signals (events, snapshots, an admin's visit) are derived on
every read up to a given local day, so the page, the JSON and the health score's
``checklist_completion`` metric always agree and never lag the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import Connection

from orgpulse.audit import AuditContext, record
from orgpulse.core.errors import Conflict, InvalidInput, NotFound
from orgpulse.core.tenancy import require_org
from orgpulse.ops import queries
from orgpulse.ops.rollout import RolloutMode

RUNBOOKS = "/docs/runbooks/"
ROSTER_SYNCED = "Roster Sync Completed"
SSO_CONFIGURED = "SSO Configured"
LMS_CONNECTED = "LMS Connected"
FIRST_ASSIGNMENT = "Assignment Created"
SIGNAL_EVENTS = (ROSTER_SYNCED, SSO_CONFIGURED, LMS_CONNECTED, FIRST_ASSIGNMENT)


class Status(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    COMPLETE = "complete"
    BLOCKED = "blocked"


# Every allowed (from, to). Blocked must be unblocked (in progress or not started) before it
# completes; complete only reopens to in progress; blocked -> blocked updates the reason.
TRANSITIONS: frozenset[tuple[Status, Status]] = frozenset(
    {
        (Status.NOT_STARTED, Status.IN_PROGRESS),
        (Status.NOT_STARTED, Status.COMPLETE),
        (Status.NOT_STARTED, Status.BLOCKED),
        (Status.IN_PROGRESS, Status.NOT_STARTED),
        (Status.IN_PROGRESS, Status.COMPLETE),
        (Status.IN_PROGRESS, Status.BLOCKED),
        (Status.BLOCKED, Status.BLOCKED),
        (Status.BLOCKED, Status.IN_PROGRESS),
        (Status.BLOCKED, Status.NOT_STARTED),
        (Status.COMPLETE, Status.IN_PROGRESS),
    }
)


def check_transition(current: Status, target: Status, reason: str | None) -> str | None:
    """Return the blocked reason to store for ``current -> target``, or raise why it is refused."""
    if (current, target) not in TRANSITIONS:
        raise Conflict(
            f"an item that is {current.value.replace('_', ' ')} cannot move to"
            f" {target.value.replace('_', ' ')}",
            details=[{"field": "status", "problem": f"{current.value} -> {target.value}"}],
        )
    cleaned = (reason or "").strip()
    if target == Status.BLOCKED:
        if not cleaned:
            raise InvalidInput(
                "a blocked item needs a reason",
                details=[{"field": "reason", "problem": "required when blocked"}],
            )
        return cleaned[:500]
    return None


@dataclass(frozen=True)
class ItemSpec:
    key: str
    title: str
    owner_role: str
    runbook: str
    signal: str | None  # what completes it by itself; None: only people do
    focus: frozenset[RolloutMode]


ITEMS: tuple[ItemSpec, ...] = (
    ItemSpec("tenant_setup", "Confirm tenant setup (schools, admins)", "org_admin",
             "deployment-checklist", "at least one school and one org admin account exist",
             frozenset(RolloutMode)),
    ItemSpec("sso_scim", "Configure SSO/SCIM (if used)", "it_admin", "sso-misconfiguration",
             f"an {SSO_CONFIGURED!r} event", frozenset({RolloutMode.FULL})),
    ItemSpec("rostering", "Connect rostering (Clever/ClassLink) or manual import", "it_admin",
             "rostering-sync-failures", f"a {ROSTER_SYNCED!r} event",
             frozenset(RolloutMode)),
    ItemSpec("policies", "Configure policies (retention, subgroup reporting, practice mode)",
             "org_admin", "deployment-checklist", None,
             frozenset({RolloutMode.PHASED, RolloutMode.FULL})),
    ItemSpec("lms_integration", "LMS integration (Classroom/Teams/Canvas)", "it_admin",
             "deployment-checklist", f"an {LMS_CONNECTED!r} event",
             frozenset({RolloutMode.FULL})),
    ItemSpec("first_assessment", "Pilot: assign first assessment template", "unit_admin",
             "usage", f"an {FIRST_ASSIGNMENT!r} event", frozenset({RolloutMode.PILOT})),
    ItemSpec("review_results", "Review initial results and adjust", "org_admin",
             "reporting-discrepancies", None, frozenset({RolloutMode.PILOT})),
    ItemSpec("activate_teachers", "Scale: invite/activate teachers", "unit_admin", "activation",
             None, frozenset({RolloutMode.PHASED, RolloutMode.FULL})),
    ItemSpec("month1_health_check", "Month 1 health check", "org_admin", "org-analytics-support",
             "a health snapshot 30 or more days after launch, and an org admin viewing the"
             " health page since then", frozenset({RolloutMode.PHASED, RolloutMode.FULL})),
    ItemSpec("month3_impact_snapshot", "Month 3 impact snapshot", "org_admin",
             "org-analytics-support", "a health snapshot 90 or more days after launch",
             frozenset({RolloutMode.FULL})),
)
ITEM_KEYS = tuple(i.key for i in ITEMS)
MODE_FOCUS_NOTE = {
    RolloutMode.PILOT: "A pilot focuses on early activation: setup, rostering, a first"
    " assessment and a first review of results.",
    RolloutMode.PHASED: "A phased rollout focuses on bringing each school in: rostering,"
    " policies, activating teachers school by school and the month-1 check.",
    RolloutMode.FULL: "A full launch focuses on coverage: identity, rostering, the LMS,"
    " activating every teacher and the month-1 and month-3 checks.",
}


class Signal(BaseModel):
    """Why the system considers an item (or wizard step) done, and since when."""

    reason: str
    since: date | datetime


class ChecklistItem(BaseModel):
    key: str
    number: int
    title: str
    owner_role: str
    how_to: str
    status: Status
    stored_status: Status
    blocked_reason: str | None
    auto_completed: bool
    auto_reason: str | None
    auto_signal: str | None
    focus: bool
    updated_by: str | None
    updated_at: datetime | None


class Checklist(BaseModel):
    items: list[ChecklistItem]
    complete: int
    total: int
    completion: float
    focus_note: str | None


@dataclass(frozen=True)
class StoredItem:
    status: Status
    blocked_reason: str | None
    updated_by: str | None
    updated_at: datetime | None


def effective_items(
    *, stored: dict[str, StoredItem], signals: dict[str, Signal], mode: RolloutMode | None
) -> Checklist:
    """Combine stored statuses and system signals: a present signal makes the item complete."""
    items = []
    for number, spec in enumerate(ITEMS, start=1):
        row = stored.get(spec.key)
        stored_status = row.status if row else Status.NOT_STARTED
        signal = signals.get(spec.key)
        auto = signal is not None and stored_status != Status.COMPLETE
        items.append(
            ChecklistItem(
                key=spec.key,
                number=number,
                title=spec.title,
                owner_role=spec.owner_role,
                how_to=RUNBOOKS + spec.runbook,
                status=Status.COMPLETE if signal is not None else stored_status,
                stored_status=stored_status,
                blocked_reason=row.blocked_reason if row and not auto else None,
                auto_completed=auto,
                auto_reason=signal.reason if signal is not None else None,
                auto_signal=spec.signal,
                focus=mode is not None and mode in spec.focus,
                updated_by=row.updated_by if row else None,
                updated_at=row.updated_at if row else None,
            )
        )
    done = sum(1 for i in items if i.status == Status.COMPLETE)
    return Checklist(
        items=items,
        complete=done,
        total=len(items),
        completion=done / len(items),
        focus_note=MODE_FOCUS_NOTE[mode] if mode else None,
    )


def _local_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def checklist_signals(
    *, conn: Connection, org_id: int, until: date, timezone: str
) -> dict[str, Signal]:
    """The system signals present up to the end of the org-local day ``until``."""
    require_org(conn, org_id)
    firsts: dict[str, date] = {
        r[0]: r[1]
        for r in conn.execute(
            queries.first_event_days(),
            {"org": org_id, "names": list(SIGNAL_EVENTS), "until": until},
        )
    }
    signals: dict[str, Signal] = {}
    for key, name in (
        ("sso_scim", SSO_CONFIGURED),
        ("rostering", ROSTER_SYNCED),
        ("lms_integration", LMS_CONNECTED),
        ("first_assessment", FIRST_ASSIGNMENT),
    ):
        if name in firsts:
            day = firsts[name]
            signals[key] = Signal(reason=f"first {name!r} event on {day.isoformat()}", since=day)
    units, admins = conn.execute(queries.setup_counts(), {"org": org_id}).one()
    if units and admins:
        signals["tenant_setup"] = Signal(
            reason=f"{units} school(s) and {admins} org admin account(s) set up", since=until
        )
    rollout = conn.execute(queries.rollout_row(), {"org": org_id}).one_or_none()
    if rollout is not None:
        zone = ZoneInfo(timezone)
        launch: date = rollout[3]
        month1 = conn.execute(
            queries.first_snapshot_from(),
            {"org": org_id, "since": launch + timedelta(days=30), "until": until},
        ).scalar_one()
        if month1 is not None:
            viewed = conn.execute(
                queries.first_admin_health_view(),
                {"org": org_id, "start": _local_start(month1, zone)},
            ).scalar_one()
            if viewed is not None:
                signals["month1_health_check"] = Signal(
                    reason=f"health snapshot of {month1.isoformat()} (launch"
                    f" {launch.isoformat()}) viewed by an org admin on"
                    f" {viewed.astimezone(zone).date().isoformat()}",
                    since=viewed,
                )
        month3 = conn.execute(
            queries.first_snapshot_from(),
            {"org": org_id, "since": launch + timedelta(days=90), "until": until},
        ).scalar_one()
        if month3 is not None:
            signals["month3_impact_snapshot"] = Signal(
                reason=f"health snapshot of {month3.isoformat()}, 90 or more days after launch"
                f" {launch.isoformat()}",
                since=month3,
            )
    return signals


def stored_items(*, conn: Connection, org_id: int) -> dict[str, StoredItem]:
    require_org(conn, org_id)
    return {
        r[0]: StoredItem(Status(r[1]), r[2], r[4], r[5])
        for r in conn.execute(queries.checklist_rows(), {"org": org_id})
    }


def org_checklist(
    *, conn: Connection, org_id: int, until: date, timezone: str, mode: RolloutMode | None
) -> Checklist:
    """Return the org's checklist as of the end of local day ``until``."""
    return effective_items(
        stored=stored_items(conn=conn, org_id=org_id),
        signals=checklist_signals(conn=conn, org_id=org_id, until=until, timezone=timezone),
        mode=mode,
    )


def checklist_completion(
    *, conn: Connection, org_id: int, until: date, timezone: str
) -> tuple[int, int] | None:
    """(complete, total) for the health score; None while the checklist is not in use."""
    require_org(conn, org_id)
    if not conn.execute(queries.checklist_in_use(), {"org": org_id}).scalar_one():
        return None
    checklist = org_checklist(
        conn=conn, org_id=org_id, until=until, timezone=timezone, mode=None
    )
    return checklist.complete, checklist.total


class ItemChange(BaseModel):
    org_id: int
    item: str
    before: dict[str, str | None]
    after: dict[str, str | None]


def set_item_status(
    *,
    conn: Connection,
    org_id: int,
    item: str,
    status: Status,
    reason: str | None,
    actor_user_id: int | None,
    ctx: AuditContext,
    now: datetime,
) -> ItemChange:
    """Move one checklist item along the status machine; audited with before/after."""
    require_org(conn, org_id)
    if item not in ITEM_KEYS:
        raise NotFound(f"no checklist item {item!r}; items: {', '.join(ITEM_KEYS)}")
    row = conn.execute(queries.checklist_row_for_update(), {"org": org_id, "key": item}).first()
    current = Status(row[0]) if row else Status.NOT_STARTED
    stored_reason = check_transition(current, status, reason)
    conn.execute(
        queries.upsert_checklist_item(),
        {"org": org_id, "key": item, "status": status.value, "reason": stored_reason,
         "by": actor_user_id, "at": now},
    )
    before = {"status": current.value, "blocked_reason": row[1] if row else None}
    after = {"status": status.value, "blocked_reason": stored_reason}
    record(
        conn,
        ctx=ctx,
        action="admin.checklist_item_changed",
        org_id=org_id,
        target=item,
        details={"before": before, "after": after},
    )
    return ItemChange(org_id=org_id, item=item, before=before, after=after)
