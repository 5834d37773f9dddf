"""Test database: a fresh PostgreSQL database per run, migrated as the owner; tests use the
non-owner app role exactly like production. Tables are truncated after each test.

``DATABASE_URL`` set: that server gets a new, uniquely named database (dropped at the end).
Unset: an embedded PostgreSQL is started in a temporary directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from datasets import build_acme, frozen_clock
from dbreset import truncate_all
from factories import Factory
from mailsink import smtp_sink  # noqa: F401 (fixture)
from orgpulse.core.config import Settings, get_settings
from orgpulse.core.db import app_engine, owner_engine, scratch_database
from orgpulse.core.migrate import upgrade
from webhooksink import webhook_sink  # noqa: F401 (fixture)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with scratch_database(
        os.environ.get("DATABASE_URL"),
        prefix="orgpulse_test",
        workdir=tmp_path_factory.mktemp("pg"),
    ) as url:
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    s = Settings(
        database_url=database_url,
        data_dir=tmp_path_factory.mktemp("data"),
        environment="test",
        app_db_role="orgpulse_test_app",
        app_db_password="test-app-password",
        secret_key="test-secret",
        jobs_enabled=False,
        # The datasets freeze the clock in 2026 and send events up to ~15 months before it, while
        # partitions are made around the real date: keep raw events longer than the 400-day
        # default so every dataset's partitions exist (tests of the default build their own).
        retention_days=760,
    )
    upgrade(s)
    return s


@pytest.fixture(scope="session")
def owner(settings: Settings) -> Engine:
    return owner_engine(settings)


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Engine:
    return app_engine(settings)


@pytest.fixture(autouse=True)
def _clean(request: pytest.FixtureRequest) -> Iterator[None]:
    owner = request.getfixturevalue("owner") if "settings" in request.fixturenames else None
    yield
    if owner is not None:
        truncate_all(owner)


@pytest.fixture(scope="session")
def app(settings: Settings) -> Any:
    from orgpulse.web.app import create_app

    return create_app(settings)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def frozen() -> Iterator[datetime]:
    """The clock stopped at ``datasets.NOW`` for the test."""
    yield from frozen_clock()


@pytest.fixture
def acme(factory: Factory) -> Iterator[int]:
    """The hand-built Acme Schools (datasets.build_acme) with the clock frozen at datasets.NOW."""
    clock = frozen_clock()
    next(clock)
    try:
        yield build_acme(factory)
    finally:
        clock.close()


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """Point the CLI's settings (read from the environment, cached) at the test database."""
    monkeypatch.setenv("DATABASE_URL", settings.database_url or "")
    monkeypatch.setenv("ORGPULSE_APP_DB_ROLE", settings.app_db_role)
    monkeypatch.setenv("ORGPULSE_APP_DB_PASSWORD", settings.app_db_password or "")
    monkeypatch.setenv("ORGPULSE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ORGPULSE_SECRET_KEY", settings.secret_key or "")
    monkeypatch.setenv("ORGPULSE_ENVIRONMENT", "test")
    monkeypatch.setenv("ORGPULSE_RETENTION_DAYS", str(settings.retention_days))
    get_settings.cache_clear()
    try:
        yield CliRunner()
    finally:
        get_settings.cache_clear()


@pytest.fixture
def factory(engine: Engine, settings: Settings, app: Any) -> Factory:
    return Factory(engine=engine, settings=settings, app=app)


def pytest_report_header(config: pytest.Config) -> str:
    url = os.environ.get("DATABASE_URL")
    where = make_url(url).render_as_string() if url else "embedded PostgreSQL"
    return f"orgpulse test database server: {where}"


__all__ = ["Path"]
