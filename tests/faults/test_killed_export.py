"""`orgpulse serve` killed (SIGKILL) while it streams a large CSV export: the client can tell the
file is cut, PostgreSQL is left with no transaction or lock of the dead server, the audit log
holds one intact record of the export, and a new server serves the whole file."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy import Engine, text

from factories import Factory
from orgpulse.audit.chain import count_records, verify_chain
from orgpulse.auth import Role, resolve_org_ref
from orgpulse.core.config import Settings
from orgpulse.core.tenancy import TenantScope, scoped, unscoped

pytestmark = pytest.mark.slow

APP_NAME = "orgpulse-faults-server"  # the server's PostgreSQL application_name (PGAPPNAME)
SINCE, DAYS = date(2026, 3, 1), 100
MEMBERS, EVENT_NAMES = 250, [f"Event {c}" for c in "ABCDEFGHIJ"]
ROWS = MEMBERS * DAYS * len(EVENT_NAMES)  # 250,000 rows, about 12 MB of CSV
# A client whose receive buffer stays small (a fixed SO_RCVBUF turns autotuning off), so a
# stalled reader really stalls the server instead of the kernel buffering the whole file.
SMALL_BUFFER = [(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One `orgpulse serve` process (one worker: the process SIGKILL hits is the server)."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "DATABASE_URL": settings.database_url or "",
            "ORGPULSE_APP_DB_ROLE": settings.app_db_role,
            "ORGPULSE_APP_DB_PASSWORD": settings.app_db_password or "",
            "ORGPULSE_SECRET_KEY": settings.secret_key or "",
            "ORGPULSE_DATA_DIR": str(settings.data_dir),
            "ORGPULSE_RETENTION_DAYS": str(settings.retention_days),
            "ORGPULSE_JOBS_ENABLED": "false",
            "PGAPPNAME": APP_NAME,
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "orgpulse.cli.main", "serve", "--port", str(self.port),
             "--workers", "1"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/api/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                output = self.proc.stdout.read().decode() if self.proc.stdout else ""
                raise AssertionError(f"orgpulse serve did not start:\n{output}")
            time.sleep(0.2)

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)


@pytest.fixture
def servers(settings: Settings) -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.stop()


@dataclass(frozen=True)
class BigExport:
    path: str
    headers: dict[str, str]
    body: bytes  # the whole file, written out independently of the exporter


@pytest.fixture
def big_export(factory: Factory, engine: Engine) -> BigExport:
    """Big Co: 250 members × 100 days × 10 event names of member activity rollups."""
    factory.org("bigco", "Big Co")
    result = factory.send([
        {"type": "identify", "userId": f"m{i:04d}", "traits": {"name": f"Member {i:04d}"},
         "context": {"groupId": "bigco"}}
        for i in range(MEMBERS)
    ])
    assert (result.accepted, result.rejections) == (MEMBERS, [])
    with unscoped(engine) as conn:
        org = resolve_org_ref(conn, "bigco")
        slug = conn.execute(
            text("SELECT slug FROM directory_groups WHERE org_id = :o AND unit_id IS NULL"),
            {"o": org}).scalar_one()
    assert org is not None
    with scoped(engine, TenantScope.of([org])) as conn:
        members = [(r[0], r[1]) for r in conn.execute(text(
            "SELECT member_id, external_user_id FROM members ORDER BY member_id"))]
        conn.execute(text(
            "INSERT INTO rollup_member_events (org_id, day, member_id, name, unit_id, events)"
            " SELECT :o, CAST(:since AS date) + d, m.member_id, 'Event ' || chr(65 + n), 0,"
            "  (m.rank + d + n) % 7 + 1"
            " FROM generate_series(0, :days - 1) d, generate_series(0, 9) n,"
            "  (SELECT member_id, row_number() OVER (ORDER BY member_id) - 1 AS rank"
            "   FROM members) m"
        ), {"o": org, "since": SINCE, "days": DAYS})
    lines = ["org_id,org_name,day,person_id,name,unit,event,events"]
    for d in range(DAYS):
        day = (SINCE + timedelta(days=d)).isoformat()
        for rank, (_, external) in enumerate(members):
            for n, name in enumerate(EVENT_NAMES):
                lines.append(f"{org},Big Co,{day},{external},Member {external[1:]},,{name},"
                             f"{(rank + d + n) % 7 + 1}")
    assert len(lines) == ROWS + 1
    token = factory.token(factory.user(Role.ORG_ADMIN, org_id=org))
    until = SINCE + timedelta(days=DAYS - 1)
    return BigExport(
        path=f"/orgs/{slug}/activity.csv?from={SINCE}&to={until}",
        headers={"Authorization": f"Bearer {token}"},
        body=("\r\n".join(lines) + "\r\n").encode(),
    )


def server_sessions(engine: Engine) -> list[tuple[int, str, str]]:
    """The server's PostgreSQL sessions in this database: pid, state, last statement."""
    with unscoped(engine) as conn:
        rows = conn.execute(text(
            "SELECT pid, coalesce(state, ''), query FROM pg_stat_activity"
            " WHERE application_name = :app AND datname = current_database() ORDER BY pid"
        ), {"app": APP_NAME})
        return [(r[0], r[1], r[2]) for r in rows]


