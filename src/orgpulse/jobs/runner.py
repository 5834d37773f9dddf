"""Run named jobs once across all nodes (PostgreSQL advisory lock) and record each run."""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Callable

from sqlalchemy import Connection, Engine, text

from orgpulse.core import clock
from orgpulse.core.config import Settings
from orgpulse.core.db import app_engine, owner_engine
from orgpulse.core.migrate import ensure_partitions

log = logging.getLogger(__name__)


def run_job(engine: Engine, name: str, work: Callable[[Connection], str]) -> str:
    """Run ``work`` under a transaction-scoped advisory lock; return 'skipped', or its status.

    The run is recorded in ``job_runs`` (running → succeeded/failed) in separate transactions,
    so a failure is visible on the health endpoint even though the work itself rolled back.
    """
    lock_key = zlib.crc32(name.encode())
    with engine.begin() as conn:
        run_id = conn.execute(
            text("INSERT INTO job_runs (job) VALUES (:j) RETURNING run_id"), {"j": name}
        ).scalar_one()
    status, detail = "succeeded", ""
    try:
        with engine.begin() as conn:
            locked = conn.execute(
                text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": lock_key}
            ).scalar()
            if not locked:
                status, detail = "succeeded", "skipped: another node is running it"
            else:
                detail = work(conn)
    except Exception as exc:
        log.exception("job %s failed", name)
        status, detail = "failed", f"{type(exc).__name__}: {exc}"[:500]
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE job_runs SET status = :s, detail = :d, finished_at = now()"
                " WHERE run_id = :r"
            ),
            {"s": status, "d": detail, "r": run_id},
        )
    return status


def maintain_partitions(settings: Settings) -> str:
    def work(conn: Connection) -> str:
        created = ensure_partitions(conn, settings=settings)
        return f"created {len(created)} partitions" if created else "partitions up to date"

    return run_job(owner_engine(settings), "partitions", work)


def refresh_health(settings: Settings) -> str:
    """Re-score today's health snapshot of every org with new activity."""
    from orgpulse.catalog import catalog_of
    from orgpulse.health.snapshots import refresh_snapshots

    def work(conn: Connection) -> str:
        return refresh_snapshots(conn, catalog=catalog_of(settings), now=clock.now())

    return run_job(app_engine(settings), "health_snapshots", work)


# (job, seconds between runs)
SCHEDULE: tuple[tuple[Callable[[Settings], str], int], ...] = (
    (maintain_partitions, 3600),
    (refresh_health, 300),
)


def start_scheduler(settings: Settings, *, tick_seconds: int = 15) -> threading.Event:
    """Start the job loop in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    next_run = [0.0] * len(SCHEDULE)

    def loop() -> None:
        while not stop.is_set():
            for i, (job, every) in enumerate(SCHEDULE):
                if time.monotonic() >= next_run[i]:
                    next_run[i] = time.monotonic() + every
                    try:
                        job(settings)
                    except Exception:
                        log.exception("scheduled job %s failed", job.__name__)
            stop.wait(tick_seconds)

    threading.Thread(target=loop, name="orgpulse-scheduler", daemon=True).start()
    return stop
