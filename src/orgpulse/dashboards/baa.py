"""Business Associate Agreement acceptances: who accepted which version for which org, and when.

Exports of the aggregate view are refused until the exporting user has accepted the current
version (``Settings.baa_version``) for that org. Acceptances are facts: inserted, never changed.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import Connection, text

from orgpulse.core.tenancy import require_org


class BaaStatus(BaseModel):
    """One user's acceptance of one BAA version for one org."""

    version: str
    accepted: bool
    accepted_at: datetime | None
    accepted_by: str | None


def baa_status(*, conn: Connection, org_id: int, user_id: int, version: str) -> BaaStatus:
    """Return whether the user accepted ``version`` of the BAA for the org, and when."""
    require_org(conn, org_id)
    row = conn.execute(
        text(
            "SELECT b.accepted_at, u.email FROM baa_acceptances b"
            " JOIN users u ON u.user_id = b.user_id"
            " WHERE b.org_id = :o AND b.user_id = :u AND b.version = :v"
        ),
        {"o": org_id, "u": user_id, "v": version},
    ).first()
    if row is None:
        return BaaStatus(version=version, accepted=False, accepted_at=None, accepted_by=None)
    return BaaStatus(version=version, accepted=True, accepted_at=row[0], accepted_by=row[1])


def accept_baa(
    *, conn: Connection, org_id: int, user_id: int, version: str, ip: str | None, now: datetime
) -> tuple[BaaStatus, bool]:
    """Record the user's acceptance of ``version`` (idempotent); return it and whether it is new.

    Accepting the same version again keeps the first acceptance (its time and address).
    """
    require_org(conn, org_id)
    inserted = conn.execute(
        text(
            "INSERT INTO baa_acceptances (org_id, user_id, version, ip, accepted_at)"
            " VALUES (:o, :u, :v, :ip, :now) ON CONFLICT (org_id, user_id, version) DO NOTHING"
            " RETURNING accepted_at"
        ),
        {"o": org_id, "u": user_id, "v": version, "ip": ip, "now": now},
    ).first()
    status = baa_status(conn=conn, org_id=org_id, user_id=user_id, version=version)
    return status, inserted is not None
