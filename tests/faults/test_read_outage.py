"""A tenant-scoped read whose connection dies mid-transaction answers 503, not 500, and the
same request after the database is back answers exactly what an unaffected app answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, event

from datasets import build_acme
from factories import Factory
from orgpulse.auth import Role
from tcpproxy import TcpProxy


def test_a_connection_lost_inside_a_tenant_scope_is_a_503(
    client: TestClient, proxied_client: TestClient, proxied_engine: Engine, proxy: TcpProxy,
    factory: Factory, frozen: datetime,
) -> None:
    build_acme(factory)
    headers = {"Authorization": f"Bearer {factory.token(factory.user(Role.PLATFORM_ADMIN))}"}
    cuts: list[str] = []

    def cut_once_scoped(conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
        # Right after a transaction's tenant context is set: the next statement finds no server.
        if "set_config('orgpulse.org_ids'" in statement and not cuts:
            cuts.append(statement)
            proxy.cut()

    event.listen(proxied_engine, "after_cursor_execute", cut_once_scoped)
    try:
        down = proxied_client.get("/api/v1/orgs/acme/overview", headers=headers)
    finally:
        event.remove(proxied_engine, "after_cursor_execute", cut_once_scoped)
    assert len(cuts) == 1
    assert down.status_code == 503, down.text
    assert down.headers["Retry-After"] == "5"
    assert down.json()["error"]["code"] == "unavailable"

    proxy.restore()
    back = proxied_client.get("/api/v1/orgs/acme/overview", headers=headers)
    direct = client.get("/api/v1/orgs/acme/overview", headers=headers)
    assert back.status_code == direct.status_code == 200
    assert back.json() == direct.json()
    assert back.json()["members_total"] == 5  # t1, t2, t3, s1, s2
