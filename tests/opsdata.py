"""A hand-built org for the diagnostics, banner and support tests (numbers in the comments)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from datasets import track
from factories import Factory

ACME_PEOPLE = [("a1", "admin"), ("t1", "teacher"), ("t2", "teacher"), ("s1", "student")]


def acme(factory: Factory) -> int:
    """Acme: SSO, syncs, uploads and sign-ins, all relative to the frozen NOW."""
    org = factory.org("acme", "Acme Schools")
    factory.send([
        {"type": "identify", "userId": u, "traits": {"role": r}, "context": {"groupId": "acme"},
         "timestamp": "2026-04-01T00:00:00Z"}
        for u, r in ACME_PEOPLE
    ])
    events: list[dict[str, Any]] = [
        track("a1", "SSO Configured", 20, provider="Okta"),
        # Rostering: a success 3 days ago, then two failures; one more failure 10 days ago.
        track("a1", "Roster Sync Completed", 3, sync_id="y1"),
        track("a1", "Roster Sync Failed", 2, sync_id="y2",
              error="duplicate student id 48213 for Jane Doe <jane.doe@acme.org>"),
        track("a1", "Roster Sync Failed", 1, sync_id="y3", error="SIS timeout"),
        track("a1", "Roster Sync Failed", 10, sync_id="y0", error="SIS timeout"),
        # Uploads in the last 7 days: 10 started, 3 failed (rate 0.3); 8 days ago: 1 and 1.
        *[track("s1", "Upload Started", 1 + i % 5, upload_id=f"u{i}") for i in range(10)],
        track("s1", "Upload Failed", 1, upload_id="u0", error="network timeout"),
        track("s1", "Upload Failed", 2, upload_id="u1", error="network timeout"),
        track("s1", "Upload Failed", 3, upload_id="u2",
              error="file too large for maria.lopez@acme.org"),
        track("s1", "Upload Started", 8, upload_id="old"),
        track("s1", "Upload Failed", 8, upload_id="old", error="virus scan"),
        # Sign-ins in the last 7 days: 4 succeeded, 1 failed.
        *[track("t1", "Login", d) for d in (1, 2, 3, 4)],
        track("t2", "Login Failed", 2, reason="account locked for user=mlopez"),
    ]
    result = factory.send(events)
    assert result.rejections == [] and result.unattributed == 0
    return org


PII = ("jane.doe@acme.org", "Jane Doe", "48213", "maria.lopez", "mlopez")


def session(factory: Factory, email: str) -> TestClient:
    """A logged-in browser of its own (cookies: session and CSRF)."""
    client = TestClient(factory.app, base_url="http://testserver")
    factory.login(client, email)
    return client


def csrf(client: TestClient) -> str:
    token = client.cookies.get("orgpulse_csrf")
    assert token
    return token
