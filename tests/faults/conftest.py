"""An app and engine of their own whose only way to PostgreSQL is a ``TcpProxy``
(tests/tcpproxy.py), so a test can take the database away from that app while the suite's
engines keep working."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from orgpulse.core.config import Settings
from orgpulse.core.db import app_engine
from orgpulse.core.tenancy import TenantScope, scoped
from orgpulse.web.app import create_app
from tcpproxy import TcpProxy, through, upstream_of

# Everything a batch can write: the tables a half-written batch would show up in.
INGEST_TABLES = (
    "directory_groups", "directory_members", "orgs", "units", "members", "event_dedup", "events",
    "rollup_daily_events", "rollup_member_events", "rollup_member_days", "rollup_state",
    "unattributed_events", "ingest_batches",
)


@pytest.fixture
def proxy(settings: Settings) -> Iterator[TcpProxy]:
    with TcpProxy(upstream_of(settings.database_url or "")) as p:
        yield p


@pytest.fixture
def proxied_settings(settings: Settings, proxy: TcpProxy) -> Settings:
    return settings.model_copy(update={"database_url": through(settings.database_url or "", proxy)})


@pytest.fixture
def proxied_engine(proxied_settings: Settings) -> Iterator[Engine]:
    """The app role's engine through the proxy (its own pool: the URL differs)."""
    engine = app_engine(proxied_settings)
    yield engine
    engine.dispose()


@pytest.fixture
def proxied_client(proxied_settings: Settings, proxied_engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(proxied_settings), base_url="http://testserver") as c:
        yield c


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows of each ingest table, read directly (not through the proxy), across every org."""
    with scoped(engine, TenantScope.all_orgs([], user_id=None)) as conn:
        return {
            table: int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608
            for table in INGEST_TABLES
        }


NOTHING = dict.fromkeys(INGEST_TABLES, 0)
