"""Audit records: every read of analytics data, every export, every admin change."""

from orgpulse.audit.chain import BrokenLink, ChainReport, count_records, verify_chain
from orgpulse.audit.service import AuditContext, ExportKind, record
from orgpulse.audit.signals import SignalKind, Thresholds

__all__ = [
    "AuditContext",
    "BrokenLink",
    "ChainReport",
    "ExportKind",
    "SignalKind",
    "Thresholds",
    "count_records",
    "record",
    "verify_chain",
]
