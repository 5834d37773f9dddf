"""Fixtures of the ingestion tests: a pinned clock and a write key."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from ingest_helpers import basic

from orgpulse.core import clock


@pytest.fixture
def frozen_now() -> Iterator[datetime]:
    """Pin the clock (to the current second, so event partitions exist) for exact times."""
    now = datetime.now(UTC).replace(microsecond=0)
    clock.freeze(now)
    try:
        yield now
    finally:
        clock.freeze(None)


@pytest.fixture
def key(factory: Any) -> str:
    return str(factory.write_key())


@pytest.fixture
def auth(key: str) -> dict[str, str]:
    return basic(key)
