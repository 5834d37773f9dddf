"""Ingest a batch: validate, write in one transaction, retry on deadlock, map outages to 503."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from orgpulse.catalog import catalog_of
from orgpulse.core import clock
from orgpulse.core.config import Settings
from orgpulse.core.errors import InvalidInput, ServiceUnavailable
from orgpulse.ingestion.validation import Limits, Message, validate_batch
from orgpulse.ingestion.writer import NO_PROJECTIONS, IngestResult, Projections, write_messages

log = logging.getLogger(__name__)

_RETRYABLE = {"40P01", "40001"}  # deadlock detected, serialization failure
MAX_ATTEMPTS = 4


def limits_from(settings: Settings) -> Limits:
    return Limits(
        retention_days=settings.retention_days,
        max_future_skew_seconds=settings.max_future_skew_seconds,
    )


def store_messages(
    *,
    engine: Engine,
    messages: list[Message],
    received_at: datetime,
    source: str,
    prior: IngestResult | None = None,
    projections: Projections = NO_PROJECTIONS,
) -> IngestResult:
    """Write validated messages in one transaction, retrying transient conflicts.

    ``prior`` carries what validation already decided (rejections, in-batch duplicates), so the
    result and the ``ingest_batches`` record account for the whole request.
    """
    for attempt in range(1, MAX_ATTEMPTS + 1):
        result = IngestResult(
            rejections=list(prior.rejections) if prior else [],
            duplicates=prior.duplicates if prior else 0,
        )
        committing = False
        try:
            with engine.connect() as conn, conn.begin():
                write_messages(
                    conn,
                    messages=messages,
                    received_at=received_at,
                    source=source,
                    result=result,
                    projections=projections,
                )
                committing = True
            return result
        except DBAPIError as exc:
            sqlstate = getattr(exc.orig, "sqlstate", None)
            if sqlstate in _RETRYABLE and attempt < MAX_ATTEMPTS:
                log.info("ingest retry %d after %s", attempt, sqlstate)
                time.sleep(0.01 * attempt)
                continue
            if isinstance(exc, OperationalError) or exc.connection_invalidated:
                raise ServiceUnavailable(_outage_message(committing), retry_after=5) from exc
            raise
    raise AssertionError("unreachable")


def _outage_message(committing: bool) -> str:
    """What a client may assume after an outage: a connection lost while the COMMIT was in
    flight may have committed (the server applied it, its reply was lost), so only a failure
    before the commit can promise that nothing was stored."""
    if committing:
        return (
            "the database connection was lost while committing; the request may have been"
            " stored: retry it, messages are idempotent on messageId"
        )
    return "the database is unavailable; nothing from this request was stored, retry it later"


def ingest(
    *,
    engine: Engine,
    settings: Settings,
    body: Any,
    source: str,
    implied_type: str | None = None,
) -> IngestResult:
    """Validate a decoded Segment request body and store what is valid; return the outcome."""
    received_at = clock.now()
    try:
        messages, rejections, in_batch_duplicates = validate_batch(
            body, received_at=received_at, limits=limits_from(settings), implied_type=implied_type
        )
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    result = IngestResult(rejections=list(rejections), duplicates=in_batch_duplicates)
    if messages:
        result = store_messages(
            engine=engine,
            messages=messages,
            received_at=received_at,
            source=source,
            prior=result,
            projections=Projections.of(catalog_of(settings)),
        )
    result.rejections.sort(key=lambda r: r.index)
    return result
