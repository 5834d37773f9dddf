"""Attribution: which org, unit and member each message belongs to; holding and re-attribution."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from ingest_helpers import at, days_ago, iso, org_id, platform_rows, scoped_rows
from sqlalchemy import Engine

from factories import Factory
from orgpulse.ingestion import IngestResult, Rejection


def counts(result: IngestResult) -> tuple[int, int, int, int, int]:
    return (result.accepted, result.duplicates, result.unattributed, result.reattributed,
            len(result.rejections))


def group(gid: str, when: datetime, mid: str | None = None, **fields: Any) -> dict[str, Any]:
    msg = {"type": "group", "groupId": gid, "timestamp": iso(when), **fields}
    if mid:
        msg["messageId"] = mid
    return msg


def track(user: str, event: str, when: datetime, mid: str, **fields: Any) -> dict[str, Any]:
    return {"type": "track", "userId": user, "event": event, "timestamp": iso(when),
            "messageId": mid, **fields}


def identify(user: str, when: datetime, mid: str, **traits: Any) -> dict[str, Any]:
    return {"type": "identify", "userId": user, "traits": traits, "timestamp": iso(when),
            "messageId": mid}


def test_group_creates_the_org_with_a_slug_from_its_name(
    factory: Factory, engine: Engine
) -> None:
    t = at(days_ago(1), 9)
    result = factory.send([
        group("crm-001", t, traits={"name": "Springfield Unified!", "timezone": "America/Chicago",
                                    "plan": "district"}),
        group("crm-002", t, traits={"name": "Springfield  UNIFIED"}),
        group("crm-003", t),
    ])
    assert counts(result) == (3, 0, 0, 0, 0)
    rows = platform_rows(
        engine, "SELECT external_id, slug, unit_id FROM directory_groups ORDER BY external_id"
    )
    assert rows == [
        ("crm-001", "springfield-unified", None),
        ("crm-002", "springfield-unified-2", None),
        ("crm-003", "crm-003", None),
    ]
    first = org_id(engine, "springfield-unified")
    assert first == org_id(engine, "crm-001")
    assert scoped_rows(
        engine, [first], "SELECT external_id, slug, name, timezone, traits FROM orgs"
    ) == [("crm-001", "springfield-unified", "Springfield Unified!", "America/Chicago",
           {"name": "Springfield Unified!", "timezone": "America/Chicago", "plan": "district"})]


def test_later_group_call_updates_the_org_but_an_older_one_does_not(
    factory: Factory, engine: Engine
) -> None:
    d = days_ago(1)
    factory.send([group("acme", at(d, 9), traits={"name": "Acme", "tier": "gold"})])
    factory.send([group("acme", at(d, 10), traits={"name": "Acme Corp"})])
    factory.send([group("acme", at(d, 8), traits={"name": "Old Name", "tier": "bronze"})])
    acme = org_id(engine, "acme")
    assert scoped_rows(engine, [acme], "SELECT name, slug, traits, profile_at FROM orgs") == [
        ("Acme Corp", "acme", {"name": "Acme Corp", "tier": "gold"}, at(d, 10))
    ]


def test_unit_group_creates_a_unit_under_its_parent_org(
    factory: Factory, engine: Engine
) -> None:
    t = at(days_ago(1), 9)
    result = factory.send([
        group("district-9", t, traits={"name": "District Nine"}),
        group("school-a", t + timedelta(minutes=1),
              traits={"name": "School A", "kind": "school", "parent_group_id": "district-9"}),
        group("school-b", t + timedelta(minutes=2),
              traits={"name": "School B", "parentGroupId": "district-9"}),
    ])
    assert counts(result) == (3, 0, 0, 0, 0)
    district = org_id(engine, "district-9")
    units = scoped_rows(
        engine, [district], "SELECT unit_id, external_id, name, kind FROM units ORDER BY unit_id"
    )
    assert [u[1:] for u in units] == [
        ("school-a", "School A", "school"), ("school-b", "School B", "unit"),
    ]
    assert platform_rows(
        engine, "SELECT external_id, org_id, unit_id, slug FROM directory_groups"
        " WHERE unit_id IS NOT NULL ORDER BY external_id"
    ) == [("school-a", district, units[0][0], None), ("school-b", district, units[1][0], None)]
    # The unit's own $group event carries its unit.
    assert scoped_rows(
        engine, [district], "SELECT unit_id FROM events WHERE type = 'group' ORDER BY event_time"
    ) == [(None,), (units[0][0],), (units[1][0],)]


def test_unit_before_its_parent_creates_the_parent(factory: Factory, engine: Engine) -> None:
    t = at(days_ago(1), 9)
    result = factory.send([
        group("school-a", t, traits={"name": "School A", "parent_group_id": "district-9"}),
    ])
    assert counts(result) == (1, 0, 0, 0, 0)
    district = org_id(engine, "district-9")
    assert scoped_rows(engine, [district], "SELECT slug, name FROM orgs") == [
        ("district-9", "district-9")
    ]
    assert scoped_rows(engine, [district], "SELECT external_id FROM units") == [("school-a",)]


def test_identify_sets_role_and_unit_and_tracks_follow_the_member(
    factory: Factory, engine: Engine
) -> None:
    d = days_ago(1)
    factory.send([
        group("acme", at(d, 8), traits={"name": "Acme"}),
        group("acme-east", at(d, 8, 1), traits={"name": "East", "parent_group_id": "acme"}),
        group("acme", at(d, 8, 2), userId="u1"),
    ])
    result = factory.send([identify("u1", at(d, 9), "i1", role="teacher", unit="acme-east")])
    assert counts(result) == (1, 0, 0, 0, 0)
    acme = org_id(engine, "acme")
    (east,) = scoped_rows(engine, [acme], "SELECT unit_id FROM units")
    members = scoped_rows(engine, [acme], "SELECT member_id, external_user_id, role, unit_id,"
                          " traits FROM members")
    assert [m[1:] for m in members] == [("u1", "teacher", east[0],
                                         {"role": "teacher", "unit": "acme-east"})]
    member_id = members[0][0]

    # No context.groupId: attributed through the member's org, to the member's unit.
    result = factory.send([track("u1", "Login", at(d, 10), "t1")])
    assert counts(result) == (1, 0, 0, 0, 0)
    assert scoped_rows(
        engine, [acme], "SELECT member_id, unit_id FROM events WHERE message_id = 't1'"
    ) == [(member_id, east[0])]
    assert scoped_rows(
        engine, [acme], "SELECT unit_id, events FROM rollup_daily_events WHERE name = 'Login'"
    ) == [(east[0], 1)]
    assert scoped_rows(
        engine, [acme], "SELECT day, member_id, unit_id, events FROM rollup_member_days"
    ) == [(d, member_id, east[0], 1)]


def test_identify_naming_a_unit_of_another_org_leaves_the_unit_unset(
    factory: Factory, engine: Engine
) -> None:
    d = days_ago(1)
    factory.send([
        group("a", at(d, 8)),
        group("b", at(d, 8)),
        group("b-unit", at(d, 8, 1), traits={"parent_group_id": "b"}),
        group("a", at(d, 8, 2), userId="u1"),
    ])
    factory.send([identify("u1", at(d, 9), "i1", role="admin", unit="b-unit")])
    a = org_id(engine, "a")
    assert scoped_rows(engine, [a], "SELECT role, unit_id FROM members") == [("admin", None)]


def test_track_with_context_group_id_goes_to_that_org_or_unit(
    factory: Factory, engine: Engine
) -> None:
    d = days_ago(1)
    factory.send([
        group("a", at(d, 8)), group("b", at(d, 8)),
        group("b-lab", at(d, 8), traits={"parent_group_id": "b"}),
        group("a", at(d, 8, 1), userId="u1"),  # u1's own org is a
    ])
    result = factory.send([
        track("u1", "Login", at(d, 9), "t-b", context={"groupId": "b"}),
        track("u1", "Login", at(d, 9, 1), "t-lab", context={"groupId": "b-lab"}),
        track("u1", "Login", at(d, 9, 2), "t-own"),
    ])
    assert counts(result) == (3, 0, 0, 0, 0)
    a, b = org_id(engine, "a"), org_id(engine, "b")
    (lab,) = scoped_rows(engine, [b], "SELECT unit_id FROM units")
    assert scoped_rows(
        engine, [a, b], "SELECT message_id, org_id, unit_id FROM events WHERE type = 'track'"
        " ORDER BY message_id"
    ) == [("t-b", b, None), ("t-lab", b, lab[0]), ("t-own", a, None)]
    # u1 became a member of b too (first seen there), but stays attributed to a.
    assert scoped_rows(engine, [a, b], "SELECT org_id, external_user_id FROM members"
                       " ORDER BY org_id") == [(a, "u1"), (b, "u1")]
    assert platform_rows(engine, "SELECT external_user_id, org_id FROM directory_members") == [
        ("u1", a)
    ]


def test_newer_group_call_moves_the_user_and_an_older_one_does_not(
    factory: Factory, engine: Engine
) -> None:
    d = days_ago(1)
    factory.send([group("a", at(d, 8)), group("b", at(d, 8))])
    factory.send([group("a", at(d, 9), userId="u1")])
    factory.send([group("b", at(d, 10), userId="u1")])
    factory.send([track("u1", "Login", at(d, 11), "t1")])
    # A late group call (older than the current association) arrives with a track.
    factory.send([group("a", at(d, 7), userId="u1"), track("u1", "Login", at(d, 12), "t2")])
    factory.send([track("u1", "Login", at(d, 13), "t3")])
    a, b = org_id(engine, "a"), org_id(engine, "b")
    assert platform_rows(engine, "SELECT org_id FROM directory_members") == [(b,)]
    assert scoped_rows(
        engine, [a, b], "SELECT message_id, org_id FROM events WHERE type = 'track'"
        " ORDER BY message_id"
    ) == [("t1", b), ("t2", b), ("t3", b)]


def test_unknown_user_is_held_then_reattributed_by_a_group_call(
    client: TestClient, auth: dict[str, str], engine: Engine
) -> None:
    d = days_ago(1)
    first = client.post("/v1/batch", headers=auth, json={"batch": [
        track("newbie", "Login", at(d, 9), "t1"),
        track("newbie", "Lesson Completed", at(d, 10), "t2"),
        {"type": "page", "anonymousId": "anon-only", "timestamp": iso(at(d, 10)),
         "messageId": "p-anon"},
    ]})
    assert first.json() == {"success": True, "accepted": 0, "duplicates": 0, "unattributed": 3,
                            "reattributed": 0, "rejected": 0, "rejections": []}
    assert platform_rows(
        engine, "SELECT message_id, external_user_id, group_external_id, reason"
        " FROM unattributed_events ORDER BY message_id"
    ) == [
        ("p-anon", None, None, "no context.groupId and no known org for this user"),
        ("t1", "newbie", None, "no context.groupId and no known org for this user"),
        ("t2", "newbie", None, "no context.groupId and no known org for this user"),
    ]
    assert client.get("/api/health").json()["unattributed_backlog"] == 3

    second = client.post("/v1/batch", headers=auth, json={"batch": [
        group("acme", at(d, 8), "g1", userId="newbie", traits={"name": "Acme"}),
    ]})
    assert second.json() == {"success": True, "accepted": 1, "duplicates": 0, "unattributed": 0,
                             "reattributed": 2, "rejected": 0, "rejections": []}
    assert platform_rows(engine, "SELECT message_id FROM unattributed_events") == [("p-anon",)]
    assert client.get("/api/health").json()["unattributed_backlog"] == 1
    acme = org_id(engine, "acme")
    (member,) = scoped_rows(engine, [acme], "SELECT member_id FROM members")
    assert scoped_rows(
        engine, [acme], "SELECT message_id, name, event_time, member_id FROM events"
        " ORDER BY message_id"
    ) == [
        ("g1", "$group", at(d, 8), member[0]),
        ("t1", "Login", at(d, 9), member[0]),
        ("t2", "Lesson Completed", at(d, 10), member[0]),
    ]
    assert scoped_rows(engine, [acme], "SELECT day, events FROM rollup_member_days") == [(d, 2)]
    assert scoped_rows(engine, [acme], "SELECT events_total FROM rollup_state") == [(3,)]
    assert platform_rows(
        engine, "SELECT accepted, unattributed FROM ingest_batches ORDER BY batch_id"
    ) == [(0, 3), (3, 0)]


def test_unknown_group_id_is_held_then_reattributed_when_the_group_appears(
    factory: Factory, engine: Engine
) -> None:
    d = days_ago(1)
    held = factory.send([track("u1", "Login", at(d, 9), "t1", context={"groupId": "later"})])
    assert counts(held) == (0, 0, 1, 0, 0)
    assert platform_rows(
        engine, "SELECT group_external_id, reason FROM unattributed_events"
    ) == [("later", "unknown groupId 'later'")]
    result = factory.send([group("later", at(d, 8), "g1")])
    assert counts(result) == (1, 0, 0, 1, 0)
    later = org_id(engine, "later")
    assert scoped_rows(engine, [later], "SELECT message_id FROM events ORDER BY message_id") == [
        ("g1",), ("t1",)
    ]
    assert scoped_rows(engine, [later], "SELECT external_user_id FROM members") == [("u1",)]
    assert platform_rows(engine, "SELECT count(*) FROM unattributed_events") == [(0,)]


def test_message_held_within_its_own_batch_counts_as_accepted(
    factory: Factory, engine: Engine
) -> None:
    d = days_ago(1)
    factory.send([group("acme", at(d, 8))])
    # The track comes first and names no group; the identify later in the batch tells us the
    # user's org: both land, neither is reported as held.
    result = factory.send([
        track("u9", "Login", at(d, 10), "t1"),
        {**identify("u9", at(d, 9), "i1", role="student"), "context": {"groupId": "acme"}},
    ])
    assert counts(result) == (2, 0, 0, 0, 0)
    acme = org_id(engine, "acme")
    assert scoped_rows(engine, [acme], "SELECT message_id FROM events WHERE type <> 'group'"
                       " ORDER BY message_id") == [("i1",), ("t1",)]
    assert platform_rows(engine, "SELECT count(*) FROM unattributed_events") == [(0,)]


def test_unit_cannot_move_to_another_org(factory: Factory, engine: Engine) -> None:
    d = days_ago(1)
    factory.send([
        group("a", at(d, 8)), group("b", at(d, 8)),
        group("a-unit", at(d, 8, 1), traits={"parent_group_id": "a"}),
        group("b-unit", at(d, 8, 1), traits={"parent_group_id": "b"}),
    ])
    result = factory.send([
        group("a-unit", at(d, 9), "move", traits={"parent_group_id": "b"}),
        group("a", at(d, 9), "org-to-unit", traits={"parent_group_id": "b"}),
        group("c-unit", at(d, 9), "under-unit", traits={"parent_group_id": "b-unit"}),
        group("a-unit", at(d, 9), "to-new-org", traits={"parent_group_id": "brand-new"}),
        group("a-unit", at(d, 9), "same-parent", traits={"parent_group_id": "a", "name": "A1"}),
    ])
    assert sorted(result.rejections, key=lambda r: r.index) == [
        Rejection(0, "move", "unit 'a-unit' belongs to another organization; "
                  "moving units between organizations is not supported"),
        Rejection(1, "org-to-unit", "group 'a' is an organization; it cannot become a unit"),
        Rejection(2, "under-unit", "parent group 'b-unit' is a unit"),
        Rejection(3, "to-new-org", "unit 'a-unit' belongs to another organization; "
                  "moving units between organizations is not supported"),
    ]
    assert counts(result) == (1, 0, 0, 0, 4)
    a, b = org_id(engine, "a"), org_id(engine, "b")
    assert scoped_rows(engine, [a, b], "SELECT org_id, external_id, name FROM units"
                       " ORDER BY external_id") == [(a, "a-unit", "A1"), (b, "b-unit", "b-unit")]
    # Rejected messages leave nothing behind: no new org, no unit, no event.
    assert platform_rows(engine, "SELECT external_id FROM directory_groups ORDER BY 1") == [
        ("a",), ("a-unit",), ("b",), ("b-unit",)
    ]
    assert scoped_rows(engine, [a, b], "SELECT count(*) FROM events WHERE message_id IN"
                       " ('move', 'org-to-unit', 'under-unit', 'to-new-org')") == [(0,)]


def test_out_of_order_identify_does_not_roll_back_the_profile(
    factory: Factory, engine: Engine
) -> None:
    d = days_ago(1)
    factory.send([
        group("acme", at(d, 8)),
        group("east", at(d, 8), traits={"parent_group_id": "acme"}),
        group("west", at(d, 8), traits={"parent_group_id": "acme"}),
        group("acme", at(d, 8, 1), userId="u1"),
    ])
    factory.send([identify("u1", at(d, 12), "new", role="admin", unit="west", nick="Al")])
    late = factory.send([identify("u1", at(d, 9), "old", role="student", unit="east",
                                  nick="Old", grade=7)])
    assert counts(late) == (1, 0, 0, 0, 0)  # stored as an event, but the profile stays
    acme = org_id(engine, "acme")
    (west,) = scoped_rows(engine, [acme], "SELECT unit_id FROM units WHERE external_id = 'west'")
    assert scoped_rows(engine, [acme], "SELECT role, unit_id, traits, profile_at FROM members") == [
        ("admin", west[0], {"role": "admin", "unit": "west", "nick": "Al"}, at(d, 12))
    ]
    # Within one batch, too: the newest identify wins whatever the order.
    factory.send([
        identify("u1", at(d, 14), "newest", role="teacher"),
        identify("u1", at(d, 13), "older", role="parent"),
    ])
    assert scoped_rows(engine, [acme], "SELECT role, unit_id, profile_at FROM members") == [
        ("teacher", west[0], at(d, 14))
    ]


def test_group_call_without_traits_keeps_the_org_and_unit_profile(
    factory: Factory, engine: Engine
) -> None:
    d = days_ago(1)
    factory.send([
        group("acme", at(d, 8), traits={"name": "Acme Corp", "timezone": "Europe/Paris"}),
        group("acme-east", at(d, 8), traits={"name": "East Campus", "kind": "school",
                                             "parent_group_id": "acme"}),
    ])
    # The usual Segment pattern: later group calls only associate a user, without traits.
    result = factory.send([
        group("acme", at(d, 9), userId="u1"),
        group("acme-east", at(d, 9), userId="u2"),
    ])
    assert counts(result) == (2, 0, 0, 0, 0)
    acme = org_id(engine, "acme")
    assert scoped_rows(engine, [acme], "SELECT name, slug, timezone, traits FROM orgs") == [
        ("Acme Corp", "acme-corp", "Europe/Paris",
         {"name": "Acme Corp", "timezone": "Europe/Paris"}),
    ]
    assert scoped_rows(engine, [acme], "SELECT name, kind FROM units") == [
        ("East Campus", "school")
    ]
    (east,) = scoped_rows(engine, [acme], "SELECT unit_id FROM units")
    assert scoped_rows(engine, [acme], "SELECT external_user_id, unit_id FROM members"
                       " ORDER BY external_user_id") == [("u1", None), ("u2", east[0])]


def test_first_and_last_seen_follow_activity_at_an_hour_resolution(
    factory: Factory, engine: Engine
) -> None:
    d = days_ago(2)
    factory.send([group("acme", at(d, 8), traits={"name": "Acme"}, userId="u1")])
    acme = org_id(engine, "acme")

    def seen() -> tuple[datetime, datetime]:
        ((first, last),) = scoped_rows(
            engine, [acme], "SELECT first_seen_at, last_seen_at FROM members"
        )
        return first, last

    assert seen() == (at(d, 8), at(d, 8))
    # Within the hour: the member row is not rewritten (last seen may lag by up to an hour).
    factory.send([track("u1", "Login", at(d, 8, 59), "t1")])
    assert seen() == (at(d, 8), at(d, 8))
    # More than an hour later: refreshed to the newest event of the batch.
    factory.send(
        [track("u1", "Login", at(d, 9, 1), "t2"), track("u1", "Login", at(d, 9, 30), "t3")]
    )
    assert seen() == (at(d, 8), at(d, 9, 30))
    # An event older than first seen (a backfill) moves first seen back at once.
    factory.send([track("u1", "Login", at(d, 7, 45), "t4")])
    assert seen() == (at(d, 7, 45), at(d, 9, 30))
    # Every event still counts in the rollups, whatever the member row says.
    assert scoped_rows(
        engine, [acme], "SELECT events FROM rollup_member_days"
    ) == [(4,)]
