"""Who may have which report: one decision shared by the download routes and the mailing job.

Why one function: a subscription is rendered with the recipient's permissions at send time, so
the job must refuse exactly what the routes refuse. The rules are those of
``web.deps.check_org_access`` (role, aggregate-only viewers) plus the aggregate export's BAA
gate; below-k quarters are refused after the report is computed (``service.employer_quarterly``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Connection, text

from orgpulse.auth import Permission, Principal, grants
from orgpulse.core.tenancy import TenantScope, apply_scope
from orgpulse.dashboards.baa import baa_status
from orgpulse.privacy import ViewerPrivacy
from orgpulse.web.deps import OrgAccess

Report = Literal["business_review", "portfolio", "employer_quarterly"]
REPORTS: tuple[Report, ...] = ("business_review", "portfolio", "employer_quarterly")
REPORT_TITLES: dict[str, str] = {
    "business_review": "Account business review",
    "portfolio": "Portfolio summary",
    "employer_quarterly": "Employer quarterly report",
}
RefusalReason = Literal[
    "inactive", "role", "aggregate_only", "baa_required", "below_k", "not_started", "no_accounts"
]
PERMISSION_OF: dict[str, Permission] = {
    "business_review": Permission.VIEW_ORG_ANALYTICS,
    "employer_quarterly": Permission.VIEW_AGGREGATES,
}


@dataclass(frozen=True)
class Refusal:
    """Why a report is not given to this user (``reason``) and what to tell them."""

    reason: RefusalReason
    message: str


def org_report_access(
    conn: Connection,
    *,
    principal: Principal,
    org_id: int | None,
    ref: str,
    report: Report,
    baa_version: str,
) -> OrgAccess | Refusal:
    """Decide whether ``principal`` gets ``report`` of the org; leaves the connection scoped to
    the principal. ``org_id`` None (an unknown org) is refused like a foreign one."""
    permission = PERMISSION_OF[report]
    role = principal.role_in(org_id) if org_id is not None else None
    aggregate_reader = grants(role, Permission.VIEW_AGGREGATES)
    allowed = grants(role, permission) or (
        permission == Permission.VIEW_ORG_ANALYTICS and aggregate_reader
    )
    if org_id is None or role is None or not allowed:
        return Refusal("role", f"you do not have access to organization {ref!r}")
    apply_scope(conn, principal.scope())
    row = conn.execute(
        text("SELECT slug, name, privacy_mode, min_cohort_size FROM orgs WHERE org_id = :o"),
        {"o": org_id},
    ).one()
    privacy = ViewerPrivacy.of(role=role, mode=row[2], min_cohort_size=row[3])
    if permission == Permission.VIEW_ORG_ANALYTICS and privacy.aggregate_only:
        return Refusal(
            "aggregate_only",
            f"organization {row[0]!r} is shown to you as privacy-safe aggregates only; "
            f"the employer quarterly report is available at "
            f"/orgs/{row[0]}/reports/employer-quarterly.pdf",
        )
    membership = principal.memberships.get(org_id)
    access = OrgAccess(
        org_id=org_id,
        slug=row[0],
        name=row[1],
        role=role,
        principal=principal,
        privacy=privacy,
        unit_ids=membership.unit_ids if membership else (),
    )
    if report == "employer_quarterly":
        apply_scope(conn, TenantScope.of([org_id], user_id=principal.user_id))
        baa = baa_status(
            conn=conn, org_id=org_id, user_id=principal.user_id, version=baa_version
        )
        apply_scope(conn, principal.scope())
        if not baa.accepted:
            return Refusal(
                "baa_required",
                f"accept the Business Associate Agreement (version {baa_version}) for this "
                f"organization before exporting: open /orgs/{row[0]}/baa",
            )
    return access
