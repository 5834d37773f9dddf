"""Each rule fires on a crafted dataset and stays quiet on its control; dedup, cooldown,
routing and the queued emails and webhooks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from alertdata import (
    NOW,
    TODAY,
    alerts,
    evaluate,
    inbox,
    newest_event,
    rows,
    set_rule,
    snapshot,
    weekly_events,
    world,
)
from factories import Factory
from orgpulse.core.tenancy import unscoped

pytestmark = pytest.mark.usefixtures("frozen")


def test_health_below_fires_for_the_low_org_only(factory: Factory) -> None:
    w = world(factory)
    snapshot(factory.engine, w.a, TODAY - timedelta(days=1), 50)  # an 8-point drop: quiet
    snapshot(factory.engine, w.a, TODAY, 42)  # latest: below 50
    snapshot(factory.engine, w.b, TODAY - timedelta(days=1), 30)
    snapshot(factory.engine, w.b, TODAY, 50)  # latest: exactly at the threshold, quiet
    result = evaluate(factory)
    assert (result.opened, result.still_open) == (1, 0)
    assert alerts(factory.engine) == [(1, "health_below", w.a, "", "open", 42.0)]


def test_score_drop_fires_on_a_drop_within_the_window_only(factory: Factory) -> None:
    w = world(factory)
    for org, scores in ((w.a, {10: 80, 0: 62}), (w.b, {20: 95, 10: 80, 0: 70})):
        for days_ago, score in scores.items():
            snapshot(factory.engine, org, TODAY - timedelta(days=days_ago), score)
    evaluate(factory)
    # A: 80 -> 62 within 14 days = 18 points. B: the 95 is 20 days old, 80 -> 70 is 10 points.
    assert alerts(factory.engine) == [(1, "score_drop", w.a, "", "open", 18.0)]


def test_metric_decline_fires_on_a_sustained_decline_not_on_a_holiday_week(
    factory: Factory,
) -> None:
    w = world(factory)
    # A: eight ordinary weeks of 100, then a last week of 30 (median 100, floor 70).
    weekly_events(factory.engine, w.a, [30] + [100] * 8)
    # B: one holiday week of 10 inside the baseline, then an ordinary last week of 95.
    weekly_events(factory.engine, w.b, [95, 100, 100, 10, 100, 100, 100, 100, 100])
    evaluate(factory)
    assert alerts(factory.engine) == [(1, "metric_decline", w.a, "events_total", "open", 30.0)]
    detail = rows(factory.engine, "SELECT threshold, details FROM alerts")[0]
    assert detail[0] == 70.0
    assert detail[1]["median"] == 100 and detail[1]["baseline"] == [100.0] * 8


def test_freshness_lag_fires_when_the_newest_event_is_too_old(factory: Factory) -> None:
    w = world(factory)
    newest_event(factory.engine, w.a, NOW - timedelta(days=3))  # 4320 min > 2880
    newest_event(factory.engine, w.b, NOW - timedelta(days=1))  # 1440 min
    evaluate(factory)
    assert alerts(factory.engine) == [(1, "freshness_lag", w.a, "", "open", 4320.0)]


def test_job_failure_follows_the_latest_run_of_each_job(factory: Factory) -> None:
    w = world(factory)

    def run(job: str, status: str, minutes_ago: int) -> None:
        with unscoped(factory.engine) as conn:
            conn.execute(text(
                "INSERT INTO job_runs (job, status, detail, started_at, finished_at)"
                " VALUES (:j, :s, 'boom', now() - make_interval(mins => :m),"
                " now() - make_interval(mins => :m))"), {"j": job, "s": status, "m": minutes_ago})

    run("retention", "succeeded", 30)
    run("retention", "failed", 10)  # latest failed: open
    run("partitions", "failed", 30)
    run("partitions", "succeeded", 10)  # latest succeeded: quiet
    evaluate(factory)
    assert alerts(factory.engine) == [(1, "job_failure", None, "retention", "open", None)]
    # A platform alert goes to the platform admin only.
    assert inbox(factory.engine) == [(1, w.ids["platform"])]
    run("retention", "succeeded", 1)
    result = evaluate(factory, NOW + timedelta(minutes=5))
    assert result.resolved == 1
    assert alerts(factory.engine) == [(1, "job_failure", None, "retention", "resolved", None)]


def test_security_signal_opens_per_unacknowledged_alert_and_resolves_on_ack(
    factory: Factory,
) -> None:
    w = world(factory)
    with unscoped(factory.engine) as conn:
        ids = [conn.execute(text(
            "INSERT INTO security_alerts (kind, org_id, user_id, acknowledged_at)"
            " VALUES ('export_volume', :o, :u, :ack) RETURNING alert_id"),
            {"o": w.a, "u": w.ids["am_a"], "ack": ack}).scalar_one()
            for ack in (None, NOW)]
    evaluate(factory)
    assert alerts(factory.engine) == [(1, "security_signal", None, str(ids[0]), "open", None)]
    assert inbox(factory.engine) == [(1, w.ids["platform"])]
    with unscoped(factory.engine) as conn:
        conn.execute(text("UPDATE security_alerts SET acknowledged_at = now()"))
    evaluate(factory, NOW + timedelta(minutes=5))
    assert alerts(factory.engine)[0][4] == "resolved"


def test_quiet_control_raises_nothing(factory: Factory) -> None:
    w = world(factory)
    snapshot(factory.engine, w.a, TODAY, 75)
    weekly_events(factory.engine, w.a, [100] * 9)
    result = evaluate(factory)
    assert result.opened == 0 and alerts(factory.engine) == []
    # The shipped rules were inserted on this first evaluation.
    assert [r[0] for r in rows(factory.engine, "SELECT kind FROM alert_rules ORDER BY kind")] == [
        "freshness_lag", "health_below", "job_failure", "metric_decline", "score_drop",
        "security_signal"]


def test_routing_account_manager_of_the_org_and_every_active_cs_leader(
    factory: Factory,
) -> None:
    w = world(factory)
    snapshot(factory.engine, w.a, TODAY, 42)
    evaluate(factory)
    # Not: B's account manager, A's org admin (rule does not allow), the platform admin, the
    # deactivated cs leader.
    assert inbox(factory.engine) == sorted([(1, w.ids["am_a"]), (1, w.ids["leader"])])
    emails = rows(factory.engine, "SELECT email_to, user_id, source, subject, body_text"
                                  " FROM deliveries WHERE channel = 'email' ORDER BY email_to")
    assert [(e[0], e[1], e[2]) for e in emails] == [
        ("am-a@example.test", w.ids["am_a"], "alert:1"),
        ("leader@example.test", w.ids["leader"], "alert:1"),
    ]
    assert emails[0][3] == "[OrgPulse] Health score below threshold"
    assert "http://127.0.0.1:8000/alerts/1" in emails[0][4]


def test_org_admins_get_the_alert_only_when_the_rule_allows(factory: Factory) -> None:
    w = world(factory)
    evaluate(factory)  # installs the default rules
    set_rule(factory.engine, "health_below", notify_org_admins=True)
    snapshot(factory.engine, w.a, TODAY, 42)
    snapshot(factory.engine, w.b, TODAY, 41)
    evaluate(factory)
    by_alert = {aid: org for aid, _, org, *_ in alerts(factory.engine)}
    got = {(by_alert[a], u) for a, u in inbox(factory.engine)}
    assert got == {(w.a, w.ids["am_a"]), (w.a, w.ids["leader"]), (w.a, w.ids["admin_a"]),
                   (w.b, w.ids["am_b"]), (w.b, w.ids["leader"])}


def test_dedup_second_evaluation_keeps_the_same_alert_and_notifies_nobody_again(
    factory: Factory,
) -> None:
    w = world(factory)
    snapshot(factory.engine, w.a, TODAY, 42)
    evaluate(factory)
    snapshot(factory.engine, w.a, TODAY, 40)
    later = NOW + timedelta(minutes=5)
    result = evaluate(factory, later)
    assert (result.opened, result.still_open) == (0, 1)
    assert alerts(factory.engine) == [(1, "health_below", w.a, "", "open", 40.0)]
    assert rows(factory.engine, "SELECT last_evaluated_at FROM alerts") == [(later,)]
    assert len(inbox(factory.engine)) == 2
    assert rows(factory.engine, "SELECT count(*) FROM deliveries") == [(2,)]


def test_cooldown_keeps_a_refire_quiet_until_it_has_passed(factory: Factory) -> None:
    w = world(factory)
    snapshot(factory.engine, w.a, TODAY, 42)
    evaluate(factory)
    snapshot(factory.engine, w.a, TODAY, 80)
    resolved_at = NOW + timedelta(hours=1)
    assert evaluate(factory, resolved_at).resolved == 1
    snapshot(factory.engine, w.a, TODAY, 40)
    quiet = evaluate(factory, resolved_at + timedelta(hours=2))  # cooldown is 1440 min
    assert (quiet.opened, quiet.quiet_in_cooldown) == (0, 1)
    assert [a[4] for a in alerts(factory.engine)] == ["resolved"]
    again = evaluate(factory, resolved_at + timedelta(minutes=1441))
    assert again.opened == 1
    assert [(a[0], a[4]) for a in alerts(factory.engine)] == [(1, "resolved"), (2, "open")]
    assert len(inbox(factory.engine)) == 4
    assert rows(factory.engine, "SELECT count(*) FROM deliveries") == [(4,)]


def test_webhook_channel_queues_opened_and_resolved_events(factory: Factory) -> None:
    w = world(factory)
    evaluate(factory)
    set_rule(factory.engine, "health_below", channels=["inapp", "webhook"])
    with unscoped(factory.engine) as conn:
        for name, enabled in (("ops", True), ("old", False)):
            conn.execute(text(
                "INSERT INTO webhook_endpoints (name, url, secret, enabled)"
                " VALUES (:n, 'https://hooks.example.test/x', 's', :e)"), {"n": name, "e": enabled})
    snapshot(factory.engine, w.a, TODAY, 42)
    evaluate(factory)
    snapshot(factory.engine, w.a, TODAY, 90)
    evaluate(factory, NOW + timedelta(minutes=5))
    hooks = rows(factory.engine, "SELECT endpoint_id, subject, payload FROM deliveries"
                                 " ORDER BY delivery_id")
    assert [(h[0], h[1]) for h in hooks] == [(1, "alert.opened"), (1, "alert.resolved")]
    assert hooks[0][2] == {
        "alert_id": 1, "status": "open",
        "rule": {"key": "health_below", "kind": "health_below",
                 "title": "Health score below threshold"},
        "org": {"slug": "acme-schools", "name": "Acme Schools"}, "value": 42.0, "threshold": 50.0,
        "message": "Acme Schools: health score 42 on 2026-06-15 is below 50.",
        "url": "http://127.0.0.1:8000/alerts/1",
    }
    assert hooks[1][2]["status"] == "resolved"
    # No email channel on the rule: no emails.
    assert rows(factory.engine, "SELECT count(*) FROM deliveries WHERE channel = 'email'") == [
        (0,)]


def test_admin_edits_survive_the_default_rule_installation(factory: Factory) -> None:
    world(factory)
    evaluate(factory)
    set_rule(factory.engine, "health_below", cooldown_minutes=5, enabled=False)
    evaluate(factory)
    assert rows(factory.engine, "SELECT cooldown_minutes, enabled FROM alert_rules"
                                " WHERE rule_key = 'health_below'") == [(5, False)]


def test_metric_decline_on_a_catalog_count_metric_and_a_disabled_rule(factory: Factory) -> None:
    w = world(factory)
    evaluate(factory)
    # submissions_completed counts "Submission Created"; Logins stay steady.
    set_rule(factory.engine, "metric_decline",
             params='{"metrics": ["events_total", "submissions_completed"]}')
    weekly_events(factory.engine, w.a, [10] + [50] * 8, name="Submission Created")
    weekly_events(factory.engine, w.a, [500] * 9, name="Login")
    evaluate(factory)
    # events_total: 510 vs a median of 550 (floor 385) is quiet; submissions: 10 < 35 fires.
    assert alerts(factory.engine) == [
        (1, "metric_decline", w.a, "submissions_completed", "open", 10.0)]
    set_rule(factory.engine, "health_below", enabled=False)
    snapshot(factory.engine, w.b, TODAY, 10)
    assert evaluate(factory, NOW + timedelta(minutes=5)).opened == 0


def test_disabling_a_rule_resolves_its_open_alerts(factory: Factory) -> None:
    w = world(factory)
    snapshot(factory.engine, w.b, TODAY, 10)
    assert evaluate(factory).opened == 1
    assert [(a[1], a[2], a[4]) for a in alerts(factory.engine)] == [
        ("health_below", w.b, "open")]
    set_rule(factory.engine, "health_below", enabled=False)
    assert evaluate(factory, NOW + timedelta(minutes=5)).resolved == 1
    assert [(a[1], a[2], a[4]) for a in alerts(factory.engine)] == [
        ("health_below", w.b, "resolved")]


def test_two_evaluations_at_once_open_one_alert(factory: Factory) -> None:
    import threading

    from orgpulse.alerts import evaluate_alerts

    w = world(factory)
    evaluate(factory)
    snapshot(factory.engine, w.a, TODAY, 42)
    results = []
    with factory.engine.connect() as first:
        first.begin()
        results.append(evaluate_alerts(first, settings=factory.settings, now=NOW))

        def second() -> None:
            results.append(evaluate(factory))

        thread = threading.Thread(target=second)
        thread.start()  # its insert waits on the first's uncommitted alert, or sees it
        first.commit()
    thread.join(timeout=60)
    assert sorted(r.opened for r in results) == [0, 1]
    assert alerts(factory.engine) == [(1, "health_below", w.a, "", "open", 42.0)]
    assert len(inbox(factory.engine)) == 2
