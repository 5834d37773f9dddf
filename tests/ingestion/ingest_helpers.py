"""Shared helpers of the ingestion tests: write-key auth, times, tenant-scoped reads."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine, text

from orgpulse.auth import resolve_org_ref
from orgpulse.core import clock
from orgpulse.core.tenancy import TenantScope, scoped, unscoped


def basic(key: str) -> dict[str, str]:
    """The Authorization header Segment clients send: the write key as the Basic username."""
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def days_ago(n: int) -> date:
    return clock.now().date() - timedelta(days=n)


def org_id(engine: Engine, external_id: str) -> int:
    with unscoped(engine) as conn:
        found = resolve_org_ref(conn, external_id)
    assert found is not None, f"no org {external_id!r}"
    return found


def scoped_rows(engine: Engine, org_ids: list[int], sql: str, **params: Any) -> list[tuple]:
    """Rows of ``sql`` in a transaction whose tenant scope is ``org_ids``."""
    with scoped(engine, TenantScope.of(org_ids)) as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def platform_rows(engine: Engine, sql: str, **params: Any) -> list[tuple]:
    """Rows of ``sql`` with no tenant scope (platform tables)."""
    with unscoped(engine) as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]
