"""The Segment HTTP Tracking API: auth, per-event results, request-level errors, size limits."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from ingest_helpers import basic, iso, org_id, platform_rows, scoped_rows
from sqlalchemy import Engine

NO_ERRORS = {"duplicates": 0, "unattributed": 0, "reattributed": 0}


def error(code: str, message: str, details: list[Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or []}}


def compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def event_rows(engine: Engine, org: int) -> list[tuple]:
    return scoped_rows(
        engine, [org],
        "SELECT message_id, type, name, event_time FROM events ORDER BY message_id",
    )


# ------------------------------------------------------------------------------ /v1/batch


def test_batch_stores_valid_events_and_reports_each_rejection(
    client: TestClient, auth: dict[str, str], engine: Engine, frozen_now: datetime
) -> None:
    ts = iso(frozen_now - timedelta(minutes=5))
    batch = [
        {"type": "group", "messageId": "g-1", "groupId": "acme", "traits": {"name": "Acme"},
         "timestamp": ts},
        {"type": "track", "messageId": "t-1", "userId": "u1", "event": "Login",
         "context": {"groupId": "acme"}, "timestamp": ts},
        {"type": "track", "messageId": "bad-1", "userId": "u1", "event": "",
         "context": {"groupId": "acme"}},
        "not an object",
        {"type": "page", "messageId": "p-1", "userId": "u1", "name": "Home",
         "context": {"groupId": "acme"}, "timestamp": ts},
        {"type": "identify", "messageId": "bad-2", "userId": "u1", "traits": {"x": "a\u0000b"}},
        {"type": "alias", "messageId": "bad-3", "userId": "u1", "previousId": "u0"},
    ]
    response = client.post("/v1/batch", json={"batch": batch}, headers=auth)
    assert response.status_code == 200
    assert response.json() == {
        "success": True,
        "accepted": 3,
        **NO_ERRORS,
        "rejected": 4,
        "rejections": [
            {"index": 2, "messageId": "bad-1", "reason": "track requires a non-empty event name"},
            {"index": 3, "messageId": None, "reason": "message must be a JSON object"},
            {"index": 5, "messageId": "bad-2",
             "reason": "$.traits.x contains a NUL character (\\u0000), which cannot be stored"},
            {"index": 6, "messageId": "bad-3", "reason": "unknown type 'alias'; expected one of"
             " track, identify, group, page, screen"},
        ],
    }
    acme = org_id(engine, "acme")
    stamp = frozen_now - timedelta(minutes=5)
    assert event_rows(engine, acme) == [
        ("g-1", "group", "$group", stamp),
        ("p-1", "page", "$page", stamp),
        ("t-1", "track", "Login", stamp),
    ]
    assert scoped_rows(engine, [acme], "SELECT events_total FROM rollup_state") == [(3,)]
    # The batch is recorded with its counts (platform table, no tenant data).
    assert platform_rows(
        engine, "SELECT source LIKE 'http:key%', accepted, duplicates, rejected, unattributed"
        " FROM ingest_batches"
    ) == [(True, 3, 0, 4, 0)]


def test_empty_batch_is_accepted(client: TestClient, auth: dict[str, str]) -> None:
    response = client.post("/v1/batch", json={"batch": []}, headers=auth)
    assert response.status_code == 200
    assert response.json() == {
        "success": True, "accepted": 0, **NO_ERRORS, "rejected": 0, "rejections": [],
    }


def test_batch_level_sent_at_corrects_clock_skew(
    client: TestClient, auth: dict[str, str], engine: Engine, frozen_now: datetime
) -> None:
    # The client's clock is 3 hours ahead: it stamped the event 10 minutes before sending.
    client_now = frozen_now + timedelta(hours=3)
    body = {
        "sentAt": iso(client_now),
        "batch": [
            {"type": "group", "messageId": "g", "groupId": "acme",
             "timestamp": iso(client_now - timedelta(minutes=10))},
            {"type": "track", "messageId": "t", "userId": "u1", "event": "Login",
             "context": {"groupId": "acme"},
             "timestamp": iso(client_now - timedelta(minutes=4, seconds=30))},
        ],
    }
    response = client.post("/v1/batch", json=body, headers=auth)
    assert response.json()["accepted"] == 2
    assert event_rows(engine, org_id(engine, "acme")) == [
        ("g", "group", "$group", frozen_now - timedelta(minutes=10)),
        ("t", "track", "Login", frozen_now - timedelta(minutes=4, seconds=30)),
    ]


def test_batch_over_limit_is_413_and_the_limit_itself_is_allowed(
    client: TestClient, auth: dict[str, str]
) -> None:
    limit = 500 * 1024
    base = {"batch": [], "pad": ""}
    exact = {"batch": [], "pad": "x" * (limit - len(compact(base)))}
    assert len(compact(exact)) == limit
    ok = client.post("/v1/batch", content=compact(exact),
                     headers={**auth, "Content-Type": "application/json"})
    assert ok.status_code == 200
    assert ok.json()["accepted"] == 0

    over = {"batch": [], "pad": "x" * (limit - len(compact(base)) + 1)}
    response = client.post("/v1/batch", content=compact(over),
                           headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json() == error(
        "payload_too_large", f"request body is {limit + 1} bytes; the limit is {limit}"
    )


def test_chunked_batch_over_limit_is_413(client: TestClient, auth: dict[str, str]) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"batch": [], "pad": "'
        for _ in range(60):
            yield b"x" * 10_000
        yield b'"}'

    response = client.post("/v1/batch", content=chunks(),
                           headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json() == error(
        "payload_too_large", "request body exceeds the limit of 512000 bytes"
    )


def test_oversized_message_inside_a_batch_is_rejected_alone(
    client: TestClient, auth: dict[str, str], engine: Engine
) -> None:
    big = {"type": "track", "messageId": "big", "userId": "u1", "event": "Upload",
           "context": {"groupId": "acme"}, "properties": {"blob": "x" * 40_000}}
    batch = [{"type": "group", "messageId": "g", "groupId": "acme"}, big]
    response = client.post("/v1/batch", json={"batch": batch}, headers=auth)
    assert response.status_code == 200
    size = len(compact(big))
    assert response.json()["rejections"] == [
        {"index": 1, "messageId": "big",
         "reason": f"message is {size} bytes; the limit is 32768 (32 KB)"},
    ]
    assert response.json()["accepted"] == 1
    assert [r[0] for r in event_rows(engine, org_id(engine, "acme"))] == ["g"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "request body is not valid JSON: "),
        (b"", "request body is not valid JSON: "),
        (b'{"batch": [1, 2', "request body is not valid JSON: "),
    ],
)
def test_invalid_json_is_422(
    client: TestClient, auth: dict[str, str], body: bytes, message: str
) -> None:
    response = client.post("/v1/batch", content=body,
                           headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 422
    payload = response.json()
    assert set(payload) == {"error"}
    assert payload["error"]["code"] == "invalid_input"
    assert payload["error"]["message"].startswith(message)
    assert payload["error"]["details"] == []


@pytest.mark.parametrize(
    "body",
    [{"messages": []}, {"batch": {"type": "track"}}, {"batch": None}, [], "batch", 3],
)
def test_body_without_a_batch_array_is_422(
    client: TestClient, auth: dict[str, str], body: Any
) -> None:
    response = client.post("/v1/batch", json=body, headers=auth)
    assert response.status_code == 422
    assert response.json() == error(
        "invalid_input", 'body must be a JSON object with a "batch" array'
    )


def test_invalid_batch_level_sent_at_is_422(client: TestClient, auth: dict[str, str]) -> None:
    response = client.post("/v1/batch", json={"batch": [], "sentAt": "later"}, headers=auth)
    assert response.status_code == 422
    assert response.json() == error(
        "invalid_input", "sentAt is not an ISO 8601 timestamp: 'later'"
    )


def test_gzip_body_is_accepted_and_bad_gzip_is_422(
    client: TestClient, auth: dict[str, str], engine: Engine
) -> None:
    body = compact({"batch": [{"type": "group", "messageId": "g", "groupId": "acme"}]})
    headers = {**auth, "Content-Type": "application/json", "Content-Encoding": "gzip"}
    response = client.post("/v1/batch", content=gzip.compress(body), headers=headers)
    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    assert [r[0] for r in event_rows(engine, org_id(engine, "acme"))] == ["g"]

    bad = client.post("/v1/batch", content=b"not gzip", headers=headers)
    assert bad.status_code == 422
    assert bad.json() == error("invalid_input", "request body is not valid gzip")


def test_gzip_body_is_limited_by_its_decompressed_size(
    client: TestClient, auth: dict[str, str]
) -> None:
    body = compact({"batch": [], "pad": "x" * 600_000})
    packed = gzip.compress(body)
    assert len(packed) < 10_000
    response = client.post("/v1/batch", content=packed, headers={
        **auth, "Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert response.json() == error(
        "payload_too_large", "decompressed request body exceeds the limit of 512000 bytes"
    )


# ------------------------------------------------------------------------------ authentication


def test_missing_write_key_is_401(client: TestClient, engine: Engine) -> None:
    response = client.post("/v1/batch", json={"batch": [
        {"type": "group", "groupId": "acme"}]})
    assert response.status_code == 401
    assert response.json() == error(
        "not_authenticated", "send your write key as the Basic-auth username"
    )
    assert response.headers["WWW-Authenticate"] == 'Basic realm="orgpulse"'
    assert platform_rows(engine, "SELECT count(*) FROM directory_groups") == [(0,)]
    assert platform_rows(engine, "SELECT count(*) FROM ingest_batches") == [(0,)]


@pytest.mark.parametrize(
    "headers",
    [
        basic("opk_not_a_real_key"),
        {"Authorization": "Bearer opk_not_a_real_key"},
        basic(""),
    ],
)
def test_unknown_write_key_is_401(
    client: TestClient, engine: Engine, key: str, headers: dict[str, str]
) -> None:
    response = client.post("/v1/batch", json={"batch": [{"type": "group", "groupId": "acme"}]},
                           headers=headers)
    assert response.status_code == 401
    assert response.json() == error("not_authenticated", "unknown or revoked write key")
    assert platform_rows(engine, "SELECT count(*) FROM directory_groups") == [(0,)]


def test_malformed_basic_header_is_401(client: TestClient) -> None:
    response = client.post("/v1/batch", json={"batch": []},
                           headers={"Authorization": "Basic ***not base64***"})
    assert response.status_code == 401
    assert response.json() == error("not_authenticated", "malformed Basic authorization header")


def test_revoked_write_key_is_401(client: TestClient, owner: Engine, key: str) -> None:
    from sqlalchemy import text

    with owner.begin() as conn:
        conn.execute(text("UPDATE write_keys SET revoked_at = now()"))
    response = client.post("/v1/batch", json={"batch": []}, headers=basic(key))
    assert response.status_code == 401
    assert response.json() == error("not_authenticated", "unknown or revoked write key")


def test_key_as_bearer_or_body_write_key_is_accepted(client: TestClient, key: str) -> None:
    bearer = client.post("/v1/batch", json={"batch": [{"type": "group", "groupId": "a"}]},
                         headers={"Authorization": f"Bearer {key}"})
    assert (bearer.status_code, bearer.json()["accepted"]) == (200, 1)
    in_body = client.post("/v1/batch",
                          json={"writeKey": key, "batch": [{"type": "group", "groupId": "b"}]})
    assert (in_body.status_code, in_body.json()["accepted"]) == (200, 1)


def test_basic_password_is_ignored(client: TestClient, key: str) -> None:
    import base64

    header = "Basic " + base64.b64encode(f"{key}:whatever".encode()).decode()
    response = client.post("/v1/batch", json={"batch": []}, headers={"Authorization": header})
    assert response.status_code == 200


# ------------------------------------------------------------------------------ single endpoints


def test_single_message_endpoints(
    client: TestClient, auth: dict[str, str], engine: Engine, frozen_now: datetime
) -> None:
    ts = iso(frozen_now - timedelta(minutes=1))
    group = client.post("/v1/group", headers=auth, json={
        "messageId": "g", "userId": "u1", "groupId": "acme", "traits": {"name": "Acme Inc"},
        "timestamp": ts})
    identify = client.post("/v1/identify", headers=auth, json={
        "messageId": "i", "userId": "u1", "traits": {"role": "teacher", "email": "t@x.test"},
        "timestamp": ts})
    track = client.post("/v1/track", headers=auth, json={
        "messageId": "t", "userId": "u1", "event": "Lesson Completed", "timestamp": ts,
        "properties": {"lesson": 4}})
    page = client.post("/v1/page", headers=auth, json={
        "messageId": "p", "userId": "u1", "name": "Dashboard", "timestamp": ts})
    for response in (group, identify, track, page):
        assert response.status_code == 200, response.text
        assert response.json() == {
            "success": True, "accepted": 1, **NO_ERRORS, "rejected": 0, "rejections": [],
        }
    acme = org_id(engine, "acme")
    stamp = frozen_now - timedelta(minutes=1)
    assert event_rows(engine, acme) == [
        ("g", "group", "$group", stamp),
        ("i", "identify", "$identify", stamp),
        ("p", "page", "$page", stamp),
        ("t", "track", "Lesson Completed", stamp),
    ]
    assert scoped_rows(
        engine, [acme], "SELECT external_user_id, role, traits->>'email' FROM members"
    ) == [("u1", "teacher", "t@x.test")]
    assert scoped_rows(engine, [acme], "SELECT slug, name FROM orgs") == [("acme-inc", "Acme Inc")]
    assert scoped_rows(
        engine, [acme], "SELECT properties FROM events WHERE message_id = 't'"
    ) == [({"lesson": 4},)]


def test_single_endpoint_with_invalid_message_is_422_naming_the_reason(
    client: TestClient, auth: dict[str, str], engine: Engine
) -> None:
    response = client.post("/v1/track", headers=auth,
                           json={"messageId": "m-1", "userId": "u1", "event": "$secret"})
    assert response.status_code == 422
    reason = "event names starting with '$' are reserved"
    assert response.json() == error(
        "invalid_input", reason, [{"index": 0, "messageId": "m-1", "reason": reason}]
    )
    wrong_type = client.post("/v1/identify", headers=auth,
                             json={"type": "track", "userId": "u1", "event": "Login"})
    assert wrong_type.status_code == 422
    assert wrong_type.json()["error"]["message"] == "type 'track' sent to the /v1/identify endpoint"
    group = client.post("/v1/group", headers=auth, json={"userId": "u1"})
    assert group.status_code == 422
    assert group.json()["error"]["message"] == "group requires groupId"
    not_object = client.post("/v1/page", headers=auth, json=["x"])
    assert not_object.status_code == 422
    assert not_object.json()["error"]["message"] == "message must be a JSON object"
    assert platform_rows(engine, "SELECT count(*) FROM unattributed_events") == [(0,)]


def test_single_endpoint_over_32_kb_is_413(client: TestClient, auth: dict[str, str]) -> None:
    body = compact({"userId": "u1", "event": "Upload", "properties": {"blob": "x" * 33_000}})
    response = client.post("/v1/track", content=body,
                           headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json() == error(
        "payload_too_large", f"request body is {len(body)} bytes; the limit is 32768"
    )


def test_single_endpoint_duplicate_and_held_results(
    client: TestClient, auth: dict[str, str]
) -> None:
    held = client.post("/v1/track", headers=auth,
                       json={"messageId": "x", "userId": "nobody", "event": "Login"})
    assert held.status_code == 200
    assert held.json() == {"success": True, "accepted": 0, "duplicates": 0, "unattributed": 1,
                           "reattributed": 0, "rejected": 0, "rejections": []}
    again = client.post("/v1/track", headers=auth,
                        json={"messageId": "x", "userId": "nobody", "event": "Login"})
    assert again.json() == {"success": True, "accepted": 0, "duplicates": 1, "unattributed": 0,
                            "reattributed": 0, "rejected": 0, "rejections": []}


def test_unknown_endpoint_is_json_404(client: TestClient, auth: dict[str, str]) -> None:
    response = client.post("/v1/nope", headers=auth, json={})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


# ------------------------------------------------------------------------------ Segment client


class _SessionShim:
    """Stands in for the requests session of the Segment client: posts through the TestClient."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []

    def post(self, url: str, data: Any, headers: dict[str, str], **_: Any) -> Any:
        content = data if isinstance(data, bytes) else data.encode()
        self.bodies.append(content)
        self.headers.append(headers)
        response = self.client.post(url, content=content, headers=headers)
        response.reason = response.reason_phrase  # what requests calls it
        return response


