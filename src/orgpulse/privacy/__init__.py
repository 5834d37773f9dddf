"""Privacy: the minimum cohort policy, cell suppression and predefined reporting periods."""

from orgpulse.privacy.periods import ALLOWED_FORMS, Period, parse_period, period_from_dates
from orgpulse.privacy.policy import MIN_COHORT_SIZE, PrivacyMode, PrivacyPolicy, ViewerPrivacy
from orgpulse.privacy.settings import (
    PrivacyChange,
    PrivacySettings,
    current_privacy,
    set_privacy,
)
from orgpulse.privacy.suppression import (
    Cell,
    Node,
    PublishedSum,
    Reason,
    ShownCell,
    ShownNode,
    Status,
    SuppressedSeries,
    SuppressedTree,
    below_k,
    complete_suppression,
    suppress_series,
    suppress_tree,
)

__all__ = [
    "ALLOWED_FORMS",
    "MIN_COHORT_SIZE",
    "Cell",
    "Node",
    "Period",
    "PrivacyChange",
    "PrivacyMode",
    "PrivacyPolicy",
    "PrivacySettings",
    "PublishedSum",
    "Reason",
    "ShownCell",
    "ShownNode",
    "Status",
    "SuppressedSeries",
    "SuppressedTree",
    "ViewerPrivacy",
    "below_k",
    "complete_suppression",
    "current_privacy",
    "parse_period",
    "period_from_dates",
    "set_privacy",
    "suppress_series",
    "suppress_tree",
]