def held_relation_locks(engine: Engine, pid: int) -> set[tuple[str, str]]:
    with unscoped(engine) as conn:
        rows = conn.execute(text(
            "SELECT relation::regclass::text, mode FROM pg_locks"
            " WHERE pid = :pid AND locktype = 'relation'"
        ), {"pid": pid})
        return {(r[0], r[1]) for r in rows}


def app_role_leftovers(engine: Engine, settings: Settings) -> dict[str, int]:
    """Other sessions of the app role in this database that are inside a transaction, and the
    locks any other session of the app role holds."""
    with unscoped(engine) as conn:
        in_tx = conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = :role"
            " AND datname = current_database() AND pid <> pg_backend_pid()"
            " AND (xact_start IS NOT NULL OR state LIKE 'idle in transaction%')"
        ), {"role": settings.app_db_role}).scalar_one()
        locks = conn.execute(text(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE a.usename = :role AND a.datname = current_database()"
            " AND l.pid <> pg_backend_pid()"
        ), {"role": settings.app_db_role}).scalar_one()
    return {"sessions_in_transaction": int(in_tx), "locks": int(locks)}


def wait_until(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def export_audits(owner: Engine) -> list[tuple[str, str, str, object, str]]:
    with unscoped(owner) as conn:
        rows = conn.execute(text(
            "SELECT target, details ->> 'from', details ->> 'to', details -> 'rows', outcome"
            " FROM audit_records WHERE action = 'export.csv' ORDER BY audit_id"
        ))
        return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]


def test_a_server_killed_mid_export_leaves_nothing_behind_and_a_new_one_serves_it_all(
    settings: Settings, engine: Engine, owner: Engine, servers: list[Server],
    big_export: BigExport,
) -> None:
    servers.append(Server(settings))
    first = servers[0]
    received = bytearray()
    transport = httpx.HTTPTransport(socket_options=SMALL_BUFFER)
    with httpx.Client(transport=transport, timeout=60) as client, client.stream(
        "GET", first.url + big_export.path, headers=big_export.headers
    ) as response:
        assert response.status_code == 200
        # Streamed: no length announced, so only the chunked encoding's last (empty) chunk
        # tells a client the file is complete.
        assert response.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in response.headers
        chunks = response.iter_raw()
        while len(received) < 256 * 1024:
            received += next(chunks)

        stalled: list[int] = []

        def stalled_mid_stream() -> bool:
            # The reader stopped: the server waits to send, its export transaction still open
            # on the server-side cursor between two fetches. (The session is remembered here:
            # read again later, it may be between "active" and "idle" as a fetch runs.)
            stalled[:] = [p for p, state, query in server_sessions(engine)
                          if state == "idle in transaction" and query.startswith("FETCH")]
            return len(stalled) == 1

        wait_until(stalled_mid_stream, "the export to stall mid-stream")
        (pid,) = stalled
        assert ("rollup_member_events", "AccessShareLock") in held_relation_locks(engine, pid)

        first.kill()
        with pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"):
            for chunk in chunks:
                received += chunk

    # The client has a strict prefix of the file, and knows it (the error above).
    assert 256 * 1024 <= len(received) < len(big_export.body)
    assert bytes(received) == big_export.body[: len(received)]
    # PostgreSQL notices the dead peer and ends its sessions: no transaction, no lock is left.
    wait_until(lambda: server_sessions(engine) == [], "the dead server's sessions to end")
    assert app_role_leftovers(engine, settings) == {"sessions_in_transaction": 0, "locks": 0}
    # The export was audited when it started (rows unknown then), once, and the chain holds.
    window = (str(SINCE), str(SINCE + timedelta(days=DAYS - 1)))
    assert export_audits(owner) == [("member_activity", *window, None, "ok")]
    report = verify_chain(engine=owner)
    assert (report.intact, report.checked) == (True, count_records(engine=owner))

    servers.append(Server(settings))
    second = servers[1]
    full = httpx.get(second.url + big_export.path, headers=big_export.headers, timeout=120)
    assert full.status_code == 200
    assert full.content == big_export.body
    assert export_audits(owner) == [("member_activity", *window, None, "ok")] * 2
    assert verify_chain(engine=owner).intact
