"""Security signals: an alert exactly at the threshold, one per kind/user/org while open, a new
one after acknowledgement; the alerts pages are for platform admins and acknowledging is audited."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from factories import Factory
from orgpulse.audit import AuditContext, record
from orgpulse.audit.signals import Thresholds, acknowledge_alert
from orgpulse.auth import Role, find_user_id
from orgpulse.core.config import Settings
from orgpulse.core.errors import Conflict, NotFound
from orgpulse.core.tenancy import unscoped

U1 = AuditContext(actor_user_id=101, actor_kind="session", request_id="r", ip="10.0.0.1")
U2 = AuditContext(actor_user_id=102, actor_kind="session", request_id="r", ip="10.0.0.2")
ORG, OTHER = 1, 2


def alerts(engine: Engine) -> list[dict[str, Any]]:
    with unscoped(engine) as conn:
        rows = conn.execute(
            text("SELECT * FROM security_alerts ORDER BY alert_id")
        ).mappings().all()
    return [dict(r) for r in rows]


def suppressed_read(engine: Engine, ctx: AuditContext = U1, org: int = ORG,
                    suppressed: bool = True) -> int:
    return record(engine, ctx=ctx, action="analytics.read", org_id=org, target="wellbeing",
                  query_type="wellbeing", cohort_size=4, suppressed=suppressed)


def test_defaults_come_from_settings() -> None:
    assert Thresholds.of(Settings()) == Thresholds(suppressed_reads=5, exports=20, baa_failures=3)
    custom = Settings(signal_suppressed_reads_per_hour=2, signal_exports_per_day=7,
                      signal_baa_failures_per_hour=1)
    assert Thresholds.of(custom) == Thresholds(suppressed_reads=2, exports=7, baa_failures=1)


def test_suppressed_cohort_access_raised_at_the_threshold_once(engine: Engine) -> None:
    # Noise that must not count: another user, another org, an unsuppressed read, other actions.
    suppressed_read(engine, ctx=U2)
    suppressed_read(engine, org=OTHER)
    suppressed_read(engine, suppressed=False)
    record(engine, ctx=U1, action="export.refused", org_id=ORG, outcome="denied",
           details={"reason": "below_k"})
    for _ in range(4):
        suppressed_read(engine)
    assert alerts(engine) == []  # N - 1
    fifth = suppressed_read(engine)
    [alert] = alerts(engine)
    assert (alert["kind"], alert["user_id"], alert["org_id"], alert["acknowledged_at"]) == (
        "suppressed_cohort_access", 101, ORG, None
    )
    assert alert["details"] == {"count": 5, "threshold": 5, "window_seconds": 3600,
                                "audit_id": fifth}
    for _ in range(3):  # deduplicated while open
        suppressed_read(engine)
    assert len(alerts(engine)) == 1


def test_a_new_alert_after_acknowledgement(engine: Engine) -> None:
    for _ in range(5):
        suppressed_read(engine)
    [first] = alerts(engine)
    with unscoped(engine) as conn:
        acked = acknowledge_alert(conn=conn, alert_id=first["alert_id"], user_id=7)
    assert (acked.acknowledged_by, acked.acknowledged_at is not None) == (7, True)
    with pytest.raises(Conflict), unscoped(engine) as conn:
        acknowledge_alert(conn=conn, alert_id=first["alert_id"], user_id=7)
    with pytest.raises(NotFound), unscoped(engine) as conn:
        acknowledge_alert(conn=conn, alert_id=999, user_id=7)
    suppressed_read(engine)  # the activity goes on: 6 in the hour
    rows = alerts(engine)
    assert [(a["alert_id"], a["acknowledged_by"], a["details"]["count"]) for a in rows] == [
        (first["alert_id"], 7, 5), (first["alert_id"] + 1, None, 6)
    ]


def test_records_outside_the_window_do_not_count(engine: Engine, owner: Engine) -> None:
    with owner.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_records (at, actor_user_id, actor_kind, org_id, action,"
                " suppressed) SELECT now() - interval '61 minutes', 101, 'session', :o,"
                " 'analytics.read', true FROM generate_series(1, 4)"
            ),
            {"o": ORG},
        )
    suppressed_read(engine)
    assert alerts(engine) == []
    for _ in range(3):
        suppressed_read(engine)
    assert alerts(engine) == []
    suppressed_read(engine)  # five inside the hour
    assert len(alerts(engine)) == 1


def test_an_open_alert_older_than_the_window_does_not_hold_back_a_new_one(
    engine: Engine, owner: Engine
) -> None:
    with owner.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO security_alerts (kind, org_id, user_id, raised_at)"
                " VALUES ('suppressed_cohort_access', :o, 101, now() - interval '2 hours')"
            ),
            {"o": ORG},
        )
    for _ in range(5):
        suppressed_read(engine)
    assert [a["acknowledged_at"] for a in alerts(engine)] == [None, None]


def test_export_volume_raised_at_twenty_exports(engine: Engine) -> None:
    def export(**kw: Any) -> int:
        return record(engine, ctx=U1, action="export.csv", org_id=ORG, target="adoption_list",
                      export_kind="csv", **kw)

    # A refused export is not an export.
    record(engine, ctx=U1, action="export.refused", org_id=ORG, outcome="denied",
           export_kind="csv", details={"reason": "below_k"})
    for _ in range(19):
        export()
    assert alerts(engine) == []
    last = export()
    [alert] = alerts(engine)
    assert (alert["kind"], alert["user_id"], alert["org_id"]) == ("export_volume", 101, ORG)
    assert alert["details"] == {"count": 20, "threshold": 20, "window_seconds": 86400,
                                "audit_id": last}
    export()
    assert len(alerts(engine)) == 1


def test_baa_failures_raised_at_the_third_refusal_in_an_hour(engine: Engine) -> None:
    def refused(reason: str, ctx: AuditContext = U1) -> int:
        return record(engine, ctx=ctx, action="export.refused", org_id=ORG, outcome="denied",
                      details={"reason": reason})

    refused("below_k")
    refused("baa_required", ctx=U2)
    refused("baa_required")
    refused("baa_required")
    assert alerts(engine) == []
    third = refused("baa_required")
    [alert] = alerts(engine)
    assert (alert["kind"], alert["user_id"], alert["org_id"], alert["details"]) == (
        "baa_failure", 101, ORG,
        {"count": 3, "threshold": 3, "window_seconds": 3600, "audit_id": third},
    )


def test_thresholds_can_be_lowered_to_one(engine: Engine) -> None:
    record(engine, ctx=U1, action="export.refused", org_id=ORG, outcome="denied",
           details={"reason": "baa_required"}, thresholds=Thresholds(baa_failures=1))
    assert [a["kind"] for a in alerts(engine)] == ["baa_failure"]


def test_anonymous_and_org_less_records(engine: Engine) -> None:
    anonymous = AuditContext(actor_user_id=None, actor_kind="anonymous")
    for _ in range(6):
        suppressed_read(engine, ctx=anonymous)
    assert alerts(engine) == []
    # An org-less export (the audit log's own CSV) counts for the (user, no org) pair.
    for _ in range(2):
        record(engine, ctx=U1, action="export.csv", target="audit", export_kind="csv",
               thresholds=Thresholds(exports=2))
    [alert] = alerts(engine)
    assert (alert["kind"], alert["org_id"]) == ("export_volume", None)
    record(engine, ctx=U1, action="export.csv", target="audit", export_kind="csv",
           thresholds=Thresholds(exports=2))
    assert len(alerts(engine)) == 1


def test_alert_rolls_back_with_its_record(engine: Engine) -> None:
    for _ in range(4):
        suppressed_read(engine)
    with pytest.raises(RuntimeError), engine.begin() as conn:
        record(conn, ctx=U1, action="analytics.read", org_id=ORG, suppressed=True)
        assert len(conn.execute(text("SELECT 1 FROM security_alerts")).all()) == 1
        raise RuntimeError("the read failed")
    assert alerts(engine) == []


# ------------------------------------------------------------------------------------- HTTP
def _setup(factory: Factory, engine: Engine) -> tuple[str, int, int]:
    org = factory.org("acme", "Acme")
    admin = factory.user(Role.PLATFORM_ADMIN, email="admin@example.test")
    reader = factory.user(Role.ORG_ADMIN, org_id=org, email="reader@example.test")
    with unscoped(engine) as conn:
        reader_id = find_user_id(conn, email=reader)
    ctx = AuditContext(actor_user_id=reader_id, actor_kind="session")
    for _ in range(5):
        suppressed_read(engine, ctx=ctx, org=org)
    for _ in range(3):
        record(engine, ctx=ctx, action="export.refused", org_id=org, outcome="denied",
               details={"reason": "baa_required"})
    return admin, org, reader_id


def test_alerts_api_lists_open_first_and_acknowledges(
    client: TestClient, factory: Factory, engine: Engine
) -> None:
    admin, org, reader_id = _setup(factory, engine)
    headers = {"Authorization": f"Bearer {factory.token(admin)}"}
    with unscoped(engine) as conn:
        admin_id = find_user_id(conn, email=admin)
    body = client.get("/api/v1/security-alerts", headers=headers).json()
    assert body["open"] == 2
    assert [(a["alert_id"], a["kind"], a["user_email"], a["org_slug"]) for a in body["alerts"]] == [
        (2, "baa_failure", "reader@example.test", "acme"),
        (1, "suppressed_cohort_access", "reader@example.test", "acme"),
    ]
    response = client.post("/api/v1/security-alerts/2/acknowledge", headers=headers)
    assert response.status_code == 200, response.text
    assert (response.json()["acknowledged_by"], response.json()["acknowledged_by_email"]) == (
        admin_id, "admin@example.test"
    )
    again = client.post("/api/v1/security-alerts/2/acknowledge", headers=headers)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "conflict")
    assert client.post("/api/v1/security-alerts/99/acknowledge", headers=headers).status_code == 404
    body = client.get("/api/v1/security-alerts", headers=headers).json()
    assert body["open"] == 1
    assert [a["alert_id"] for a in body["alerts"]] == [1, 2]  # open first
    with unscoped(engine) as conn:
        [ack] = conn.execute(
            text("SELECT * FROM audit_records WHERE action = 'security_alert.acknowledged'")
        ).mappings().all()
    assert (ack["actor_user_id"], ack["actor_kind"], ack["org_id"], ack["target"],
            ack["outcome"]) == (admin_id, "token", org, "security_alert:2", "ok")
    assert ack["details"]["kind"] == "baa_failure"
    assert ack["details"]["user_id"] == reader_id
    assert ack["details"]["before"] == {"acknowledged_at": None}
    assert ack["details"]["after"]["acknowledged_by"] == admin_id


def test_alerts_page_and_form_acknowledgement_need_csrf(
    client: TestClient, factory: Factory, engine: Engine
) -> None:
    admin, _, _ = _setup(factory, engine)
    factory.login(client, admin)
    page = client.get("/admin/security-alerts")
    assert page.status_code == 200
    assert "2 open." in page.text
    assert 'action="/admin/security-alerts/1/acknowledge"' in page.text
    forged = client.post("/admin/security-alerts/1/acknowledge", data={"csrf_token": "x.y"},
                         follow_redirects=False)
    assert forged.status_code == 403
    # The JSON API with a session cookie needs the CSRF header.
    assert client.post("/api/v1/security-alerts/1/acknowledge").status_code == 403
    csrf = client.cookies.get("orgpulse_csrf")
    done = client.post("/admin/security-alerts/1/acknowledge", data={"csrf_token": csrf},
                       follow_redirects=False)
    assert (done.status_code, done.headers["location"]) == (303, "/admin/security-alerts")
    assert [a["acknowledged_at"] is not None for a in alerts(engine)] == [True, False]
    api = client.post("/api/v1/security-alerts/2/acknowledge", headers={"X-CSRF-Token": csrf})
    assert api.status_code == 200
    assert "0 open." in client.get("/admin/security-alerts").text


def test_empty_alerts_page(client: TestClient, factory: Factory) -> None:
    factory.login(client, factory.user(Role.PLATFORM_ADMIN))
    assert "No security alerts have been raised." in client.get("/admin/security-alerts").text


def test_org_admin_cannot_see_or_acknowledge_alerts(
    client: TestClient, factory: Factory, engine: Engine
) -> None:
    _setup(factory, engine)
    headers = {"Authorization": f"Bearer {factory.token('reader@example.test')}"}
    assert client.get("/api/v1/security-alerts", headers=headers).status_code == 403
    assert client.post("/api/v1/security-alerts/1/acknowledge", headers=headers).status_code == 403
    assert [a["acknowledged_at"] for a in alerts(engine)] == [None, None]


def test_concurrent_reads_at_the_threshold_raise_one_alert(engine: Engine) -> None:
    import threading

    for _ in range(4):
        suppressed_read(engine)
    start = threading.Barrier(6)
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            start.wait()
            suppressed_read(engine)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    [alert] = alerts(engine)
    assert alert["details"]["count"] == 5  # raised by whichever read came fifth
