"""Ingested data is tenant data: a transaction sees exactly the orgs of its scope, none without."""

from __future__ import annotations

from typing import Any

import pytest
from ingest_helpers import at, days_ago, iso, org_id, scoped_rows
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from factories import Factory
from orgpulse.core.tenancy import TenantScope, scoped, unscoped

TENANT_TABLES = (
    "orgs", "units", "members", "events", "event_dedup", "rollup_daily_events",
    "rollup_member_days", "rollup_state",
)


@pytest.fixture
def two_orgs(factory: Factory, engine: Engine) -> tuple[int, int]:
    t = at(days_ago(1), 10)

    def msg(mid: str, **fields: Any) -> dict[str, Any]:
        return {"messageId": mid, "timestamp": iso(t), **fields}

    # One batch for both orgs: the writer scopes its transaction to both.
    result = factory.send([
        msg("ga", type="group", groupId="a", traits={"name": "Alpha"}),
        msg("gau", type="group", groupId="a-east", traits={"parent_group_id": "a"}),
        msg("gb", type="group", groupId="b", traits={"name": "Beta"}),
        msg("ia1", type="identify", userId="a1", context={"groupId": "a"}),
        msg("ia2", type="identify", userId="a2", context={"groupId": "a-east"}),
        msg("ib1", type="identify", userId="b1", context={"groupId": "b"}),
        msg("ta1", type="track", userId="a1", event="Login"),
        msg("ta2", type="track", userId="a2", event="Login"),
        msg("ta3", type="track", userId="a2", event="View"),
        msg("tb1", type="track", userId="b1", event="Login"),
        msg("pb1", type="page", userId="b1", name="Home"),
    ])
    assert (result.accepted, len(result.rejections), result.unattributed) == (11, 0, 0)
    return org_id(engine, "a"), org_id(engine, "b")


def test_scoped_transaction_sees_only_its_orgs(engine: Engine, two_orgs: tuple[int, int]) -> None:
    a, b = two_orgs
    d = days_ago(1)
    assert scoped_rows(engine, [a], "SELECT org_id, message_id FROM events ORDER BY message_id"
                       ) == [(a, m) for m in ("ga", "gau", "ia1", "ia2", "ta1", "ta2", "ta3")]
    assert scoped_rows(engine, [b], "SELECT org_id, message_id FROM events ORDER BY message_id"
                       ) == [(b, m) for m in ("gb", "ib1", "pb1", "tb1")]
    assert scoped_rows(engine, [a], "SELECT external_user_id FROM members ORDER BY 1") == [
        ("a1",), ("a2",)
    ]
    assert scoped_rows(engine, [b], "SELECT external_user_id FROM members") == [("b1",)]
    assert scoped_rows(engine, [a], "SELECT name FROM orgs") == [("Alpha",)]
    assert scoped_rows(engine, [b], "SELECT external_id FROM units") == []
    (east,) = scoped_rows(engine, [a], "SELECT unit_id FROM units")
    assert scoped_rows(engine, [a], "SELECT day, unit_id, name, events FROM rollup_daily_events"
                       " ORDER BY unit_id, name") == [
        # a2's identify names the unit as its context.groupId: that event is the unit's, but
        # only a group call or a "unit" trait sets the member's unit, so a2's tracks are not.
        (d, 0, "$group", 1), (d, 0, "$identify", 1), (d, 0, "Login", 2), (d, 0, "View", 1),
        (d, east[0], "$group", 1), (d, east[0], "$identify", 1),
    ]
    assert scoped_rows(engine, [b], "SELECT day, unit_id, name, events FROM rollup_daily_events"
                       " ORDER BY name") == [
        (d, 0, "$group", 1), (d, 0, "$identify", 1), (d, 0, "$page", 1), (d, 0, "Login", 1),
    ]
    assert scoped_rows(engine, [a], "SELECT day, events FROM rollup_member_days ORDER BY events"
                       ) == [(d, 1), (d, 2)]
    assert scoped_rows(engine, [b], "SELECT day, events FROM rollup_member_days") == [(d, 2)]
    assert scoped_rows(engine, [a], "SELECT org_id, events_total FROM rollup_state") == [(a, 7)]
    assert scoped_rows(engine, [b], "SELECT org_id, events_total FROM rollup_state") == [(b, 4)]
    # Naming the other org explicitly does not help.
    assert scoped_rows(engine, [a], "SELECT count(*) FROM events WHERE org_id = :b", b=b) == [
        (0,)
    ]
    assert scoped_rows(engine, [a, b], "SELECT org_id, count(*) FROM events GROUP BY org_id"
                       " ORDER BY org_id") == [(a, 7), (b, 4)]


def test_unscoped_transaction_sees_no_tenant_rows(
    engine: Engine, two_orgs: tuple[int, int]
) -> None:
    with unscoped(engine) as conn:
        for table in TENANT_TABLES:
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0, table  # noqa: S608
    # Scoped to an org that does not exist: nothing either.
    assert scoped_rows(engine, [999_999], "SELECT count(*) FROM events") == [(0,)]


def test_scope_cannot_write_into_another_org(engine: Engine, two_orgs: tuple[int, int]) -> None:
    a, b = two_orgs
    with pytest.raises(DBAPIError, match="row-level security"), \
            scoped(engine, TenantScope.of([a])) as conn:
        conn.execute(
            text("INSERT INTO rollup_daily_events (org_id, day, unit_id, name, events)"
                 " VALUES (:b, current_date, 0, 'Forged', 1)"),
            {"b": b},
        )
    with scoped(engine, TenantScope.of([a])) as conn:
        updated = conn.execute(text("UPDATE events SET name = 'x' WHERE org_id = :b"), {"b": b})
        assert updated.rowcount == 0
    assert scoped_rows(engine, [b], "SELECT count(*) FROM events WHERE name = 'x'") == [(0,)]
