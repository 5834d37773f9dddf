"""The proxy itself, against the suite's PostgreSQL: forward, cut, restore, and a lost reply."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from orgpulse.core.config import Settings
from orgpulse.core.db import app_url
from orgpulse.core.tenancy import unscoped
from tcpproxy import TcpProxy, through


def libpq_url(settings: Settings, proxy: TcpProxy) -> str:
    """The app role's URL through the proxy, as psycopg takes it."""
    url = through(app_url(settings).render_as_string(hide_password=False), proxy)
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def jobs(engine: Engine) -> list[str]:
    with unscoped(engine) as conn:
        return list(conn.execute(text("SELECT job FROM job_runs ORDER BY run_id")).scalars())


def test_cut_closes_open_connections_and_refuses_new_ones_until_restored(
    settings: Settings, proxy: TcpProxy
) -> None:
    url = libpq_url(settings, proxy)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT 40 + 2").fetchone() == (42,)
        assert proxy.open_connections == 1
        proxy.cut()
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=5)
    assert (proxy.open_connections, proxy.refused) == (0, 1)
    proxy.restore()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT 'back'").fetchone() == ("back",)
    assert proxy.accepted == 2


def test_cut_before_commit_loses_the_transaction(
    settings: Settings, proxy: TcpProxy, engine: Engine
) -> None:
    conn = psycopg.connect(libpq_url(settings, proxy))
    conn.execute("INSERT INTO job_runs (job) VALUES ('cut-before-commit')")
    proxy.cut()
    with pytest.raises(psycopg.OperationalError):
        conn.commit()
    conn.close()
    assert jobs(engine) == []


def test_a_lost_commit_reply_leaves_the_commit_applied(
    settings: Settings, proxy: TcpProxy, engine: Engine
) -> None:
    conn = psycopg.connect(libpq_url(settings, proxy))
    conn.execute("INSERT INTO job_runs (job) VALUES ('reply-lost')")
    proxy.cut_on_next_reply()
    with pytest.raises(psycopg.OperationalError):
        conn.commit()
    conn.close()
    assert proxy.is_cut
    # The server committed; only its answer was dropped.
    assert jobs(engine) == ["reply-lost"]
