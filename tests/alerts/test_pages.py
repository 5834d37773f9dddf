"""Inbox, detail and badge through the web; rule administration validated and audited."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import text

from alertdata import NOW, TODAY, evaluate, rows, snapshot, world
from factories import Factory
from opsdata import csrf, session
from orgpulse.core.tenancy import TenantScope, scoped, unscoped

pytestmark = pytest.mark.usefixtures("frozen")


def badge(html: str) -> str | None:
    found = re.search(r'data-unread-badge[^>]*>(\d+)<', html)
    return found.group(1) if found else None


def test_inbox_badge_and_mark_read(factory: Factory) -> None:
    w = world(factory)
    snapshot(factory.engine, w.a, TODAY, 42)
    snapshot(factory.engine, w.b, TODAY, 30)
    evaluate(factory)  # alert 1: A (health 42), alert 2: B (health 30)
    am = session(factory, w.am_a)
    page = am.get("/alerts")
    assert page.status_code == 200
    assert badge(page.text) == "1"
    assert 'data-alert="1"' in page.text and 'data-alert="2"' not in page.text
    assert badge(am.get("/").text) == "1"  # every page's header
    api = am.get("/api/v1/alerts").json()
    assert (api["total"], api["unread"]) == (1, 1)
    assert api["alerts"][0]["message"] == "Acme Schools: health score 42 on 2026-06-15 is below 50."
    # Mark read needs the form's CSRF token.
    assert am.post("/alerts/1/read", data={}).status_code == 403
    assert am.post("/alerts/1/read", data={"csrf_token": csrf(am)},
                   follow_redirects=False).status_code == 303
    assert badge(am.get("/alerts").text) is None
    assert am.get("/api/v1/alerts").json()["unread"] == 0
    # The cs leader sees both; mark all read clears both.
    leader = session(factory, w.leader)
    assert leader.get("/api/v1/alerts").json()["unread"] == 2
    leader.post("/alerts/read-all", data={"csrf_token": csrf(leader)})
    assert leader.get("/api/v1/alerts").json()["unread"] == 0


def test_detail_is_404_for_an_alert_of_a_foreign_org(factory: Factory) -> None:
    w = world(factory)
    snapshot(factory.engine, w.a, TODAY, 42)
    evaluate(factory)
    am_a = session(factory, w.am_a)
    detail = am_a.get("/alerts/1")
    assert detail.status_code == 200 and "health score 42" in detail.text
    assert am_a.get("/api/v1/alerts").json()["unread"] == 0  # opening it read it
    am_b = session(factory, w.am_b)
    assert am_b.get("/alerts/1").status_code == 404
    assert am_b.get("/api/v1/alerts/1").status_code == 404
    assert am_b.get("/api/v1/alerts").json()["total"] == 0
    # Losing access to the org hides the alert again, inbox row or not.
    with scoped(factory.engine, TenantScope.of([w.a, w.b])) as conn:
        moved = conn.execute(text("UPDATE memberships SET org_id = :b WHERE user_id = :u"),
                             {"b": w.b, "u": w.ids["am_a"]}).rowcount
    assert moved == 1
    with unscoped(factory.engine) as conn:
        conn.execute(text("UPDATE alert_inbox SET read_at = NULL"))
    am_a = session(factory, w.am_a)
    assert badge(am_a.get("/alerts").text) is None  # the badge counts visible alerts only
    assert am_a.get("/alerts/1").status_code == 404
    assert am_a.get("/api/v1/alerts").json()["total"] == 0
    assert rows(factory.engine, "SELECT count(*) FROM audit_records WHERE action = 'alert.read'"
                ) == [(1,)]


def test_inbox_filters_and_pages(factory: Factory) -> None:
    w = world(factory)
    evaluate(factory)
    with unscoped(factory.engine) as conn:
        for i in range(27):
            alert_id = conn.execute(text(
                "INSERT INTO alerts (rule_key, org_id, subject, status, title, message,"
                " opened_at, last_evaluated_at, resolved_at) VALUES ('freshness_lag', :o, :s,"
                " :st, 'T', 'm', :at, :at, :res) RETURNING alert_id"),
                {"o": w.a, "s": str(i), "st": "resolved" if i < 5 else "open",
                 "at": NOW - timedelta(hours=i),
                 "res": NOW if i < 5 else None}).scalar_one()
            conn.execute(text("INSERT INTO alert_inbox (user_id, alert_id, created_at)"
                              " VALUES (:u, :a, now())"), {"u": w.ids["am_a"], "a": alert_id})
    am = session(factory, w.am_a)
    first = am.get("/api/v1/alerts").json()
    assert (first["total"], len(first["alerts"])) == (27, 25)
    assert [a["subject"] for a in am.get("/api/v1/alerts?page=2").json()["alerts"]] == [
        "25", "26"]
    assert am.get("/api/v1/alerts?status=resolved").json()["total"] == 5
    assert am.get("/api/v1/alerts?status=open").json()["total"] == 22
    assert am.get("/api/v1/alerts?status=nope").status_code == 422
    html = am.get("/alerts?status=open")
    assert "Page 1 of 1" not in html.text and "Next" not in html.text
    assert "Page 1 of 2" in am.get("/alerts").text
    assert "No resolved alerts." in session(factory, w.am_b).get("/alerts?status=resolved").text


def test_rule_edit_is_validated_and_audited(factory: Factory) -> None:
    w = world(factory)
    leader = session(factory, w.leader)
    listing = leader.get("/admin/alert-rules")
    assert listing.status_code == 200 and 'data-rule="metric_decline"' in listing.text
    # Looking at the shipped rules does not store them; the first edit does.
    assert rows(factory.engine, "SELECT count(*) FROM alert_rules") == [(0,)]
    form = leader.get("/admin/alert-rules/health_below")
    assert 'name="param_threshold" value="50.0"' in form.text
    good = {"csrf_token": csrf(leader), "enabled": "on", "param_threshold": "60",
            "channels": ["inapp", "webhook"], "cooldown_minutes": "30",
            "notify_org_admins": "on"}
    assert leader.post("/admin/alert-rules/health_below", data=good,
                       follow_redirects=False).status_code == 303
    assert rows(factory.engine, "SELECT params, channels, cooldown_minutes, notify_org_admins,"
                                " updated_by FROM alert_rules WHERE rule_key = 'health_below'"
                ) == [({"threshold": 60.0}, ["inapp", "webhook"], 30, True, w.ids["leader"])]
    audit = rows(factory.engine, "SELECT actor_user_id, target, details FROM audit_records"
                                 " WHERE action = 'alert_rule.updated'")
    assert audit[0][:2] == (w.ids["leader"], "alert_rule:health_below")
    assert audit[0][2]["before"]["params"] == {"threshold": 50.0}
    assert audit[0][2]["after"]["cooldown_minutes"] == 30
    bad = leader.post("/admin/alert-rules/health_below",
                      data={**good, "param_threshold": "abc", "cooldown_minutes": "45"})
    assert bad.status_code == 422 and "params.threshold" in bad.text
    # The form comes back with what was typed, not the stored values.
    assert 'name="param_threshold" value="abc"' in bad.text
    assert 'name="cooldown_minutes" type="number" min="0" value="45"' in bad.text
    none = leader.post("/admin/alert-rules/health_below", data={**good, "channels": []})
    assert none.status_code == 422 and "channels" in none.text
    assert len(rows(factory.engine, "SELECT 1 FROM audit_records"
                                    " WHERE action = 'alert_rule.updated'")) == 1
    assert leader.post("/admin/alert-rules/health_below",
                       data={**good, "csrf_token": "x"}).status_code == 403


def test_rule_api_and_who_may_edit(factory: Factory) -> None:
    w = world(factory)
    token = factory.token(w.platform)
    auth = {"authorization": f"Bearer {token}"}
    client = session(factory, w.platform)
    body = {"enabled": True, "channels": ["inapp"], "notify_org_admins": False,
            "cooldown_minutes": 60, "params": {"metrics": ["nope"]}}
    bad = client.put("/api/v1/alert-rules/metric_decline", json=body, headers=auth)
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["field"] == "params.metrics"
    body["params"] = {"metrics": ["events_total", "submissions_completed"], "weeks": 6}
    ok = client.put("/api/v1/alert-rules/metric_decline", json=body, headers=auth)
    assert ok.status_code == 200
    assert ok.json()["params"] == {"metrics": ["events_total", "submissions_completed"],
                                   "weeks": 6, "mad_k": 3.0, "min_drop": 0.3,
                                   "min_baseline": 20.0}
    assert client.put("/api/v1/alert-rules/nope", json=body, headers=auth).status_code == 404
    am = session(factory, w.am_a)
    assert am.get("/admin/alert-rules").status_code == 403
    assert am.post("/admin/alert-rules/health_below",
                   data={"csrf_token": csrf(am)}).status_code == 403
    assert rows(factory.engine, "SELECT count(*) FROM audit_records"
                                " WHERE action = 'alert_rules.access_denied'") == [(2,)]


def test_the_badge_costs_one_statement_and_none_for_anonymous_pages(factory: Factory) -> None:
    from sqlalchemy import event

    w = world(factory)
    am = session(factory, w.am_a)
    statements: list[str] = []

    def count(_conn: object, _cursor: object, sql: str, *_args: object) -> None:
        if "alert_inbox" in sql:
            statements.append(sql)

    event.listen(factory.app.state.engine, "before_cursor_execute", count)
    try:
        assert am.get("/").status_code == 200
        assert len(statements) == 1
        statements.clear()
        anonymous = session(factory, w.am_b)
        anonymous.cookies.clear()
        assert anonymous.get("/login").status_code == 200
        assert statements == []
    finally:
        event.remove(factory.app.state.engine, "before_cursor_execute", count)


def test_detail_offers_a_follow_up_prefilled_from_the_alert(factory: Factory) -> None:
    w = world(factory)
    snapshot(factory.engine, w.a, TODAY, 42)
    evaluate(factory)
    am_a = session(factory, w.am_a)
    link = '/orgs/acme-schools/follow-ups/new?alert=1'
    assert f'href="{link}"' in am_a.get("/alerts/1").text
    form = am_a.get(link)
    assert form.status_code == 200
    assert 'value="Health score below threshold"' in form.text
