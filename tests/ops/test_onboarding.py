"""Rollout mode, deployment checklist and onboarding wizard, through the API and the page."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from datasets import NOW, track
from factories import Factory
from orgpulse.auth import Role, find_user_id
from orgpulse.catalog import catalog_of
from orgpulse.core.config import Settings
from orgpulse.core.tenancy import TenantScope, scoped, unscoped
from orgpulse.metrics import compute_for_view, org_view


@pytest.fixture
def orgs(factory: Factory, frozen: datetime) -> tuple[int, int]:
    """Acme (schools north, south; teachers t1 in north, t2 in south) and Globex."""
    acme = factory.org("acme", "Acme", units=("north", "south"))
    globex = factory.org("globex", "Globex", units=("east",))
    result = factory.send(
        [
            {"type": "identify", "userId": "t1",
             "traits": {"role": "teacher", "unit": "acme-north"},
             "context": {"groupId": "acme-north"}},
            {"type": "identify", "userId": "t2",
             "traits": {"role": "teacher", "unit": "acme-south"},
             "context": {"groupId": "acme-south"}},
        ]
    )
    assert result.rejections == []
    return acme, globex


def unit_id(engine: Engine, external_id: str) -> int:
    with unscoped(engine) as conn:
        return int(conn.execute(
            text("SELECT unit_id FROM directory_groups WHERE external_id = :e"),
            {"e": external_id},
        ).scalar_one())


def bearer(factory: Factory, email: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {factory.token(email)}"}


def audit(engine: Engine, action: str) -> list[dict[str, Any]]:
    with unscoped(engine) as conn:
        rows = conn.execute(
            text("SELECT * FROM audit_records WHERE action = :a ORDER BY audit_id"), {"a": action}
        ).mappings().all()
    return [dict(r) for r in rows]


def state(client: TestClient, headers: dict[str, str], org: str = "acme") -> dict[str, Any]:
    response = client.get(f"/api/v1/orgs/{org}/onboarding", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def statuses(body: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    return (
        {s["key"]: s["status"] for s in body["wizard"]["steps"]},
        {i["key"]: i["status"] for i in body["checklist"]["items"]},
    )


def roster_sync(factory: Factory, days_ago: int = 0) -> None:
    event = track("it1", "Roster Sync Completed", days_ago)
    event["context"] = {"groupId": "acme"}
    assert factory.send([event]).rejections == []


# ---------------------------------------------------------------------------------- rollout mode
def test_setting_the_rollout_mode_switches_checklist_wizard_and_health_profile(
    client: TestClient, factory: Factory, engine: Engine, orgs: tuple[int, int]
) -> None:
    acme, _ = orgs
    admin = factory.user(Role.ORG_ADMIN, org_id=acme)
    headers = bearer(factory, admin)

    before = state(client, headers)
    assert before["rollout"]["settings"] is None
    assert before["checklist"]["focus_note"] is None
    assert [i["focus"] for i in before["checklist"]["items"]] == [False] * 10
    assert client.get("/api/v1/orgs/acme/health", headers=headers).json()["profile"] == "default"

    response = client.put(
        "/api/v1/orgs/acme/rollout", headers=headers,
        json={"mode": "pilot", "pilot_units": ["acme-north"], "launch_date": "2026-06-01"},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "org_id": acme,
        "before": None,
        "after": {"mode": "pilot", "pilot_units": ["acme-north"], "pilot_members": [],
                  "launch_date": "2026-06-01"},
    }
    pilot = state(client, headers)
    assert pilot["rollout"]["label"] == "Pilot (1–3 schools or selected teachers)"
    assert [i["number"] for i in pilot["checklist"]["items"] if i["focus"]] == [1, 3, 6, 7]
    steps = {s["key"]: s for s in pilot["wizard"]["steps"]}
    assert steps["teachers"]["title"] == "Invite pilot teachers"
    assert [k for k, s in steps.items() if s["optional"]] == ["sso_scim", "integrations"]
    assert steps["rollout_mode"]["status"] == "complete"
    assert client.get("/api/v1/orgs/acme/health", headers=headers).json()["profile"] == "pilot"

    response = client.put("/api/v1/orgs/acme/rollout", headers=headers, json={"mode": "full"})
    assert response.status_code == 200, response.text
    full = state(client, headers)
    assert [i["number"] for i in full["checklist"]["items"] if i["focus"]] == [
        1, 2, 3, 4, 5, 8, 9, 10
    ]
    steps = {s["key"]: s for s in full["wizard"]["steps"]}
    assert steps["teachers"]["title"] == "Activate rostered teachers"
    assert [k for k, s in steps.items() if s["optional"]] == []
    assert client.get("/api/v1/orgs/acme/health", headers=headers).json()["profile"] == "full"

    # Audited with before/after; the launch date stays when only the mode changes.
    rows = audit(engine, "admin.rollout_mode_changed")
    user_id = _user_id(engine, admin)
    assert [(r["org_id"], r["target"], r["actor_user_id"], r["outcome"]) for r in rows] == [
        (acme, "pilot", user_id, "ok"), (acme, "full", user_id, "ok")
    ]
    assert rows[1]["details"] == {
        "before": {"mode": "pilot", "pilot_units": ["acme-north"], "pilot_members": [],
                   "launch_date": "2026-06-01"},
        "after": {"mode": "full", "pilot_units": [], "pilot_members": [],
                  "launch_date": "2026-06-01"},
    }


def test_rollout_mode_input_is_checked(
    client: TestClient, factory: Factory, engine: Engine, orgs: tuple[int, int]
) -> None:
    acme, _ = orgs
    headers = bearer(factory, factory.user(Role.ORG_ADMIN, org_id=acme))
    cases = [
        ({"mode": "phased", "pilot_units": ["acme-north"]}, 422,
         "pilot units and members apply to the pilot mode only"),
        ({"mode": "pilot", "pilot_units": ["globex-east", "nowhere"]}, 422,
         "unknown units for this organization: globex-east, nowhere"),
        ({"mode": "pilot", "pilot_members": ["t9"]}, 422,
         "unknown members for this organization: t9"),
    ]
    for body, status, message in cases:
        response = client.put("/api/v1/orgs/acme/rollout", headers=headers, json=body)
        assert (response.status_code, response.json()["error"]["message"]) == (status, message)
    response = client.put("/api/v1/orgs/acme/rollout", headers=headers, json={"mode": "big-bang"})
    assert response.status_code == 422
    assert audit(engine, "admin.rollout_mode_changed") == []


# ---------------------------------------------------------------------------------- signals
def test_a_roster_sync_completes_the_wizard_step_and_the_checklist_item(
    client: TestClient, factory: Factory, orgs: tuple[int, int]
) -> None:
    acme, _ = orgs
    headers = bearer(factory, factory.user(Role.ORG_ADMIN, org_id=acme))

    wizard, checklist = statuses(state(client, headers))
    assert (wizard["rostering"], checklist["rostering"]) == ("not_started", "not_started")
    # Marking it complete is refused while the system has seen no sync.
    response = client.post("/api/v1/orgs/acme/wizard/rostering", headers=headers,
                           json={"action": "complete"})
    assert response.status_code == 409
    assert "has not seen that" in response.json()["error"]["message"]

    roster_sync(factory, days_ago=2)
    body = state(client, headers)
    wizard, checklist = statuses(body)
    assert (wizard["rostering"], checklist["rostering"]) == ("complete", "complete")
    item = next(i for i in body["checklist"]["items"] if i["key"] == "rostering")
    assert item["auto_completed"] is True
    assert item["auto_reason"] == "first 'Roster Sync Completed' event on 2026-06-13"
    step = next(s for s in body["wizard"]["steps"] if s["key"] == "rostering")
    assert (step["validated"], step["signal"], step["completed_by"]) == (
        True, "first 'Roster Sync Completed' event on 2026-06-13", None
    )
    # Acme has two schools and (now) one org admin account: tenant setup completed itself too.
    tenant = next(i for i in body["checklist"]["items"] if i["key"] == "tenant_setup")
    assert (tenant["status"], tenant["auto_reason"]) == (
        "complete", "2 school(s) and 1 org admin account(s) set up"
    )
    page = client.get("/orgs/acme/onboarding", headers=headers).text
    assert ("Completed automatically: first &#39;Roster Sync Completed&#39; event on 2026-06-13"
            in page)
    # Now the admin may record it by hand as well, once.
    response = client.post("/api/v1/orgs/acme/wizard/rostering", headers=headers,
                           json={"action": "complete"})
    assert response.status_code == 200, response.text
    assert response.json()["before"] == "complete" and response.json()["after"] == "complete"


def test_first_assignment_and_teacher_signals(
    client: TestClient, factory: Factory, orgs: tuple[int, int]
) -> None:
    acme, _ = orgs
    headers = bearer(factory, factory.user(Role.ORG_ADMIN, org_id=acme))
    client.put("/api/v1/orgs/acme/rollout", headers=headers,
               json={"mode": "pilot", "pilot_units": ["acme-north"]})
    # A teacher outside the pilot signs in: the pilot step is not validated.
    factory.send([track("t2", "Login", 1)])
    wizard, checklist = statuses(state(client, headers))
    assert wizard["teachers"] == "not_started"
    assert checklist["first_assessment"] == "not_started"
    factory.send([track("t1", "Login", 0),
                  track("t1", "Assignment Created", 0, assignment_id="a1")])
    body = state(client, headers)
    wizard, checklist = statuses(body)
    assert (wizard["teachers"], checklist["first_assessment"]) == ("complete", "complete")
    step = next(s for s in body["wizard"]["steps"] if s["key"] == "teachers")
    assert step["signal"] == "1 pilot teacher(s) signed in"


def test_month_one_check_needs_a_late_enough_snapshot_and_an_admin_visit(
    client: TestClient, factory: Factory, engine: Engine, orgs: tuple[int, int]
) -> None:
    acme, _ = orgs
    admin = factory.user(Role.ORG_ADMIN, org_id=acme)
    headers = bearer(factory, admin)
    support = bearer(factory, factory.user(Role.SUPPORT))
    launch = NOW.date() - timedelta(days=40)
    client.put("/api/v1/orgs/acme/rollout", headers=headers,
               json={"mode": "phased", "launch_date": launch.isoformat()})

    def snapshot(day: date) -> None:
        with scoped(engine, TenantScope.of([acme])) as conn:
            conn.execute(
                text("INSERT INTO health_snapshots (org_id, day, unit_id, score, status, profile,"
                     " components) VALUES (:o, :d, 0, 60, 'scored', 'phased', '[]')"),
                {"o": acme, "d": day},
            )

    def month1() -> str:
        return statuses(state(client, headers))[1]["month1_health_check"]

    snapshot(launch + timedelta(days=29))  # too early
    assert client.get("/api/v1/orgs/acme/health", headers=support).status_code == 200
    assert month1() == "not_started"
    snapshot(launch + timedelta(days=30))
    # A support agent's visit does not count: the org's own admin must look.
    assert client.get("/api/v1/orgs/acme/health", headers=support).status_code == 200
    assert month1() == "not_started"
    assert client.get("/orgs/acme/health", headers=headers).status_code == 200
    body = state(client, headers)
    item = next(i for i in body["checklist"]["items"] if i["key"] == "month1_health_check")
    assert item["status"] == "complete"
    # Audit records carry the database's time: the visit is dated by the page's audit record.
    visit = [r for r in audit(engine, "analytics.read")
             if r["target"] == "org_health" and r["details"]["format"] == "html"]
    assert len(visit) == 1
    assert item["auto_reason"] == (
        f"health snapshot of {(launch + timedelta(days=30)).isoformat()} (launch"
        f" {launch.isoformat()}) viewed by an org admin on {visit[0]['at'].date().isoformat()}"
    )
    assert statuses(body)[1]["month3_impact_snapshot"] == "not_started"


# ---------------------------------------------------------------------------------- checklist
def test_checklist_edits_follow_the_machine_and_are_audited(
    client: TestClient, factory: Factory, engine: Engine, orgs: tuple[int, int]
) -> None:
    acme, _ = orgs
    admin = factory.user(Role.ORG_ADMIN, org_id=acme)
    headers = bearer(factory, admin)
    url = "/api/v1/orgs/acme/checklist/lms_integration"

    response = client.put(url, headers=headers, json={"status": "blocked"})
    assert response.status_code == 422
    assert response.json()["error"]["details"] == [
        {"field": "reason", "problem": "required when blocked"}
    ]
    response = client.put(url, headers=headers,
                          json={"status": "blocked", "reason": "Canvas admin on leave"})
    assert response.status_code == 200, response.text
    response = client.put(url, headers=headers, json={"status": "complete"})
    assert response.status_code == 409
    assert response.json()["error"]["message"] == (
        "an item that is blocked cannot move to complete"
    )
    assert client.put(url, headers=headers, json={"status": "in_progress"}).status_code == 200
    assert client.put(url, headers=headers, json={"status": "complete"}).status_code == 200
    assert client.put("/api/v1/orgs/acme/checklist/nope", headers=headers,
                      json={"status": "complete"}).status_code == 404

    item = next(i for i in state(client, headers)["checklist"]["items"]
                if i["key"] == "lms_integration")
    assert (item["status"], item["auto_completed"], item["updated_by"]) == (
        "complete", False, admin
    )
    assert item["how_to"] == "/docs/runbooks/deployment-checklist"
    assert item["owner_role"] == "it_admin"
    rows = audit(engine, "admin.checklist_item_changed")
    assert [(r["target"], r["details"]) for r in rows] == [
        ("lms_integration", {
            "before": {"status": "not_started", "blocked_reason": None},
            "after": {"status": "blocked", "blocked_reason": "Canvas admin on leave"}}),
        ("lms_integration", {
            "before": {"status": "blocked", "blocked_reason": "Canvas admin on leave"},
            "after": {"status": "in_progress", "blocked_reason": None}}),
        ("lms_integration", {
            "before": {"status": "in_progress", "blocked_reason": None},
            "after": {"status": "complete", "blocked_reason": None}}),
    ]
    assert {r["actor_user_id"] for r in rows} == {_user_id(engine, admin)}


def test_checklist_completion_feeds_the_health_metric(
    client: TestClient, factory: Factory, engine: Engine, settings: Settings,
    orgs: tuple[int, int]
) -> None:
    acme, _ = orgs
    catalog = catalog_of(settings)

    def metric() -> tuple[str, float | None, float | None, float | None]:
        with scoped(engine, TenantScope.of([acme])) as conn:
            view = org_view(conn, org_id=acme)
            (value,) = compute_for_view(conn, catalog=catalog, view=view,
                                        keys=["checklist_completion"], today=NOW.date(),
                                        window=None)
        return value.status, value.value, value.numerator, value.denominator

    # Not in use yet (no mode, no edits): no data, not a misleading 0.
    assert metric()[:2] == ("no_data", None)
    headers = bearer(factory, factory.user(Role.ORG_ADMIN, org_id=acme))
    client.put("/api/v1/orgs/acme/rollout", headers=headers, json={"mode": "phased"})
    # tenant_setup completed itself (2 schools, 1 org admin).
    assert metric() == ("ok", 0.1, 1.0, 10.0)
    roster_sync(factory)
    client.put("/api/v1/orgs/acme/checklist/policies", headers=headers,
               json={"status": "complete"})
    client.put("/api/v1/orgs/acme/checklist/lms_integration", headers=headers,
               json={"status": "in_progress"})
    # tenant_setup, rostering, policies: 3 of 10.
    assert metric() == ("ok", 0.3, 3.0, 10.0)
    component = next(
        c for c in client.get("/api/v1/orgs/acme/health", headers=headers).json()["health"][
            "components"] if c["key"] == "checklist_completion"
    )
    assert component["value"] == 0.3


# ---------------------------------------------------------------------------------- roles, tenancy
def test_role_based_visibility(
    client: TestClient, factory: Factory, engine: Engine, orgs: tuple[int, int]
) -> None:
    acme, _ = orgs
    north = unit_id(engine, "acme-north")
    member = bearer(factory, factory.user(Role.MEMBER, org_id=acme))
    unit_admin = bearer(factory, factory.user(Role.UNIT_ADMIN, org_id=acme, unit_ids=(north,)))
    org_admin = bearer(factory, factory.user(Role.ORG_ADMIN, org_id=acme))
    platform = bearer(factory, factory.user(Role.PLATFORM_ADMIN))
    writes = [
        ("put", "/api/v1/orgs/acme/rollout", {"mode": "pilot"}),
        ("put", "/api/v1/orgs/acme/checklist/policies", {"status": "in_progress"}),
        ("post", "/api/v1/orgs/acme/wizard/retention_policies", {"action": "start"}),
    ]

    # Member: nothing, page or API.
    assert client.get("/api/v1/orgs/acme/onboarding", headers=member).status_code == 403
    assert client.get("/orgs/acme/onboarding", headers=member).status_code == 403
    for method, url, body in writes:
        assert getattr(client, method)(url, headers=member, json=body).status_code == 403
    # Unit admin: reads what is left to set up, changes nothing.
    assert state(client, unit_admin)["can_edit"] is False
    page = client.get("/orgs/acme/onboarding", headers=unit_admin)
    assert page.status_code == 200 and "Read-only" in page.text
    assert "Save rollout mode" not in page.text
    for method, url, body in writes:
        assert getattr(client, method)(url, headers=unit_admin, json=body).status_code == 403
    # Org admin and platform admin edit.
    assert state(client, org_admin)["can_edit"] is True
    for headers, status in ((org_admin, "in_progress"), (platform, "complete")):
        for method, url, body in writes[:2]:
            body = {"status": status} if "checklist" in url else body
            response = getattr(client, method)(url, headers=headers, json=body)
            assert response.status_code == 200, (url, response.text)
    response = client.post(writes[2][1], headers=org_admin, json=writes[2][2])
    assert response.status_code == 200
    # Refusals are audited, reads too.
    denied = audit(engine, "org.access_denied")
    assert [r["details"]["permission"] for r in denied] == (
        ["view_rollout", "view_rollout"] + ["manage_rollout"] * 6
    )
    reads = [r for r in audit(engine, "analytics.read") if r["target"] == "onboarding"]
    assert [(r["actor_kind"], r["details"]["format"]) for r in reads] == [
        ("token", "json"), ("token", "html"), ("token", "json")
    ]  # the unit admin's JSON and page, the org admin's JSON


def test_cross_tenant_is_refused(
    client: TestClient, factory: Factory, engine: Engine, orgs: tuple[int, int]
) -> None:
    acme, globex = orgs
    acme_admin = bearer(factory, factory.user(Role.ORG_ADMIN, org_id=acme))
    globex_admin = bearer(factory, factory.user(Role.ORG_ADMIN, org_id=globex))
    assert client.put("/api/v1/orgs/acme/rollout", headers=acme_admin,
                      json={"mode": "pilot"}).status_code == 200
    for method, url, body in [
        ("get", "/api/v1/orgs/globex/onboarding", None),
        ("get", "/orgs/globex/onboarding", None),
        ("put", "/api/v1/orgs/globex/rollout", {"mode": "full"}),
        ("put", "/api/v1/orgs/globex/checklist/policies", {"status": "complete"}),
        ("post", "/api/v1/orgs/globex/wizard/rollout_mode", {"action": "complete"}),
    ]:
        kwargs: dict[str, Any] = {"headers": acme_admin}
        if body is not None:
            kwargs["json"] = body
        assert getattr(client, method)(url, **kwargs).status_code == 403, url
    # Globex sees none of Acme's choices; its own wizard is untouched.
    body = state(client, globex_admin, "globex")
    assert body["rollout"]["settings"] is None
    assert statuses(body)[0]["rollout_mode"] == "not_started"
    # The rows are Acme's only, and RLS keeps them from a Globex-scoped transaction.
    with scoped(engine, TenantScope.of([globex])) as conn:
        assert conn.execute(text("SELECT count(*) FROM rollout_settings")).scalar_one() == 0
    with scoped(engine, TenantScope.of([acme])) as conn:
        assert conn.execute(text("SELECT count(*) FROM rollout_settings")).scalar_one() == 1


# ---------------------------------------------------------------------------------- wizard
def test_wizard_is_shared_and_resumable(
    client: TestClient, factory: Factory, engine: Engine, orgs: tuple[int, int]
) -> None:
    acme, _ = orgs
    first_email = factory.user(Role.ORG_ADMIN, org_id=acme)
    second_email = factory.user(Role.ORG_ADMIN, org_id=acme)
    first, second = bearer(factory, first_email), bearer(factory, second_email)
    body = state(client, first)
    # Two org admin accounts exist: step 1 is validated; step 2 (mode) is where to resume.
    assert body["wizard"]["current_step"] == "rollout_mode"
    client.put("/api/v1/orgs/acme/rollout", headers=first, json={"mode": "pilot"})
    assert state(client, second)["wizard"]["current_step"] == "sso_scim"

    def act(headers: dict[str, str], step: str, action: str) -> Any:
        return client.post(f"/api/v1/orgs/acme/wizard/{step}", headers=headers,
                           json={"action": action})

    assert act(first, "sso_scim", "start").status_code == 200
    assert act(second, "sso_scim", "skip").status_code == 200  # optional in a pilot
    assert act(second, "rostering", "skip").status_code == 409  # never optional
    assert act(first, "retention_policies", "start").status_code == 200
    assert act(second, "retention_policies", "complete").status_code == 200  # by hand
    assert act(second, "retention_policies", "complete").status_code == 409  # only once
    assert act(first, "retention_policies", "start").status_code == 409
    assert act(first, "no_such_step", "start").status_code == 404

    body = state(client, second)
    steps = {s["key"]: s for s in body["wizard"]["steps"]}
    assert steps["sso_scim"]["status"] == "skipped"
    assert (steps["sso_scim"]["started_by"], steps["retention_policies"]["started_by"],
            steps["retention_policies"]["completed_by"]) == (first_email, first_email,
                                                             second_email)
    assert steps["retention_policies"]["validation"] is None
    assert body["wizard"]["current_step"] == "rostering"
    assert (body["wizard"]["done"], body["wizard"]["total"]) == (4, 7)
    rows = audit(engine, "admin.onboarding_step_changed")
    assert [(r["target"], r["details"]["action"], r["details"]["before"]["status"],
             r["details"]["after"]["status"]) for r in rows] == [
        ("sso_scim", "start", "not_started", "started"),
        ("sso_scim", "skip", "started", "skipped"),
        ("retention_policies", "start", "not_started", "started"),
        ("retention_policies", "complete", "started", "complete"),
    ]


def test_forms_on_the_page(
    client: TestClient, factory: Factory, engine: Engine, orgs: tuple[int, int]
) -> None:
    acme, _ = orgs
    factory.login(client, factory.user(Role.ORG_ADMIN, org_id=acme))
    page = client.get("/orgs/acme/onboarding")
    assert page.status_code == 200
    assert "No rollout mode chosen yet." in page.text
    csrf = client.cookies.get("orgpulse_csrf")
    # Without the CSRF token the post is refused.
    refused = client.post("/orgs/acme/onboarding/rollout", data={"mode": "pilot"},
                          follow_redirects=False)
    assert refused.status_code == 403
    response = client.post(
        "/orgs/acme/onboarding/rollout",
        data={"csrf_token": csrf, "mode": "pilot", "pilot_units": "acme-north, acme-south"},
        follow_redirects=False,
    )
    assert (response.status_code, response.headers["location"]) == (
        303, "/orgs/acme/onboarding#rollout"
    )
    response = client.post(
        "/orgs/acme/onboarding/checklist/policies",
        data={"csrf_token": csrf, "status": "blocked", "reason": "board vote in July"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    response = client.post("/orgs/acme/onboarding/wizard/retention_policies",
                           data={"csrf_token": csrf, "action": "start"}, follow_redirects=False)
    assert response.status_code == 303
    page = client.get("/orgs/acme/onboarding").text
    assert "Pilot (1–3 schools or selected teachers)" in page
    assert "pilot schools: acme-north, acme-south" in page
    assert "Blocked: board vote in July" in page
    assert "A pilot focuses on early activation" in page
    # JSON with a session cookie needs the CSRF header.
    assert client.put("/api/v1/orgs/acme/rollout", json={"mode": "full"}).status_code == 403
    assert client.put("/api/v1/orgs/acme/rollout", json={"mode": "full"},
                      headers={"X-CSRF-Token": csrf or ""}).status_code == 200


def _user_id(engine: Engine, email: str) -> int:
    with unscoped(engine) as conn:
        return find_user_id(conn, email=email)


def test_sso_and_lms_events_complete_their_steps_and_items(
    client: TestClient, factory: Factory, orgs: tuple[int, int]
) -> None:
    acme, _ = orgs
    headers = bearer(factory, factory.user(Role.ORG_ADMIN, org_id=acme))
    events = [track("it1", "SSO Configured", 5), track("it1", "LMS Connected", 3)]
    for event in events:
        event["context"] = {"groupId": "acme"}
    # Events of another org change nothing for Acme.
    other = track("g1", "SSO Configured", 1)
    other["context"] = {"groupId": "globex"}
    assert factory.send([other]).rejections == []
    wizard, checklist = statuses(state(client, headers))
    assert (wizard["sso_scim"], checklist["sso_scim"]) == ("not_started", "not_started")
    assert factory.send(events).rejections == []
    body = state(client, headers)
    wizard, checklist = statuses(body)
    assert (wizard["sso_scim"], wizard["integrations"]) == ("complete", "complete")
    assert (checklist["sso_scim"], checklist["lms_integration"]) == ("complete", "complete")
    reasons = {i["key"]: i["auto_reason"] for i in body["checklist"]["items"]}
    assert reasons["sso_scim"] == "first 'SSO Configured' event on 2026-06-10"
    assert reasons["lms_integration"] == "first 'LMS Connected' event on 2026-06-12"


def test_a_unit_admin_sees_the_pilot_of_their_own_schools_only(
    client: TestClient, factory: Factory, engine: Engine, orgs: tuple[int, int]
) -> None:
    acme, _ = orgs
    north = unit_id(engine, "acme-north")
    org_admin = bearer(factory, factory.user(Role.ORG_ADMIN, org_id=acme))
    pilot = {"mode": "pilot", "pilot_units": ["acme-north", "acme-south"],
             "pilot_members": ["t1", "t2"], "launch_date": "2026-06-01"}
    assert client.put("/api/v1/orgs/acme/rollout", headers=org_admin,
                      json=pilot).status_code == 200
    whole = state(client, org_admin)["rollout"]
    assert (whole["settings"]["pilot_units"], whole["settings"]["pilot_members"],
            whole["pilot_outside_your_units"]) == (["acme-north", "acme-south"], ["t1", "t2"], 0)

    unit_admin = bearer(factory, factory.user(Role.UNIT_ADMIN, org_id=acme, unit_ids=(north,)))
    mine = state(client, unit_admin)["rollout"]
    # North's school and its teacher t1; south and t2 (in south) are counted, not named.
    assert (mine["settings"]["pilot_units"], mine["settings"]["pilot_members"],
            mine["pilot_outside_your_units"]) == (["acme-north"], ["t1"], 2)
    page = client.get("/orgs/acme/onboarding", headers=unit_admin).text
    assert "pilot schools: acme-north ·" in " ".join(page.split())
    assert "pilot teachers: t1 · 2 more in the pilot outside your schools" in " ".join(
        page.split())
    assert "acme-south" not in page.split("pilot schools:")[1].split("</p>")[0]
