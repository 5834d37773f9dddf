"""The demo's universities send risk traffic that cohort analytics reads: students carry a cohort
trait, and the at-risk count matches an independent count over the generated messages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from factories import Factory
from orgpulse.auth import resolve_org_ref
from orgpulse.cohorts import cohort_analytics
from orgpulse.core import clock
from orgpulse.core.tenancy import TenantScope, scoped, unscoped
from orgpulse.demo import generate

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def _at_risk_by_hand(messages: list[dict[str, Any]]) -> int:
    """Students with a high/critical flag and no resolution of it, from the raw messages."""
    flags = {m["properties"]["flag_id"]: m for m in messages if m.get("event") == "Risk Flagged"}
    resolved = {m["properties"]["flag_id"] for m in messages if m.get("event") == "Risk Resolved"}
    return len({
        m["userId"] for f, m in flags.items()
        if f not in resolved and m["properties"]["level"] in ("high", "critical")
    })


def test_demo_university_risk_traffic(factory: Factory, engine: Engine) -> None:
    messages = [m for batch in generate(orgs=3, days=60, seed=5, now=NOW) for m in batch]
    universities = {m["groupId"] for m in messages
                    if m["type"] == "group" and m["traits"].get("kind") == "university"}
    assert len(universities) == 1
    [uni] = universities
    members = {m["userId"]: m for m in messages if m["type"] == "identify"}
    students = [m for m in members.values()
                if m["context"]["groupId"] == uni and m["traits"]["role"] == "student"]
    assert students and all(m["traits"]["cohort"].startswith("Class of ") for m in students)
    assert not any("cohort" in m["traits"] for m in members.values()
                   if m["context"]["groupId"] != uni)
    flagged = [m for m in messages if m.get("event") == "Risk Flagged"]
    assert flagged and {members[m["userId"]]["context"]["groupId"] for m in flagged} == {uni}

    clock.freeze(NOW)
    try:
        for i in range(0, len(messages), 500):
            result = factory.send(messages[i : i + 500])
            assert result.rejections == []
        with unscoped(engine) as conn:
            org_id = resolve_org_ref(conn, uni)
        assert org_id is not None
        with scoped(engine, TenantScope.of([org_id])) as conn:
            body = cohort_analytics(conn=conn, org_id=org_id, now=NOW, period="year")
    finally:
        clock.freeze(None)
    assert body.has_data
    assert body.kpis.total_at_risk == _at_risk_by_hand(messages) > 0
    assert {g.key for g in body.cohorts} <= {f"Class of {y}" for y in range(2026, 2030)}
