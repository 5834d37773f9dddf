"""Runbooks and guides shipped with the package, rendered in the app."""

from orgpulse.guides.service import Runbook, RunbookSummary, list_runbooks, runbook

__all__ = ["Runbook", "RunbookSummary", "list_runbooks", "runbook"]
