"""PostgreSQL goes away under the HTTP ingestion API: 503 + Retry-After, nothing half written,
and the client's retries (same messageIds) land exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, event, text
from tests.faults.conftest import NOTHING, row_counts

from datasets import at
from factories import Factory
from orgpulse.core.tenancy import TenantScope, scoped
from tcpproxy import TcpProxy

LOG_BATCH = "INSERT INTO ingest_batches"


def batch_a() -> dict[str, Any]:
    """A new org, its first member and two sign-ins."""
    return {"batch": [
        {"type": "group", "groupId": "acme", "traits": {"name": "Acme"}, "messageId": "a-1",
         "timestamp": at(1, hour=9)},
        {"type": "identify", "userId": "t1", "traits": {"role": "teacher"},
         "context": {"groupId": "acme"}, "messageId": "a-2", "timestamp": at(1, hour=9)},
        {"type": "track", "userId": "t1", "event": "Login", "messageId": "a-3",
         "timestamp": at(1, hour=10)},
        {"type": "track", "userId": "t1", "event": "Login", "messageId": "a-4",
         "timestamp": at(1, hour=11)},
    ]}


def batch_b() -> dict[str, Any]:
    return {"batch": [
        {"type": "track", "userId": "t1", "event": "Login", "messageId": "b-1",
         "timestamp": at(1, hour=12)},
        {"type": "track", "userId": "t1", "event": "Upload Started", "messageId": "b-2",
         "timestamp": at(1, hour=13), "properties": {"upload_id": "u1"}},
    ]}


# What batches A and B store, once: 6 events, each counted once in the daily rollup.
EXPECTED_IDS = ["a-1", "a-2", "a-3", "a-4", "b-1", "b-2"]
EXPECTED_ROLLUP = {"$group": 1, "$identify": 1, "Login": 3, "Upload Started": 1}


def post(client: TestClient, key: str, body: dict[str, Any]) -> Any:
    return client.post("/v1/batch", json=body, auth=(key, ""))


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "unavailable"


def stored(engine: Engine) -> tuple[list[str], dict[str, int], list[tuple[int, int]]]:
    """Message ids of the stored events, the daily rollup per event name, and the batch log."""
    with scoped(engine, TenantScope.all_orgs([], user_id=None)) as conn:
        ids = list(conn.execute(text("SELECT message_id FROM events ORDER BY message_id"))
                   .scalars())
        rollup = {r[0]: int(r[1]) for r in conn.execute(
            text("SELECT name, sum(events) FROM rollup_daily_events GROUP BY name"))}
        batches = [(r[0], r[1]) for r in conn.execute(
            text("SELECT accepted, duplicates FROM ingest_batches ORDER BY batch_id"))]
    return ids, rollup, batches


@pytest.fixture
def key(factory: Factory, frozen: datetime) -> str:
    return factory.write_key()


@pytest.fixture
def statements(proxied_engine: Engine) -> Iterator[list[str]]:
    """Every statement the proxied engine sends, in order (for the hooks below to look at)."""
    seen: list[str] = []

    def remember(conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(proxied_engine, "before_cursor_execute", remember)
    yield seen
    event.remove(proxied_engine, "before_cursor_execute", remember)


def test_batches_sent_during_an_outage_are_refused_whole_and_land_once_on_retry(
    proxied_client: TestClient, proxy: TcpProxy, engine: Engine, key: str
) -> None:
    assert post(proxied_client, key, {"batch": []}).status_code == 200  # the path works
    proxy.cut()
    assert_unavailable(post(proxied_client, key, batch_a()))
    assert_unavailable(post(proxied_client, key, batch_b()))
    assert proxy.refused >= 2
    assert row_counts(engine) == NOTHING

    proxy.restore()
    first = post(proxied_client, key, batch_a())
    assert first.status_code == 200, first.text
    assert (first.json()["accepted"], first.json()["duplicates"]) == (4, 0)
    assert post(proxied_client, key, batch_b()).json()["accepted"] == 2
    before_replay = row_counts(engine)
    # A client that never saw the first 200 sends batch A once more.
    replay = post(proxied_client, key, batch_a()).json()
    assert (replay["accepted"], replay["duplicates"]) == (0, 4)
    ids, rollup, batches = stored(engine)
    assert ids == EXPECTED_IDS
    assert rollup == EXPECTED_ROLLUP
    assert batches == [(4, 0), (2, 0), (0, 4)]
    after_replay = row_counts(engine)
    assert after_replay == {**before_replay, "ingest_batches": before_replay["ingest_batches"] + 1}
    assert (after_replay["orgs"], after_replay["members"], after_replay["event_dedup"]) == (1, 1, 6)


def test_a_cut_in_the_middle_of_the_write_rolls_the_whole_batch_back(
    proxied_client: TestClient, proxied_engine: Engine, proxy: TcpProxy, engine: Engine, key: str
) -> None:
    seen_inside: list[int] = []

    def cut_before_the_batch_log(
        conn: Connection, cursor: Any, statement: str, *args: Any
    ) -> None:
        # The last statement of the ingest transaction: the org, member, events and rollups are
        # written (visible inside the transaction) when the database goes away.
        if statement.startswith(LOG_BATCH) and not proxy.is_cut:
            raw = conn.connection.driver_connection
            assert raw is not None
            row = raw.execute("SELECT count(*) FROM events").fetchone()
            seen_inside.append(row[0] if row else -1)
            proxy.cut()

    event.listen(proxied_engine, "before_cursor_execute", cut_before_the_batch_log)
    try:
        response = post(proxied_client, key, batch_a())
    finally:
        event.remove(proxied_engine, "before_cursor_execute", cut_before_the_batch_log)
    assert_unavailable(response)
    assert response.json()["error"]["message"] == (
        "the database is unavailable; nothing from this request was stored, retry it later"
    )
    assert seen_inside == [4]
    assert row_counts(engine) == NOTHING

    proxy.restore()
    assert post(proxied_client, key, batch_a()).json()["accepted"] == 4
    assert post(proxied_client, key, batch_b()).json()["accepted"] == 2
    ids, rollup, batches = stored(engine)
    assert (ids, rollup, batches) == (EXPECTED_IDS, EXPECTED_ROLLUP, [(4, 0), (2, 0)])


def test_a_commit_whose_reply_is_lost_is_not_stored_twice_by_the_retry(
    proxied_client: TestClient, proxied_engine: Engine, proxy: TcpProxy, engine: Engine,
    key: str, statements: list[str],
) -> None:
    def lose_the_commit_reply(conn: Connection) -> None:
        # Only the ingest transaction (the one that logged its batch), and only once.
        if statements and statements[-1].startswith(LOG_BATCH) and not proxy.is_cut:
            proxy.cut_on_next_reply()

    event.listen(proxied_engine, "commit", lose_the_commit_reply)
    try:
        response = post(proxied_client, key, batch_a())
    finally:
        event.remove(proxied_engine, "commit", lose_the_commit_reply)
    assert_unavailable(response)
    # The server did commit: the client cannot know, and must not be told nothing was stored.
    assert response.json()["error"]["message"] == (
        "the database connection was lost while committing; the request may have been stored:"
        " retry it, messages are idempotent on messageId"
    )
    assert stored(engine) == (EXPECTED_IDS[:4], {"$group": 1, "$identify": 1, "Login": 2},
                              [(4, 0)])

    proxy.restore()
    retry = post(proxied_client, key, batch_a()).json()
    assert (retry["accepted"], retry["duplicates"]) == (0, 4)
    assert post(proxied_client, key, batch_b()).json()["accepted"] == 2
    assert stored(engine) == (EXPECTED_IDS, EXPECTED_ROLLUP, [(4, 0), (0, 4), (2, 0)])
