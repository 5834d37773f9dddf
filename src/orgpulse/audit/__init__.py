"""Audit records: every read of analytics data, every export, every admin change."""

from orgpulse.audit.service import AuditContext, record

__all__ = ["AuditContext", "record"]
