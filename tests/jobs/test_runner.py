"""Job runs are recorded in job_runs whether the work succeeds, fails or is skipped."""

from __future__ import annotations

import zlib

from sqlalchemy import Connection, Engine, text

from orgpulse.core.tenancy import unscoped
from orgpulse.jobs import run_job


def recorded(engine: Engine) -> list[tuple[str, str, str]]:
    with unscoped(engine) as conn:
        rows = conn.execute(text("SELECT job, status, detail FROM job_runs ORDER BY run_id"))
        return [(r[0], r[1], r[2]) for r in rows]


def test_success_failure_and_skip_are_recorded(engine: Engine) -> None:
    def boom(conn: Connection) -> str:
        raise RuntimeError("boom")

    assert run_job(engine, "ok", lambda conn: "did it") == "succeeded"
    assert run_job(engine, "bad", boom) == "failed"
    with engine.begin() as holder:
        holder.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": zlib.crc32(b"busy")})
        assert run_job(engine, "busy", lambda conn: "never") == "succeeded"
    assert recorded(engine) == [
        ("ok", "succeeded", "did it"),
        ("bad", "failed", "RuntimeError: boom"),
        ("busy", "succeeded", "skipped: another node is running it"),
    ]
