"""Crafted data for the alert tests: two orgs, one person per audience, direct rows per rule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text

from datasets import NOW
from factories import Factory
from orgpulse.alerts import evaluate_alerts
from orgpulse.alerts.service import Evaluation
from orgpulse.auth import Role, find_user_id
from orgpulse.core.config import Settings
from orgpulse.core.tenancy import TenantScope, scoped, unscoped

TODAY = NOW.date()  # 2026-06-15


@dataclass
class World:
    a: int
    b: int
    am_a: str
    am_b: str
    leader: str
    admin_a: str
    platform: str
    ids: dict[str, int]


def world(factory: Factory) -> World:
    a = factory.org("acme", "Acme Schools")
    b = factory.org("beta", "Beta Corp")
    emails = {
        "am_a": factory.user(Role.ACCOUNT_MANAGER, org_id=a, email="am-a@example.test"),
        "am_b": factory.user(Role.ACCOUNT_MANAGER, org_id=b, email="am-b@example.test"),
        "leader": factory.user(Role.CS_LEADER, email="leader@example.test"),
        "admin_a": factory.user(Role.ORG_ADMIN, org_id=a, email="admin-a@example.test"),
        "platform": factory.user(Role.PLATFORM_ADMIN, email="root@example.test"),
        "gone": factory.user(Role.CS_LEADER, email="former-leader@example.test"),
    }
    with unscoped(factory.engine) as conn:
        ids = {k: find_user_id(conn, email=v) for k, v in emails.items()}
        conn.execute(text("UPDATE users SET is_active = false WHERE user_id = :u"),
                     {"u": ids["gone"]})
    return World(a=a, b=b, am_a=emails["am_a"], am_b=emails["am_b"], leader=emails["leader"],
                 admin_a=emails["admin_a"], platform=emails["platform"], ids=ids)


def evaluate(factory: Factory, now: datetime = NOW, settings: Settings | None = None
             ) -> Evaluation:
    with factory.engine.begin() as conn:
        return evaluate_alerts(conn, settings=settings or factory.settings, now=now)


def snapshot(engine: Engine, org_id: int, day: date, score: float | None) -> None:
    with scoped(engine, TenantScope.of([org_id])) as conn:
        conn.execute(text(
            "INSERT INTO health_snapshots (org_id, day, unit_id, score, status, profile,"
            " components) VALUES (:o, :d, 0, :s, 'x', 'default', '[]'::jsonb)"
            " ON CONFLICT (org_id, unit_id, day) DO UPDATE SET score = excluded.score"),
            {"o": org_id, "d": day, "s": score})


def weekly_events(engine: Engine, org_id: int, per_week: list[int], name: str = "Login"
                  ) -> None:
    """``per_week[0]`` events in the last full week (3 days ago), ``per_week[i]`` i weeks
    before that (7·i + 3 days ago), as rollup rows."""
    with scoped(engine, TenantScope.of([org_id])) as conn:
        for i, n in enumerate(per_week):
            conn.execute(text(
                "INSERT INTO rollup_daily_events (org_id, day, unit_id, name, events)"
                " VALUES (:o, :d, 0, :n, :e)"),
                {"o": org_id, "d": TODAY - timedelta(days=7 * i + 3), "n": name, "e": n})


def newest_event(engine: Engine, org_id: int, at: datetime) -> None:
    with scoped(engine, TenantScope.of([org_id])) as conn:
        conn.execute(text("UPDATE rollup_state SET newest_event_at = :t WHERE org_id = :o"),
                     {"t": at, "o": org_id})


def rows(engine: Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with unscoped(engine) as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def alerts(engine: Engine) -> list[tuple[Any, ...]]:
    """(alert_id, rule_key, org_id, subject, status, value) of every alert."""
    return rows(engine, "SELECT alert_id, rule_key, org_id, subject, status, value FROM alerts"
                        " ORDER BY alert_id")


def inbox(engine: Engine) -> list[tuple[int, int]]:
    """(alert_id, user_id) of every inbox row."""
    return rows(engine, "SELECT alert_id, user_id FROM alert_inbox ORDER BY alert_id, user_id")


def set_rule(engine: Engine, rule_key: str, **columns: Any) -> None:
    sets = ", ".join(f"{k} = :{k}" for k in columns)
    with unscoped(engine) as conn:
        conn.execute(text(f"UPDATE alert_rules SET {sets} WHERE rule_key = :key"),  # noqa: S608
                     {**columns, "key": rule_key})
