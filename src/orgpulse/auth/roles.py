"""Roles and what each may do. One table, read by every route's permission check."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    PLATFORM_ADMIN = "platform_admin"
    CS_LEADER = "cs_leader"
    ACCOUNT_MANAGER = "account_manager"
    SUPPORT = "support"
    ORG_ADMIN = "org_admin"
    UNIT_ADMIN = "unit_admin"
    EMPLOYER_VIEWER = "employer_viewer"
    HR_SUBMITTER = "hr_submitter"
    MEMBER = "member"


STAFF_ROLES = frozenset({Role.PLATFORM_ADMIN, Role.CS_LEADER, Role.ACCOUNT_MANAGER, Role.SUPPORT})
# Staff roles whose scope is every org; an account manager's scope is their memberships.
ALL_ORG_ROLES = frozenset({Role.PLATFORM_ADMIN, Role.CS_LEADER, Role.SUPPORT})
MEMBERSHIP_ROLES = frozenset(
    {
        Role.ACCOUNT_MANAGER,
        Role.ORG_ADMIN,
        Role.UNIT_ADMIN,
        Role.EMPLOYER_VIEWER,
        Role.HR_SUBMITTER,
        Role.MEMBER,
    }
)


class Permission(StrEnum):
    # Detailed analytics: rows, ad-hoc ranges and filters (never for aggregate-only viewers).
    VIEW_ORG_ANALYTICS = "view_org_analytics"
    # The suppressed aggregate view: predefined periods and breakdowns only.
    VIEW_AGGREGATES = "view_aggregates"
    VIEW_PLATFORM = "view_platform"
    # Cohort risk analytics (risk flags, interventions; student names in the CSV).
    VIEW_COHORT_RISK = "view_cohort_risk"
    MANAGE_PLATFORM = "manage_platform"
    # Pre-aggregated HR metrics: submitting them, and listing the submitted versions.
    SUBMIT_HR_METRICS = "submit_hr_metrics"
    VIEW_HR_SUBMISSIONS = "view_hr_submissions"
    # Rollout mode, deployment checklist and onboarding wizard: reading them, and changing them.
    VIEW_ROLLOUT = "view_rollout"
    MANAGE_ROLLOUT = "manage_rollout"
    # Implementation banners on org pages, and dismissing them for oneself.
    SEE_BANNERS = "see_banners"
    # Filing a support request about an org and following one's own requests.
    FILE_SUPPORT_REQUEST = "file_support_request"
    # The diagnostics panel: aggregates and scrubbed error snippets of one org.
    VIEW_DIAGNOSTICS = "view_diagnostics"
    # The support queue: every request of the org, its context, screenshot and status changes.
    MANAGE_SUPPORT_REQUESTS = "manage_support_requests"
    # Follow-up action items of an org: listing them, creating them, changing them.
    MANAGE_FOLLOW_UPS = "manage_follow_ups"


_GRANTS: dict[Permission, frozenset[Role]] = {
    # Employer viewers never get detailed analytics: only the suppressed aggregate view.
    Permission.VIEW_ORG_ANALYTICS: frozenset(
        {
            Role.PLATFORM_ADMIN,
            Role.CS_LEADER,
            Role.ACCOUNT_MANAGER,
            Role.SUPPORT,
            Role.ORG_ADMIN,
            Role.UNIT_ADMIN,
        }
    ),
    Permission.VIEW_AGGREGATES: frozenset(
        {
            Role.PLATFORM_ADMIN,
            Role.CS_LEADER,
            Role.ACCOUNT_MANAGER,
            Role.SUPPORT,
            Role.ORG_ADMIN,
            Role.UNIT_ADMIN,
            Role.EMPLOYER_VIEWER,
        }
    ),
    Permission.VIEW_PLATFORM: frozenset({Role.PLATFORM_ADMIN, Role.CS_LEADER, Role.SUPPORT}),
    # Institutional admins of the org and platform admins only: student-level risk data.
    Permission.VIEW_COHORT_RISK: frozenset({Role.PLATFORM_ADMIN, Role.ORG_ADMIN}),
    Permission.MANAGE_PLATFORM: frozenset({Role.PLATFORM_ADMIN}),
    # Only the org's HR coordinator submits; nobody else, staff included, writes HR figures.
    Permission.SUBMIT_HR_METRICS: frozenset({Role.HR_SUBMITTER}),
    # The version list shows periods and cohort sizes, never the values.
    Permission.VIEW_HR_SUBMISSIONS: frozenset(
        {Role.HR_SUBMITTER, Role.ORG_ADMIN, Role.PLATFORM_ADMIN}
    ),
    # Unit (school) admins see what is left to set up, read-only; staff see it to help.
    Permission.VIEW_ROLLOUT: frozenset(
        {
            Role.PLATFORM_ADMIN,
            Role.CS_LEADER,
            Role.ACCOUNT_MANAGER,
            Role.SUPPORT,
            Role.ORG_ADMIN,
            Role.UNIT_ADMIN,
        }
    ),
    # The org's own (district) admins and platform admins decide the rollout.
    Permission.MANAGE_ROLLOUT: frozenset({Role.PLATFORM_ADMIN, Role.ORG_ADMIN}),
    Permission.SEE_BANNERS: frozenset(Role),
    Permission.FILE_SUPPORT_REQUEST: frozenset(Role),
    Permission.VIEW_DIAGNOSTICS: frozenset({Role.PLATFORM_ADMIN, Role.SUPPORT, Role.ORG_ADMIN}),
    Permission.MANAGE_SUPPORT_REQUESTS: frozenset({Role.PLATFORM_ADMIN, Role.SUPPORT}),
    # Customer-success work items: staff with reach and the org's own admins (no unit admins,
    # employer viewers or members).
    Permission.MANAGE_FOLLOW_UPS: frozenset(
        {
            Role.PLATFORM_ADMIN,
            Role.CS_LEADER,
            Role.ACCOUNT_MANAGER,
            Role.SUPPORT,
            Role.ORG_ADMIN,
        }
    ),
}


def grants(role: Role | None, permission: Permission) -> bool:
    """Return whether ``role`` holds ``permission``."""
    return role is not None and role in _GRANTS[permission]
