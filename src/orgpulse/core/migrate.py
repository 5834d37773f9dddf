"""Schema upgrades (as the owner) and event-partition maintenance."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text

from orgpulse.core import clock
from orgpulse.core.config import Settings, app_db_password
from orgpulse.core.db import owner_engine

log = logging.getLogger(__name__)

_ROOT = Path(__file__).resolve().parents[3]


def _alembic_config() -> Config:
    ini = _ROOT / "alembic.ini"
    if not ini.exists():
        raise RuntimeError(f"alembic.ini not found at {ini}; run from a source checkout")
    return Config(str(ini))


def upgrade(settings: Settings) -> None:
    """Run migrations to head as the owner, then create the event partitions needed."""
    cfg = _alembic_config()
    with owner_engine(settings).connect() as conn:
        cfg.attributes["connection"] = conn
        cfg.attributes["app_role"] = settings.app_db_role
        cfg.attributes["app_password"] = app_db_password(settings)
        command.upgrade(cfg, "head")
        conn.commit()
    with owner_engine(settings).begin() as conn:
        ensure_partitions(conn, settings=settings)


def _month_start(d: date) -> date:
    return d.replace(day=1)


def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    return date(d.year + y, m + 1, 1)


def partition_months(settings: Settings, today: date) -> list[date]:
    """Return the first day of every month that must have an events partition."""
    first = _month_start(today - timedelta(days=settings.retention_days + 1))
    last = _add_months(_month_start(today), settings.partitions_ahead_months)
    months = []
    cur = first
    while cur <= last:
        months.append(cur)
        cur = _add_months(cur, 1)
    return months


def ensure_partitions(conn: Connection, *, settings: Settings) -> list[str]:
    """Create missing monthly partitions of ``events`` (owner connection); return those created.

    Each partition gets RLS forced too, so even a direct query on a partition is fail-closed.
    """
    existing = {
        r[0]
        for r in conn.execute(
            text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'events'"
            )
        )
    }
    created = []
    for start in partition_months(settings, clock.now().date()):
        name = f"events_{start:%Y_%m}"
        if name in existing:
            continue
        end = _add_months(start, 1)
        conn.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF events "
                f"FOR VALUES FROM ('{start.isoformat()} 00:00+00')"
                f" TO ('{end.isoformat()} 00:00+00')"
            )
        )
        conn.execute(text(f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY"))
        conn.execute(text(f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY"))
        created.append(name)
    if created:
        log.info("created event partitions: %s", ", ".join(created))
    return created
