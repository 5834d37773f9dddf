"""Audit records: every read of analytics data, every export, every admin change."""

from orgpulse.audit.chain import BrokenLink, ChainReport, count_records, verify_chain
from orgpulse.audit.service import AuditContext, ExportKind, record

__all__ = [
    "AuditContext",
    "BrokenLink",
    "ChainReport",
    "ExportKind",
    "count_records",
    "record",
    "verify_chain",
]
