"""One service for the onboarding page and its JSON: rollout mode, wizard and checklist."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import Connection, text

from orgpulse.catalog import Catalog
from orgpulse.core import clock
from orgpulse.core.tenancy import require_org
from orgpulse.ops.checklist import Checklist, checklist_signals, effective_items, stored_items
from orgpulse.ops.rollout import MODE_LABELS, Rollout, RolloutMode, current_rollout
from orgpulse.ops.wizard import Wizard, org_wizard


class ModeOption(BaseModel):
    value: RolloutMode
    label: str


class Onboarding(BaseModel):
    org_id: int
    slug: str
    name: str
    as_of: datetime
    can_edit: bool
    rollout: Rollout
    modes: list[ModeOption]
    wizard: Wizard
    checklist: Checklist


def org_timezone(conn: Connection, org_id: int) -> tuple[str, str, str]:
    """The org's slug, name and timezone (the connection must be scoped to it)."""
    require_org(conn, org_id)
    row = conn.execute(
        text("SELECT slug, name, timezone FROM orgs WHERE org_id = :o"), {"o": org_id}
    ).one()
    return row[0], row[1], row[2]


def onboarding(
    *,
    conn: Connection,
    catalog: Catalog,
    org_id: int,
    now: datetime,
    can_edit: bool,
    allowed_unit_ids: tuple[int, ...] | None = None,
) -> Onboarding:
    """Return where the org stands: its mode, the wizard (resume point) and the checklist.

    ``allowed_unit_ids``: a unit admin's units; pilot schools and teachers elsewhere are
    counted, not named."""
    slug, name, timezone = org_timezone(conn, org_id)
    today = clock.local_date(now, timezone)
    rollout = current_rollout(conn=conn, org_id=org_id, allowed_unit_ids=allowed_unit_ids)
    mode = rollout.settings.mode if rollout.settings else None
    signals = checklist_signals(conn=conn, org_id=org_id, until=today, timezone=timezone)
    return Onboarding(
        org_id=org_id,
        slug=slug,
        name=name,
        as_of=now,
        can_edit=can_edit,
        rollout=rollout,
        modes=[ModeOption(value=m, label=MODE_LABELS[m]) for m in RolloutMode],
        wizard=org_wizard(conn=conn, catalog=catalog, org_id=org_id, until=today,
                          timezone=timezone, mode=mode, checklist=signals),
        checklist=effective_items(
            stored=stored_items(conn=conn, org_id=org_id), signals=signals, mode=mode
        ),
    )
