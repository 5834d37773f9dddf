"""Change an org's privacy settings (mode and minimum cohort size), audited with before/after."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import Connection, text

from orgpulse.audit import AuditContext, record
from orgpulse.auth import Role
from orgpulse.core.errors import InvalidInput, PermissionDenied
from orgpulse.core.tenancy import require_org
from orgpulse.privacy.policy import MIN_COHORT_SIZE, PrivacyMode


class PrivacySettings(BaseModel):
    mode: PrivacyMode
    min_cohort_size: int


class PrivacyChange(BaseModel):
    org_id: int
    slug: str
    before: PrivacySettings
    after: PrivacySettings


def _loosening(before: PrivacySettings, after: PrivacySettings) -> list[str]:
    """Name every part of ``after`` that shows more than ``before`` (empty: a tightening)."""
    tried = []
    if before.mode == PrivacyMode.AGGREGATE_ONLY and after.mode == PrivacyMode.STANDARD:
        tried.append("switch aggregate_only off")
    if after.min_cohort_size < before.min_cohort_size:
        tried.append(
            f"lower the minimum cohort size from {before.min_cohort_size} to "
            f"{after.min_cohort_size}"
        )
    return tried


def current_privacy(*, conn: Connection, org_id: int) -> tuple[str, PrivacySettings]:
    """Return an org's slug and privacy settings (the connection must be scoped to it)."""
    require_org(conn, org_id)
    row = conn.execute(
        text("SELECT slug, privacy_mode, min_cohort_size FROM orgs WHERE org_id = :o"),
        {"o": org_id},
    ).one()
    return row[0], PrivacySettings(mode=PrivacyMode(row[1]), min_cohort_size=row[2])


def set_privacy(
    *,
    conn: Connection,
    org_id: int,
    mode: PrivacyMode | None,
    min_cohort_size: int | None,
    actor_role: Role,
    ctx: AuditContext,
) -> PrivacyChange:
    """Set an org's privacy mode and/or k; org admins may only tighten. Audited, same transaction.

    Why the role check lives here too (the route checks it first): the CLI and any future caller
    go through this function, and loosening privacy is the one change an org admin must not make.
    The floor of 10 is also a CHECK constraint, so no path can store less.
    """
    if min_cohort_size is not None and min_cohort_size < MIN_COHORT_SIZE:
        raise InvalidInput(
            f"minimum cohort size {min_cohort_size} is below the floor of {MIN_COHORT_SIZE}",
            details=[{"field": "min_cohort_size", "problem": f"at least {MIN_COHORT_SIZE}"}],
        )
    if actor_role not in (Role.PLATFORM_ADMIN, Role.ORG_ADMIN):
        raise PermissionDenied("only platform admins and org admins change privacy settings")
    slug, before = current_privacy(conn=conn, org_id=org_id)
    after = PrivacySettings(
        mode=mode if mode is not None else before.mode,
        min_cohort_size=min_cohort_size if min_cohort_size is not None else before.min_cohort_size,
    )
    if actor_role == Role.ORG_ADMIN:
        tried = _loosening(before, after)
        if tried:
            raise PermissionDenied(
                "org admins may only tighten privacy settings; you tried to " + " and ".join(tried)
            )
    conn.execute(
        text(
            "UPDATE orgs SET privacy_mode = :m, min_cohort_size = :k, updated_at = now()"
            " WHERE org_id = :o"
        ),
        {"m": after.mode.value, "k": after.min_cohort_size, "o": org_id},
    )
    record(
        conn,
        ctx=ctx,
        action="admin.privacy_changed",
        org_id=org_id,
        target=slug,
        details={"before": before.model_dump(mode="json"), "after": after.model_dump(mode="json")},
    )
    return PrivacyChange(org_id=org_id, slug=slug, before=before, after=after)
