"""Replays add nothing: the same messages twice leave events and rollups exactly as once."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from ingest_helpers import at, days_ago, iso, org_id, platform_rows, scoped_rows
from sqlalchemy import Engine


def dataset() -> tuple[list[dict[str, Any]], date, date, date]:
    """One org, three members, activity over three days (hand-counted below)."""
    d1, d2, d3 = days_ago(3), days_ago(2), days_ago(1)

    def msg(mid: str, when: Any, **fields: Any) -> dict[str, Any]:
        return {"messageId": mid, "timestamp": iso(when), **fields}

    def trk(mid: str, user: str, event: str, when: Any) -> dict[str, Any]:
        return msg(mid, when, type="track", userId=user, event=event)

    batch = [
        msg("g", at(d1, 8), type="group", groupId="acme", traits={"name": "Acme"}),
        *[
            msg(f"i-{u}", at(d1, 8, 30), type="identify", userId=u, traits={"role": "teacher"},
                context={"groupId": "acme"})
            for u in ("u1", "u2", "u3")
        ],
        trk("t1", "u1", "Login", at(d1, 9)),
        trk("t2", "u1", "Lesson Completed", at(d1, 10)),
        trk("t3", "u2", "Login", at(d1, 11)),
        msg("p1", at(d1, 13), type="page", userId="u3", name="Home"),
        trk("t4", "u1", "Login", at(d2, 9)),
        trk("t5", "u3", "Login", at(d2, 12)),
        msg("s1", at(d2, 14), type="screen", userId="u3", name="Settings"),
        trk("t6", "u2", "Login", at(d3, 9)),
        trk("t7", "u2", "Login", at(d3, 10)),
        trk("t8", "u2", "Login", at(d3, 23, 59)),
    ]
    return batch, d1, d2, d3


def snapshot(engine: Engine, org: int) -> dict[str, Any]:
    return {
        "events": scoped_rows(engine, [org], "SELECT count(*) FROM events"),
        "dedup": scoped_rows(engine, [org], "SELECT count(*) FROM event_dedup"),
        "daily": scoped_rows(
            engine, [org],
            "SELECT day, unit_id, name, events FROM rollup_daily_events ORDER BY day, name",
        ),
        "member_days": scoped_rows(
            engine, [org],
            "SELECT r.day, m.external_user_id, r.events FROM rollup_member_days r"
            " JOIN members m USING (org_id, member_id) ORDER BY r.day, m.external_user_id",
        ),
        "active": scoped_rows(
            engine, [org],
            "SELECT day, count(DISTINCT member_id) FROM rollup_member_days GROUP BY day"
            " ORDER BY day",
        ),
        "state": scoped_rows(
            engine, [org], "SELECT events_total, newest_event_at FROM rollup_state"
        ),
        "members": scoped_rows(engine, [org], "SELECT count(*) FROM members"),
    }


def test_replayed_batch_changes_nothing(
    client: TestClient, auth: dict[str, str], engine: Engine
) -> None:
    batch, d1, d2, d3 = dataset()
    first = client.post("/v1/batch", json={"batch": batch}, headers=auth)
    assert first.json() == {"success": True, "accepted": 14, "duplicates": 0, "unattributed": 0,
                            "reattributed": 0, "rejected": 0, "rejections": []}
    acme = org_id(engine, "acme")
    expected = {
        "events": [(14,)],
        "dedup": [(14,)],
        "daily": [
            (d1, 0, "$group", 1), (d1, 0, "$identify", 3), (d1, 0, "$page", 1),
            (d1, 0, "Lesson Completed", 1), (d1, 0, "Login", 2),
            (d2, 0, "$screen", 1), (d2, 0, "Login", 2),
            (d3, 0, "Login", 3),
        ],
        "member_days": [
            (d1, "u1", 2), (d1, "u2", 1), (d1, "u3", 1),
            (d2, "u1", 1), (d2, "u3", 2),
            (d3, "u2", 3),
        ],
        "active": [(d1, 3), (d2, 2), (d3, 1)],
        "state": [(14, at(d3, 23, 59))],
        "members": [(3,)],
    }
    assert snapshot(engine, acme) == expected

    second = client.post("/v1/batch", json={"batch": batch}, headers=auth)
    assert second.json() == {"success": True, "accepted": 0, "duplicates": 14, "unattributed": 0,
                             "reattributed": 0, "rejected": 0, "rejections": []}
    assert snapshot(engine, acme) == expected
    assert platform_rows(
        engine, "SELECT accepted, duplicates FROM ingest_batches ORDER BY batch_id"
    ) == [(14, 0), (0, 14)]


def test_partial_replay_counts_only_the_new_message(
    client: TestClient, auth: dict[str, str], engine: Engine
) -> None:
    batch, d1, d2, d3 = dataset()
    client.post("/v1/batch", json={"batch": batch}, headers=auth)
    acme = org_id(engine, "acme")
    before = snapshot(engine, acme)
    retry = [
        batch[4],  # t1: u1 Login on d1
        batch[9],  # t5: u3 Login on d2
        {"messageId": "t9", "type": "track", "userId": "u3", "event": "Login",
         "timestamp": iso(at(d3, 7))},
        # The same new message twice in the retry: counted once.
        {"messageId": "t9", "type": "track", "userId": "u3", "event": "Login",
         "timestamp": iso(at(d3, 7))},
    ]
    response = client.post("/v1/batch", json={"batch": retry}, headers=auth)
    assert response.json() == {"success": True, "accepted": 1, "duplicates": 3, "unattributed": 0,
                               "reattributed": 0, "rejected": 0, "rejections": []}
    after = snapshot(engine, acme)
    assert after["events"] == [(15,)]
    assert after["daily"] == [
        row if row[:3] != (d3, 0, "Login") else (d3, 0, "Login", 4) for row in before["daily"]
    ]
    assert after["member_days"] == [*before["member_days"], (d3, "u3", 1)]
    assert after["active"] == [(d1, 3), (d2, 2), (d3, 2)]
    assert after["state"] == [(15, at(d3, 23, 59))]


def test_replay_with_changed_content_keeps_the_first_version(
    client: TestClient, auth: dict[str, str], engine: Engine
) -> None:
    d = days_ago(1)
    group = {"messageId": "g", "type": "group", "groupId": "acme", "timestamp": iso(at(d, 8))}
    first = {"messageId": "t", "type": "track", "userId": "u1", "event": "Login",
             "context": {"groupId": "acme"}, "timestamp": iso(at(d, 9))}
    client.post("/v1/batch", json={"batch": [group, first]}, headers=auth)
    changed = {**first, "event": "Logout", "timestamp": iso(at(days_ago(2), 9))}
    response = client.post("/v1/batch", json={"batch": [changed]}, headers=auth)
    assert (response.json()["accepted"], response.json()["duplicates"]) == (0, 1)
    acme = org_id(engine, "acme")
    assert scoped_rows(engine, [acme], "SELECT name, event_time FROM events WHERE type = 'track'"
                       ) == [("Login", at(d, 9))]
    assert scoped_rows(engine, [acme], "SELECT day, name, events FROM rollup_daily_events"
                       " WHERE name NOT LIKE '$%'") == [(d, "Login", 1)]


def test_message_ids_are_unique_per_org_not_globally(
    client: TestClient, auth: dict[str, str], engine: Engine
) -> None:
    d = days_ago(1)
    batch = [
        {"messageId": "ga", "type": "group", "groupId": "a", "timestamp": iso(at(d, 8))},
        {"messageId": "gb", "type": "group", "groupId": "b", "timestamp": iso(at(d, 8))},
    ]
    client.post("/v1/batch", json={"batch": batch}, headers=auth)
    same_id = [
        {"messageId": "same", "type": "track", "userId": "u1", "event": "Login",
         "context": {"groupId": "a"}, "timestamp": iso(at(d, 9))},
    ]
    other_org = [{**same_id[0], "context": {"groupId": "b"}}]
    assert client.post("/v1/batch", json={"batch": same_id}, headers=auth).json()["accepted"] == 1
    assert client.post("/v1/batch", json={"batch": other_org}, headers=auth).json()[
        "accepted"] == 1
    a, b = org_id(engine, "a"), org_id(engine, "b")
    assert scoped_rows(engine, [a, b], "SELECT org_id, message_id FROM events"
                       " WHERE type = 'track' ORDER BY org_id") == [(a, "same"), (b, "same")]


def test_replayed_held_message_is_a_duplicate(
    client: TestClient, auth: dict[str, str], engine: Engine
) -> None:
    held = [{"messageId": "h", "type": "track", "userId": "ghost", "event": "Login"}]
    assert client.post("/v1/batch", json={"batch": held}, headers=auth).json()[
        "unattributed"] == 1
    again = client.post("/v1/batch", json={"batch": held}, headers=auth).json()
    assert (again["accepted"], again["duplicates"], again["unattributed"]) == (0, 1, 0)
    assert platform_rows(engine, "SELECT message_id FROM unattributed_events") == [("h",)]
    assert client.get("/api/health").json()["unattributed_backlog"] == 1
