"""Dashboards: one service function per view, rendered as HTML, JSON (and later CSV/PDF)."""

from orgpulse.dashboards.service import OrgOverview, OrgSummary, list_orgs, org_overview

__all__ = ["OrgOverview", "OrgSummary", "list_orgs", "org_overview"]
