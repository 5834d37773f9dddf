"""The one place that reads the wall clock, so tests can pin time."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_frozen: datetime | None = None


def now() -> datetime:
    """Return the current time, timezone-aware UTC."""
    return _frozen if _frozen is not None else datetime.now(UTC)


def freeze(at: datetime | None) -> None:
    """Pin (or with ``None`` release) the clock; for tests and the demo generator."""
    global _frozen
    if at is not None and at.tzinfo is None:
        raise ValueError("frozen time must be timezone-aware")
    _frozen = at


def local_date(at: datetime, timezone: str) -> date:
    """Return the calendar date of ``at`` in an IANA timezone (an org's "today")."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return at.astimezone(zone).date()