@pytest.mark.parametrize("compress", [False, True])
def test_real_segment_client(
    client: TestClient, key: str, engine: Engine, monkeypatch: pytest.MonkeyPatch,
    compress: bool,
) -> None:
    from segment.analytics import request as segment_request
    from segment.analytics.client import Client

    shim = _SessionShim(client)
    monkeypatch.setattr(segment_request, "_session", shim)
    segment = Client(key, host="http://testserver", sync_mode=True, gzip=compress, max_retries=0)
    segment.group("u1", "acme", {"name": "Acme"}, message_id="g-1")
    segment.identify("u1", {"role": "admin"}, message_id="i-1")
    segment.track("u1", "Login", {"method": "sso"}, message_id="t-1")
    segment.page("u1", name="Home", message_id="p-1")
    segment.screen("u1", name="Settings", message_id="s-1")

    assert len(shim.bodies) == 5
    assert all(h["Authorization"] == basic(key)["Authorization"] for h in shim.headers)
    assert all((h.get("Content-Encoding") == "gzip") == compress for h in shim.headers)
    acme = org_id(engine, "acme")
    assert [(r[0], r[1], r[2]) for r in event_rows(engine, acme)] == [
        ("g-1", "group", "$group"),
        ("i-1", "identify", "$identify"),
        ("p-1", "page", "$page"),
        ("s-1", "screen", "$screen"),
        ("t-1", "track", "Login"),
    ]
    assert scoped_rows(
        engine, [acme], "SELECT context->'library'->>'name' FROM events WHERE message_id = 't-1'"
    ) == [("analytics-python",)]
    assert scoped_rows(engine, [acme], "SELECT external_user_id, role FROM members") == [
        ("u1", "admin")
    ]


def test_message_too_deeply_nested_to_store_is_rejected_not_a_500(
    client: TestClient, auth: dict[str, str]
) -> None:
    deep = "{}"
    for _ in range(300):
        deep = '{"a": ' + deep + "}"
    body = ('{"batch": [{"type": "group", "messageId": "g", "groupId": "acme"},'
            ' {"type": "track", "messageId": "deep", "userId": "u1", "event": "E",'
            ' "context": {"groupId": "acme"}, "properties": ' + deep + "}]}")
    response = client.post("/v1/batch", content=body.encode(),
                           headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 200
    payload = response.json()
    assert payload["accepted"] == 1
    assert [(r["index"], r["messageId"]) for r in payload["rejections"]] == [(1, "deep")]
    assert payload["rejections"][0]["reason"].startswith("message cannot be stored as JSON: ")
