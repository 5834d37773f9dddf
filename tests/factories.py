"""Factories: orgs, units and members through the real ingestion path; users per role."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from orgpulse.auth import Role, create_api_token, create_user, create_write_key, resolve_org_ref
from orgpulse.core import clock
from orgpulse.core.config import Settings
from orgpulse.core.tenancy import unscoped
from orgpulse.ingestion import IngestResult, ingest

PASSWORD = "correct horse battery"
_ids = itertools.count(1)


def iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


class Factory:
    def __init__(self, *, engine: Engine, settings: Settings, app: Any) -> None:
        self.engine = engine
        self.settings = settings
        self.app = app

    def send(self, messages: list[dict[str, Any]]) -> IngestResult:
        """Ingest messages through the service (same path as HTTP)."""
        for m in messages:
            m.setdefault("messageId", f"msg-{next(_ids)}")
            m.setdefault("timestamp", iso(clock.now()))
        return ingest(engine=self.engine, settings=self.settings, body={"batch": messages},
                      source="test")

    def org(self, external_id: str, name: str, *, units: tuple[str, ...] = ()) -> int:
        msgs: list[dict[str, Any]] = [
            {"type": "group", "groupId": external_id, "traits": {"name": name}}
        ]
        msgs += [
            {"type": "group", "groupId": f"{external_id}-{u}",
             "traits": {"name": u, "kind": "school", "parent_group_id": external_id}}
            for u in units
        ]
        result = self.send(msgs)
        assert not result.rejections, result.rejections
        with unscoped(self.engine) as conn:
            org_id = resolve_org_ref(conn, external_id)
        assert org_id is not None
        return org_id

    def user(self, role: Role, *, org_id: int | None = None, email: str | None = None,
             unit_ids: tuple[int, ...] = ()) -> str:
        email = email or f"{role.value}-{next(_ids)}@example.test"
        with unscoped(self.engine) as conn:
            create_user(conn, email=email, password=PASSWORD, role=role, org_id=org_id,
                        unit_ids=unit_ids)
        return email

    def token(self, email: str) -> str:
        from orgpulse.auth import find_user_id

        with unscoped(self.engine) as conn:
            return create_api_token(conn, user_id=find_user_id(conn, email=email), name="test")

    def write_key(self) -> str:
        with unscoped(self.engine) as conn:
            return create_write_key(conn, name="test")

    def login(self, client: TestClient, email: str, password: str = PASSWORD) -> None:
        client.get("/login")
        csrf = client.cookies.get("orgpulse_csrf")
        response = client.post(
            "/login",
            data={"email": email, "password": password, "csrf_token": csrf, "next": "/"},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
