"""The reserved risk and intervention events: validated at ingest, projected into risk_flags and
interventions in any arrival order, and rebuilt identically from the stored events."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from datasets import frozen_clock
from factories import Factory
from orgpulse.catalog import catalog_of
from orgpulse.core.config import Settings as AppSettings
from orgpulse.core.tenancy import TenantScope, scoped
from orgpulse.ingestion import Projections, reproject_org
from orgpulse.ingestion.risk_events import RISK_EVENTS, risk_event_problem

from .dataset import build_university

FLAG_ROWS = (
    "SELECT flag_id, student_user_id, level, confidence, course, program, flagged_at, detail_at,"
    " detail_message_id, resolved_at FROM risk_flags WHERE org_id = :o ORDER BY flag_id"
)
INTERVENTION_ROWS = (
    "SELECT intervention_id, flag_id, student_user_id, kind, logged_at, logged_message_id,"
    " outcome, outcome_at, outcome_message_id FROM interventions WHERE org_id = :o"
    " ORDER BY intervention_id"
)


def rows(engine: Engine, org: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with scoped(engine, TenantScope.of([org])) as conn:
        flags = [tuple(r) for r in conn.execute(text(FLAG_ROWS), {"o": org})]
        interventions = [tuple(r) for r in conn.execute(text(INTERVENTION_ROWS), {"o": org})]
    return flags, interventions


# ------------------------------------------------------------------------ validation
def test_malformed_risk_events_are_rejected_with_a_reason(factory: Factory) -> None:
    factory.org("acme", "Acme")

    def track(event: str, user: str | None = "s1", **props: Any) -> dict[str, Any]:
        msg: dict[str, Any] = {"type": "track", "event": event, "properties": props,
                               "context": {"groupId": "acme"}}
        if user is None:
            msg["anonymousId"] = "anon"
        else:
            msg["userId"] = user
        return msg

    result = factory.send([
        track("Risk Flagged", flag_id="f1", level="severe"),
        track("Risk Flagged", level="high"),
        track("Risk Flagged", flag_id="f2", level="high", confidence=1.5),
        track("Risk Flagged", flag_id="f3", level="high", confidence=True),
        track("Risk Flagged", None, flag_id="f4", level="high"),
        track("Risk Resolved", resolution="done"),
        track("Intervention Logged", intervention_id="i1"),
        track("Intervention Outcome", intervention_id="i1", outcome="great"),
        track("Intervention Outcome", outcome="improved"),
        # Valid ones in the same batch land.
        track("Risk Flagged", flag_id="f5", level="low", confidence=0.25, course="C1"),
        track("Risk Flagged", None, flag_id="f6", level="critical", student_id="s9"),
        track("Intervention Logged", "a1", intervention_id="i2", student_id="s1"),
    ])
    assert [(r.index, r.reason) for r in result.rejections] == [
        (0, "Risk Flagged: properties.level must be one of low, moderate, high, critical, "
            "got 'severe'"),
        (1, "Risk Flagged: properties.flag_id is required"),
        (2, "Risk Flagged: properties.confidence must be a number from 0 to 1"),
        (3, "Risk Flagged: properties.confidence must be a number from 0 to 1"),
        (4, "Risk Flagged: properties.student_id is required"),
        (5, "Risk Resolved: properties.flag_id is required"),
        (6, "Intervention Logged: properties.flag_id or properties.student_id is required"),
        (7, "Intervention Outcome: properties.outcome must be one of improved, no_change, "
            "worsened, pending, got 'great'"),
        (8, "Intervention Outcome: properties.intervention_id is required"),
    ]
    assert result.accepted == 3


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(RISK_EVENTS), st.dictionaries(
    st.sampled_from(["flag_id", "level", "confidence", "student_id", "intervention_id",
                     "outcome", "course", "program", "type"]),
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12),
              st.just("x" * 300),
              st.lists(st.integers(), max_size=2)),
))
def test_risk_event_validation_never_raises(name: str, properties: dict[str, Any]) -> None:
    problem = risk_event_problem(name, properties, user_id="u1")
    assert problem is None or problem.startswith(f"{name}: ")


def test_other_event_names_are_not_checked() -> None:
    assert risk_event_problem("Login", {"level": "nonsense"}, user_id=None) is None


# ------------------------------------------------------------------------ arrival order
def _story(org: str) -> list[dict[str, Any]]:
    """One flag raised, escalated and resolved; an intervention with two outcomes; a tie."""
    def ev(mid: str, user: str, event: str, when: str, **props: Any) -> dict[str, Any]:
        return {"type": "track", "messageId": mid, "userId": user, "event": event,
                "timestamp": when, "properties": props, "context": {"groupId": org}}

    return [
        ev("m1", "s1", "Risk Flagged", "2026-06-01T10:00:00Z", flag_id="f1", level="moderate",
           confidence=0.5, course="C1"),
        ev("m2", "a1", "Intervention Logged", "2026-06-02T10:00:00Z", intervention_id="i1",
           flag_id="f1", type="meeting"),
        ev("m3", "s1", "Risk Flagged", "2026-06-03T10:00:00Z", flag_id="f1", level="critical",
           confidence=0.9, course="C1"),
        ev("m4", "a1", "Intervention Outcome", "2026-06-04T10:00:00Z", intervention_id="i1",
           outcome="pending"),
        ev("m5", "a1", "Risk Resolved", "2026-06-05T10:00:00Z", flag_id="f1"),
        ev("m6", "a1", "Intervention Outcome", "2026-06-06T10:00:00Z", intervention_id="i1",
           outcome="improved"),
        ev("m7", "a1", "Risk Resolved", "2026-06-07T10:00:00Z", flag_id="f1"),  # again: first
        # Same instant, two levels: the larger message id decides, whatever the order.
        ev("m8", "s2", "Risk Flagged", "2026-06-08T10:00:00Z", flag_id="f2", level="low"),
        ev("m9", "s2", "Risk Flagged", "2026-06-08T10:00:00Z", flag_id="f2", level="high"),
    ]


def test_out_of_order_events_converge_to_the_in_order_rows(
    factory: Factory, engine: Engine
) -> None:
    clock = frozen_clock()
    next(clock)
    try:
        orgs = {key: factory.org(key, key.title()) for key in ("inorder", "reverse", "onebatch")}
        for message in _story("inorder"):
            assert factory.send([message]).accepted == 1
        for message in reversed(_story("reverse")):
            assert factory.send([message]).accepted == 1
        assert factory.send(list(reversed(_story("onebatch")))).accepted == 9
    finally:
        clock.close()

    expected = rows(engine, orgs["inorder"])
    assert rows(engine, orgs["reverse"]) == expected
    assert rows(engine, orgs["onebatch"]) == expected

    def at(day: int) -> datetime:
        return datetime.fromisoformat(f"2026-06-{day:02d}T10:00:00+00:00")

    flags, interventions = expected
    assert [f[:6] for f in flags] == [
        ("f1", "s1", "critical", Decimal("0.9"), "C1", None),  # the latest flag's details
        ("f2", "s2", "high", None, None, None),
    ]
    assert [(f[6], f[7], f[8], f[9]) for f in flags] == [
        (at(1), at(3), "m3", at(5)),  # first flagged, latest detail, first resolution
        (at(8), at(8), "m9", None),
    ]
    assert interventions == [
        ("i1", "f1", None, "meeting", at(2), "m2", "improved", at(6), "m6"),
    ]


# ------------------------------------------------------------------------ rebuild
def test_rebuild_reproduces_the_projections_ingest_wrote(
    factory: Factory, engine: Engine, settings: AppSettings
) -> None:
    clock = frozen_clock()
    next(clock)
    try:
        org = build_university(factory)
    finally:
        clock.close()
    expected = rows(engine, org)
    assert (len(expected[0]), len(expected[1])) == (7, 5)
    with scoped(engine, TenantScope.of([org])) as conn:
        conn.execute(text("DELETE FROM risk_flags WHERE org_id = :o AND flag_id = 'f1'"),
                     {"o": org})
        conn.execute(text("UPDATE interventions SET outcome = 'worsened' WHERE org_id = :o"),
                     {"o": org})
    assert rows(engine, org) != expected
    with scoped(engine, TenantScope.of([org])) as conn:
        written = reproject_org(conn, org_id=org, projections=Projections.of(catalog_of(settings)))
    assert (written.rows["risk_flags"], written.rows["interventions"]) == (7, 5)
    assert rows(engine, org) == expected
