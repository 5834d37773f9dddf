"""Alerts: rules (shipped defaults, edited by admins), scheduled evaluation with dedup and
cooldown, routing to the in-app inbox, email and webhooks."""

from orgpulse.alerts.service import (
    AlertInbox,
    AlertItem,
    Evaluation,
    ensure_default_rules,
    evaluate_alerts,
    unread_count,
)

__all__ = [
    "AlertInbox",
    "AlertItem",
    "Evaluation",
    "ensure_default_rules",
    "evaluate_alerts",
    "unread_count",
]
