"""Segment-spec ingestion: validation, attribution, idempotent writes and rollups."""

from orgpulse.ingestion.service import ingest, store_messages
from orgpulse.ingestion.validation import Limits, Message, Rejection, validate_batch
from orgpulse.ingestion.writer import IngestResult, ProjectedRows, Projections, reproject_org

__all__ = [
    "IngestResult",
    "Limits",
    "Message",
    "ProjectedRows",
    "Projections",
    "Rejection",
    "ingest",
    "reproject_org",
    "store_messages",
    "validate_batch",
]
