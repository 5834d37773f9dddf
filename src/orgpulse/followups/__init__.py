"""Follow-up action items on an org, optionally raised from an alert."""

from orgpulse.followups.service import (
    FollowUp,
    FollowUpList,
    FollowUpOverview,
    OrgCounts,
    org_follow_ups,
    overview,
)

__all__ = [
    "FollowUp",
    "FollowUpList",
    "FollowUpOverview",
    "OrgCounts",
    "org_follow_ups",
    "overview",
]
