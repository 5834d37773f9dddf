"""The real Segment Python client against a live `orgpulse serve` on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from segment.analytics.client import Client
from sqlalchemy import text

from orgpulse.core.config import Settings
from orgpulse.core.tenancy import TenantScope, scoped

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_server(settings: Settings) -> Iterator[str]:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url or "",
        "ORGPULSE_APP_DB_ROLE": settings.app_db_role,
        "ORGPULSE_APP_DB_PASSWORD": settings.app_db_password or "",
        "ORGPULSE_SECRET_KEY": "test-secret",
        "ORGPULSE_DATA_DIR": str(settings.data_dir),
        # The server runs the scheduled jobs, retention included: same policy as the test data.
        "ORGPULSE_RETENTION_DAYS": str(settings.retention_days),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "orgpulse.cli.main", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                output = proc.stdout.read().decode() if proc.stdout else ""
                raise AssertionError(f"orgpulse serve did not start:\n{output}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _send_all(url: str, key: str) -> None:
    errors: list[Exception] = []
    client = Client(write_key=key, host=url, on_error=lambda e, batch: errors.append(e),
                    max_retries=1, upload_interval=0.1)
    client.group(user_id="seg-u1", group_id="seg-org", traits={"name": "Segment Co"},
                 message_id="seg-1")
    client.identify(user_id="seg-u1", traits={"role": "teacher"},
                    context={"groupId": "seg-org"}, message_id="seg-2")
    for i in range(5):
        client.track(user_id="seg-u1", event="Login", properties={"n": i},
                     message_id=f"seg-login-{i}")
    client.page(user_id="seg-u1", name="Dashboard", context={"groupId": "seg-org"},
                message_id="seg-page-1")
    client.flush()
    client.join()
    assert errors == []


def test_segment_client_events_arrive_exactly_once(live_server, factory, engine) -> None:
    key = factory.write_key()
    _send_all(live_server, key)
    _send_all(live_server, key)  # the same messageIds again: a client retry

    with scoped(engine, TenantScope.of([1])) as conn:
        org = conn.execute(text("SELECT external_id, name FROM orgs")).all()
        by_name = dict(
            conn.execute(text("SELECT name, count(*) FROM events GROUP BY name")).all()
        )
        rollup = dict(
            conn.execute(
                text("SELECT name, sum(events) FROM rollup_daily_events GROUP BY name")
            ).all()
        )
        role = conn.execute(text("SELECT role FROM members WHERE external_user_id = 'seg-u1'"))
        member_role = role.scalar_one()
    assert org == [("seg-org", "Segment Co")]
    expected = {"$group": 1, "$identify": 1, "Login": 5, "$page": 1}
    assert by_name == expected
    assert rollup == expected
    assert member_role == "teacher"
