"""What every benchmark needs: a scratch database with the schema, and `orgpulse serve` on it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from orgpulse.core.config import Settings
from orgpulse.core.db import scratch_database
from orgpulse.core.migrate import upgrade

APP_PASSWORD = "bench-password"  # noqa: S105 - a throwaway role in a throwaway database


def bench_settings(db_url: str) -> Settings:
    return Settings(
        database_url=db_url,
        app_db_role="orgpulse_bench_app",
        app_db_password=APP_PASSWORD,
        secret_key="bench",
        jobs_enabled=False,
        environment="test",
        # Two years of history: above the 400-day default, as a long-retention deployment.
        retention_days=760,
    )


@contextmanager
def bench_database(prefix: str) -> Iterator[tuple[Settings, str]]:
    """A migrated scratch database (on ``DATABASE_URL``'s server, else an embedded one)."""
    with (
        tempfile.TemporaryDirectory(prefix="orgpulse-bench-") as workdir,
        scratch_database(
            os.environ.get("DATABASE_URL"), prefix=prefix, workdir=Path(workdir)
        ) as db_url,
    ):
        settings = bench_settings(db_url)
        upgrade(settings)
        yield settings, db_url


def kept_database(name: str) -> tuple[Settings, str, bool]:
    """The database ``name`` on ``DATABASE_URL``'s server, created and migrated if missing.

    Returns its settings, URL and whether it already existed (its data can be reused).
    """
    server_url = os.environ.get("DATABASE_URL")
    if not server_url:
        raise SystemExit("--keep needs DATABASE_URL (a server that outlives the run)")
    base = make_url(server_url).set(drivername="postgresql+psycopg")
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        existed = bool(
            conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).scalar()
        )
        if not existed:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    db_url = base.set(database=name).render_as_string(hide_password=False)
    settings = bench_settings(db_url)
    upgrade(settings)
    return settings, db_url, existed


@contextmanager
def server(settings: Settings, db_url: str, workers: int) -> Iterator[str]:
    """Run `orgpulse serve` on a free loopback port; yield its base URL once it is healthy."""
    with server_process(settings, db_url, workers) as (url, _):
        yield url


@contextmanager
def server_process(
    settings: Settings, db_url: str, workers: int
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """As ``server``, also yielding the process (with one worker, the one serving requests)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "ORGPULSE_APP_DB_ROLE": settings.app_db_role,
        "ORGPULSE_APP_DB_PASSWORD": APP_PASSWORD,
        "ORGPULSE_SECRET_KEY": "bench",
        "ORGPULSE_JOBS_ENABLED": "false",
        "ORGPULSE_LOG_LEVEL": "WARNING",
    }
    cmd = [sys.executable, "-m", "orgpulse.cli.main", "serve", "--port", str(port)]
    proc = subprocess.Popen([*cmd, "--workers", str(workers)], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/api/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise RuntimeError("the server did not start")
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def log(msg: str) -> None:
    """Print a progress line with the wall-clock time."""
    print(f"[{datetime.now(UTC):%H:%M:%S}] {msg}", flush=True)


def load_demo_data(settings: Settings, *, orgs: int, days: int, seed: int = 1) -> float:
    """Load the `orgpulse demo` data set (through ingestion, in-process); return the seconds."""
    from orgpulse.demo.loader import load_demo

    start = time.perf_counter()
    load_demo(settings=settings, orgs=orgs, days=days, seed=seed)
    return time.perf_counter() - start


def api_token(settings: Settings, email: str) -> str:
    """A new personal API token for the user ``email``."""
    from orgpulse.auth import create_api_token
    from orgpulse.core.db import app_engine
    from orgpulse.core.tenancy import unscoped

    with unscoped(app_engine(settings)) as conn:
        user = conn.execute(
            text("SELECT user_id FROM users WHERE email = :e"), {"e": email}
        ).scalar_one()
        return create_api_token(conn, user_id=user, name="bench")


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(-(-p * len(ordered) // 100)) - 1))
    return ordered[k]
