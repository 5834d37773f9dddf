"""Run named jobs once across all nodes (PostgreSQL advisory lock) and record each run."""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Callable

from sqlalchemy import Connection, Engine, text

from orgpulse.core.config import Settings
from orgpulse.core.db import owner_engine
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


def start_scheduler(settings: Settings, *, interval_seconds: int = 3600) -> threading.Event:
    """Start the maintenance loop in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                maintain_partitions(settings)
            except Exception:
                log.exception("scheduler iteration failed")
            stop.wait(interval_seconds)

    threading.Thread(target=loop, name="orgpulse-scheduler", daemon=True).start()
    return stop
