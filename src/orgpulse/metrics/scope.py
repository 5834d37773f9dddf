"""What part of an org a view covers: the org itself, and the units the viewer picked or may see."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel
from sqlalchemy import Connection, text

from orgpulse.core.errors import InvalidInput
from orgpulse.core.tenancy import require_org


class UnitRef(BaseModel):
    external_id: str
    name: str
    kind: str


@dataclass(frozen=True)
class OrgView:
    """An org as one viewer sees it: ``unit_ids`` None means the whole org."""

    org_id: int
    slug: str
    name: str
    external_id: str
    timezone: str
    kind: str | None
    units: list[UnitRef]
    unit: UnitRef | None
    unit_ids: list[int] | None
    rollout_mode: str | None = None


def org_view(
    conn: Connection,
    *,
    org_id: int,
    unit_ref: str | None = None,
    allowed_unit_ids: tuple[int, ...] | None = None,
) -> OrgView:
    """Resolve the org and the unit filter; a unit admin (``allowed_unit_ids``) is held to theirs.

    An unknown unit, or one outside ``allowed_unit_ids``, is a 422 naming it.
    """
    require_org(conn, org_id)
    header = conn.execute(
        text(
            "SELECT slug, name, external_id, timezone, traits ->> 'kind',"
            " (SELECT r.mode FROM rollout_settings r WHERE r.org_id = orgs.org_id)"
            " FROM orgs WHERE org_id = :o"
        ),
        {"o": org_id},
    ).one()
    units = [
        (r[0], UnitRef(external_id=r[1], name=r[2], kind=r[3]))
        for r in conn.execute(
            text(
                "SELECT unit_id, external_id, name, kind FROM units WHERE org_id = :o ORDER BY name"
            ),
            {"o": org_id},
        )
    ]
    if allowed_unit_ids is not None:
        units = [u for u in units if u[0] in allowed_unit_ids]
    selected: UnitRef | None = None
    unit_ids = list(allowed_unit_ids) if allowed_unit_ids is not None else None
    if unit_ref:
        match = [u for u in units if u[1].external_id == unit_ref]
        if not match:
            raise InvalidInput(f"unknown unit {unit_ref!r} for this organization")
        unit_ids, selected = [match[0][0]], match[0][1]
    return OrgView(
        org_id=org_id,
        slug=header[0],
        name=header[1],
        external_id=header[2],
        timezone=header[3],
        kind=header[4],
        units=[u[1] for u in units],
        unit=selected,
        unit_ids=unit_ids,
        rollout_mode=header[5],
    )
