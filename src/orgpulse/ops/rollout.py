"""An org's rollout mode (pilot, phased, full launch): read it, change it (audited)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel
from sqlalchemy import Connection

from orgpulse.audit import AuditContext, record
from orgpulse.core.errors import InvalidInput
from orgpulse.core.tenancy import require_org
from orgpulse.ops import queries


class RolloutMode(StrEnum):
    PILOT = "pilot"
    PHASED = "phased"
    FULL = "full"


MODE_LABELS = {
    RolloutMode.PILOT: "Pilot (1–3 schools or selected teachers)",
    RolloutMode.PHASED: "Phased (school by school)",
    RolloutMode.FULL: "Full launch",
}


class RolloutSettings(BaseModel):
    """The stored mode; pilot units and members by their external ids (sorted)."""

    mode: RolloutMode
    pilot_units: list[str]
    pilot_members: list[str]
    launch_date: date


class Rollout(BaseModel):
    settings: RolloutSettings | None
    label: str | None
    updated_by: int | None
    updated_at: datetime | None
    # Pilot schools and teachers outside a unit admin's units: counted, not named.
    pilot_outside_your_units: int = 0


class RolloutChange(BaseModel):
    org_id: int
    before: RolloutSettings | None
    after: RolloutSettings


def _settings(
    conn: Connection, org_id: int, allowed_unit_ids: tuple[int, ...] | None = None
) -> tuple[RolloutSettings | None, list[int], list[int], int | None, datetime | None, int]:
    """The stored settings, and how many pilot entries lie outside ``allowed_unit_ids`` (None:
    the whole org is in reach); those are left out of the names."""
    row = conn.execute(queries.rollout_row(), {"org": org_id}).one_or_none()
    if row is None:
        return None, [], [], None, None, 0

    def reach(unit_id: int | None) -> bool:
        return allowed_unit_ids is None or unit_id in allowed_unit_ids

    unit_rows = conn.execute(queries.unit_names(), {"org": org_id, "ids": row[1]}).all()
    member_rows = conn.execute(queries.member_refs(), {"org": org_id, "ids": row[2]}).all()
    units = [r[1] for r in unit_rows if reach(r[0])]
    members = [r[1] for r in member_rows if reach(r[2])]
    outside = len(unit_rows) - len(units) + len(member_rows) - len(members)
    settings = RolloutSettings(
        mode=RolloutMode(row[0]),
        pilot_units=sorted(units),
        pilot_members=sorted(members),
        launch_date=row[3],
    )
    return settings, list(row[1]), list(row[2]), row[4], row[5], outside


def current_rollout(
    *, conn: Connection, org_id: int, allowed_unit_ids: tuple[int, ...] | None = None
) -> Rollout:
    """Return the org's rollout mode (``settings`` None: none chosen yet); a unit admin
    (``allowed_unit_ids``) sees the pilot schools and teachers of their units only."""
    require_org(conn, org_id)
    settings, _, _, by, at, outside = _settings(conn, org_id, allowed_unit_ids)
    return Rollout(
        settings=settings,
        label=MODE_LABELS[settings.mode] if settings else None,
        updated_by=by,
        updated_at=at,
        pilot_outside_your_units=outside,
    )


def pilot_scope(*, conn: Connection, org_id: int) -> tuple[list[int], list[int]]:
    """The pilot's unit ids and member ids (both empty: not a pilot, or a whole-org pilot)."""
    require_org(conn, org_id)
    settings, units, members, _, _, _ = _settings(conn, org_id)
    if settings is None or settings.mode != RolloutMode.PILOT:
        return [], []
    return units, members


def _resolve(conn: Connection, org_id: int, refs: list[str], *, kind: str) -> list[int]:
    wanted = sorted(set(refs))
    if not wanted:
        return []
    query = queries.units_by_external_id() if kind == "unit" else queries.members_by_external_id()
    found: dict[str, int] = {
        r[0]: r[1] for r in conn.execute(query, {"org": org_id, "refs": wanted})
    }
    unknown = [r for r in wanted if r not in found]
    if unknown:
        field = "pilot_units" if kind == "unit" else "pilot_members"
        raise InvalidInput(
            f"unknown {kind}s for this organization: {', '.join(unknown)}",
            details=[{"field": field, "problem": f"unknown {kind} {r!r}"} for r in unknown],
        )
    return sorted(found[r] for r in wanted)


def set_rollout(
    *,
    conn: Connection,
    org_id: int,
    mode: RolloutMode,
    pilot_units: list[str],
    pilot_members: list[str],
    launch_date: date | None,
    actor_user_id: int | None,
    ctx: AuditContext,
    now: datetime,
    today: date,
) -> RolloutChange:
    """Set the org's rollout mode (pilot units/members only in pilot mode), audited before/after.

    The launch date defaults to the one already stored, else ``today``: it anchors the month-1
    and month-3 checklist items, so changing the mode alone does not move it.
    """
    require_org(conn, org_id)
    if mode != RolloutMode.PILOT and (pilot_units or pilot_members):
        raise InvalidInput(
            "pilot units and members apply to the pilot mode only",
            details=[{"field": "mode", "problem": "choose pilot to select pilot units or members"}],
        )
    before, *_ = _settings(conn, org_id)
    unit_ids = _resolve(conn, org_id, pilot_units, kind="unit")
    member_ids = _resolve(conn, org_id, pilot_members, kind="member")
    launch = launch_date or (before.launch_date if before else today)
    conn.execute(
        queries.upsert_rollout(),
        {
            "org": org_id,
            "mode": mode.value,
            "units": unit_ids,
            "members": member_ids,
            "launch": launch,
            "by": actor_user_id,
            "at": now,
        },
    )
    after = RolloutSettings(
        mode=mode,
        pilot_units=sorted(set(pilot_units)),
        pilot_members=sorted(set(pilot_members)),
        launch_date=launch,
    )
    record(
        conn,
        ctx=ctx,
        action="admin.rollout_mode_changed",
        org_id=org_id,
        target=mode.value,
        details={
            "before": before.model_dump(mode="json") if before else None,
            "after": after.model_dump(mode="json"),
        },
    )
    return RolloutChange(org_id=org_id, before=before, after=after)
