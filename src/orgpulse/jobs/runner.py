"""Run named jobs once across all nodes (PostgreSQL advisory lock) and record each run."""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text

from orgpulse.core.config import Settings

log = logging.getLogger(__name__)


@dataclass
class JobRun:
    """A recorded run in progress: what it says when it ends, and whether it failed."""

    status: str = "succeeded"
    detail: str = ""

    def fail(self, exc: BaseException) -> None:
        problem = f"{type(exc).__name__}: {exc}"
        self.status = "failed"
        self.detail = f"{self.detail}; {problem}" if self.detail else problem


@contextmanager
def recorded_run(engine: Engine, name: str) -> Iterator[JobRun]:
    """Record a run of ``name`` in ``job_runs``: running, then succeeded or failed with a detail.

    Each record is written in its own transaction, so a failure stays visible on the health
    endpoint even though the work itself rolled back. An exception is recorded and re-raised.
    """
    with engine.begin() as conn:
        run_id = conn.execute(
            text("INSERT INTO job_runs (job) VALUES (:j) RETURNING run_id"), {"j": name}
        ).scalar_one()
    run = JobRun()
    try:
        yield run
    except Exception as exc:
        run.fail(exc)
        raise
    finally:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE job_runs SET status = :s, detail = :d, finished_at = now()"
                    " WHERE run_id = :r"
                ),
                {"s": run.status, "d": run.detail[:500], "r": run_id},
            )


def run_job(engine: Engine, name: str, work: Callable[[Connection], str]) -> str:
    """Run ``work`` under a transaction-scoped advisory lock; return 'skipped', or its status."""
    lock_key = zlib.crc32(name.encode())
    with recorded_run(engine, name) as run:
        try:
            with engine.begin() as conn:
                locked = conn.execute(
                    text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": lock_key}
                ).scalar()
                if not locked:
                    run.detail = "skipped: another node is running it"
                else:
                    run.detail = work(conn)
        except Exception as exc:
            log.exception("job %s failed", name)
            run.fail(exc)
    return run.status


def run_all_once(settings: Settings, *, only: str | None = None) -> list[tuple[str, str]]:
    """Run every registered job (or the one named ``only``) once; return (job, status) pairs."""
    from orgpulse.jobs.registry import registered_jobs, run_registered

    results = []
    for job in registered_jobs():
        if only is None or job.name == only:
            results.append((job.name, run_registered(job, settings)))
    return results


def scheduler_loop(settings: Settings, stop: threading.Event, *, tick_seconds: int = 15) -> None:
    """Run each registered job when its interval has passed, until ``stop`` is set."""
    from orgpulse.jobs.registry import is_due, registered_jobs, run_registered

    jobs = registered_jobs()
    last_run = [float("-inf")] * len(jobs)
    while not stop.is_set():
        for i, job in enumerate(jobs):
            if stop.is_set():
                break
            try:
                due = is_due(job, settings, since_last_run=time.monotonic() - last_run[i])
            except Exception:
                log.exception("could not tell whether job %s is due", job.name)
                due = False
            if due:
                last_run[i] = time.monotonic()
                try:
                    run_registered(job, settings)
                except Exception:
                    log.exception("scheduled job %s failed", job.name)
        stop.wait(tick_seconds)


def start_scheduler(settings: Settings, *, tick_seconds: int = 15) -> threading.Event:
    """Start the job loop in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    threading.Thread(
        target=scheduler_loop,
        args=(settings, stop),
        kwargs={"tick_seconds": tick_seconds},
        name="orgpulse-scheduler",
        daemon=True,
    ).start()
    return stop
