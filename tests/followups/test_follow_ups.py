"""Follow-up action items: create (form, JSON), validation, edits audited, overdue, lists, access.

The clock is frozen at 2026-06-15 12:00 UTC: Acme's (UTC) today is 2026-06-15, Globex's
(Pacific/Auckland, UTC+12 in June) today is already 2026-06-16.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from datasets import NOW
from factories import Factory
from opsdata import csrf, session
from orgpulse.auth import Role, find_user_id
from orgpulse.core.tenancy import unscoped

pytestmark = pytest.mark.usefixtures("frozen")


@dataclass(frozen=True)
class World:
    acme: int
    globex: int
    am_acme: str
    am_globex: str
    cs_leader: str
    org_admin: str
    unit_admin: str
    member: str
    employer: str
    acme_alert: int
    globex_alert: int
    platform_alert: int

    def uid(self, factory: Factory, email: str) -> int:
        with unscoped(factory.engine) as conn:
            return find_user_id(conn, email=email)


@pytest.fixture
def world(factory: Factory, owner: Engine) -> World:
    acme = factory.org("acme", "Acme", units=("north",))
    globex = factory.org("globex", "Globex")
    with owner.begin() as conn:
        conn.execute(text("UPDATE orgs SET timezone = 'Pacific/Auckland' WHERE org_id = :g"),
                     {"g": globex})
        conn.execute(text("INSERT INTO alert_rules (rule_key, kind, title)"
                          " VALUES ('health_below', 'health_below', 'Health below threshold'),"
                          " ('job_failure', 'job_failure', 'A job failed')"))
        alerts = [
            int(conn.execute(text(
                "INSERT INTO alerts (rule_key, org_id, subject, title, message, opened_at,"
                " last_evaluated_at) VALUES (:r, :o, :s, :t, 'm', :now, :now)"
                " RETURNING alert_id"),
                {"r": rule, "o": org, "s": subject, "t": title, "now": NOW}).scalar_one())
            for rule, org, subject, title in (
                ("health_below", acme, "", "Acme Schools health fell to 38"),
                ("health_below", globex, "", "Globex Corp health fell to 41"),
                ("job_failure", None, "rollups", "Job rollups failed"),
            )
        ]
    return World(
        acme=acme, globex=globex,
        am_acme=factory.user(Role.ACCOUNT_MANAGER, org_id=acme, email="sarah@vendor.test"),
        am_globex=factory.user(Role.ACCOUNT_MANAGER, org_id=globex, email="gary@vendor.test"),
        cs_leader=factory.user(Role.CS_LEADER, email="marcus@vendor.test"),
        org_admin=factory.user(Role.ORG_ADMIN, org_id=acme, email="admin@acme.test"),
        unit_admin=factory.user(Role.UNIT_ADMIN, org_id=acme, email="unit@acme.test"),
        member=factory.user(Role.MEMBER, org_id=acme, email="teacher@acme.test"),
        employer=factory.user(Role.EMPLOYER_VIEWER, org_id=acme, email="hr@acme.test"),
        acme_alert=alerts[0], globex_alert=alerts[1], platform_alert=alerts[2],
    )


def rows(owner: Engine) -> list[tuple[Any, ...]]:
    with owner.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT org_id, item_id, alert_id, title, note, owner_user_id, due_date, status,"
            " created_by, created_at, updated_at FROM action_items ORDER BY item_id"))]


def audits(engine: Engine, action: str) -> list[dict[str, Any]]:
    with unscoped(engine) as conn:
        return [dict(r._mapping) for r in conn.execute(text(
            "SELECT actor_user_id, org_id, target, details FROM audit_records"
            " WHERE action = :a ORDER BY audit_id"), {"a": action})]


def bearer(factory: Factory, email: str) -> TestClient:
    client = TestClient(factory.app, base_url="http://testserver")
    client.headers["Authorization"] = f"Bearer {factory.token(email)}"
    return client


def add_item(owner: Engine, *, org: int, owner_id: int, due: str, status: str = "open",
             title: str = "Call the principal") -> int:
    with owner.begin() as conn:
        return int(conn.execute(text(
            "INSERT INTO action_items (org_id, title, owner_user_id, due_date, status,"
            " created_by, created_at, updated_at)"
            " VALUES (:o, :t, :u, :d, :s, :u, :now, :now) RETURNING item_id"),
            {"o": org, "t": title, "u": owner_id, "d": date.fromisoformat(due), "s": status,
             "now": NOW}).scalar_one())


ROW = re.compile(r'<tr class="follow-up( overdue)?" data-item="(\d+)">')


def listed(html: str) -> list[tuple[int, bool]]:
    """(item id, highlighted as overdue) of every follow-up row, in page order."""
    return [(int(m.group(2)), m.group(1) is not None) for m in ROW.finditer(html)]


# ---------------------------------------------------------------------------- create
def test_create_from_an_alert_via_the_form_stores_the_row_and_audits(
    factory: Factory, owner: Engine, world: World
) -> None:
    sarah = world.uid(factory, world.am_acme)
    browser = session(factory, world.am_acme)
    form = browser.get(f"/orgs/acme/follow-ups/new?alert={world.acme_alert}")
    assert form.status_code == 200
    assert 'value="Acme Schools health fell to 38"' in form.text
    assert f'<option value="{sarah}" selected>' in form.text  # defaults to the current user
    assert 'name="due_date" value="2026-06-22"' in form.text  # a week from the org's today
    # Eligible owners: Sarah (AM of Acme), Marcus (CS leader), Acme's org admin; never the AM of
    # another org, the unit admin, the member or the employer viewer.
    owners = re.findall(r'<option value="\d+"[^>]*>([^<]+)</option>', form.text)
    assert owners == ["admin (admin@acme.test)", "marcus (marcus@vendor.test)",
                      "sarah (sarah@vendor.test)"]

    response = browser.post("/orgs/acme/follow-ups", data={
        "title": "  Acme Schools health fell to 38 ", "note": "Book a call with IT",
        "owner_user_id": str(sarah), "due_date": "2026-06-22",
        "alert_id": str(world.acme_alert), "csrf_token": csrf(browser),
    }, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/orgs/acme/follow-ups/1"
    assert rows(owner) == [(world.acme, 1, world.acme_alert, "Acme Schools health fell to 38",
                            "Book a call with IT", sarah, date(2026, 6, 22), "open", sarah,
                            NOW, NOW)]
    [entry] = audits(factory.engine, "follow_up.created")
    assert entry == {"actor_user_id": sarah, "org_id": world.acme, "target": "follow_up:1",
                     "details": {"after": {
                         "title": "Acme Schools health fell to 38",
                         "note": "Book a call with IT", "owner_user_id": sarah,
                         "due_date": "2026-06-22", "status": "open",
                         "alert_id": world.acme_alert}}}
    page = browser.get("/orgs/acme/follow-ups/1")
    assert page.status_code == 200 and "raised from alert" in page.text


def test_create_via_json_defaults_and_explicit_owner(
    factory: Factory, owner: Engine, world: World
) -> None:
    marcus, sarah = world.uid(factory, world.cs_leader), world.uid(factory, world.am_acme)
    api = bearer(factory, world.cs_leader)
    response = api.post("/api/v1/orgs/acme/follow-ups", json={
        "title": "Renewal prep", "owner_user_id": sarah, "due_date": "2026-07-01"})
    assert response.status_code == 201
    body = response.json()
    assert body == {
        "item_id": 1, "org_id": world.acme, "org_slug": "acme", "org_name": "Acme",
        "title": "Renewal prep", "note": "", "owner_user_id": sarah, "owner": "sarah",
        "due_date": "2026-07-01", "status": "open", "overdue": False, "alert_id": None,
        "created_by": marcus, "created_at": "2026-06-15T12:00:00Z",
        "updated_at": "2026-06-15T12:00:00Z",
    }
    # Without an owner the creator owns it; a due date a full year back is still accepted.
    second = api.post("/api/v1/orgs/acme/follow-ups",
                      json={"title": "Late QBR notes", "due_date": "2025-06-15"})
    assert second.status_code == 201
    assert (second.json()["owner_user_id"], second.json()["overdue"]) == (marcus, True)
    assert [r[:8] for r in rows(owner)] == [
        (world.acme, 1, None, "Renewal prep", "", sarah, date(2026, 7, 1), "open"),
        (world.acme, 2, None, "Late QBR notes", "", marcus, date(2025, 6, 15), "open"),
    ]
    assert len(audits(factory.engine, "follow_up.created")) == 2


def test_json_write_with_a_session_cookie_needs_the_csrf_header(
    factory: Factory, owner: Engine, world: World
) -> None:
    browser = session(factory, world.am_acme)
    body = {"title": "Call", "due_date": "2026-06-20"}
    refused = browser.post("/api/v1/orgs/acme/follow-ups", json=body)
    assert refused.status_code == 403
    assert rows(owner) == []
    ok = browser.post("/api/v1/orgs/acme/follow-ups", json=body,
                      headers={"X-CSRF-Token": csrf(browser)})
    assert ok.status_code == 201


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        ({"due_date": "2026-13-01"}, "due_date", "got '2026-13-01'"),
        ({"due_date": "15/06/2026"}, "due_date", "got '15/06/2026'"),
        ({"due_date": ""}, "due_date", "must be a date like 2026-06-30, got ''"),
        ({"due_date": "2025-06-14"}, "due_date", "must not be before 2025-06-15"),
        ({"due_date": "2028-06-15"}, "due_date", "must not be after 2028-06-14"),
        ({"title": ""}, "title", "required"),
        ({"title": "   "}, "title", "required"),
        ({"title": "x" * 201}, "title", "at most 200 characters"),
        ({"note": "n" * 4001}, "note", "at most 4000 characters"),
        ({"owner": "am_globex"}, "owner_user_id", "cannot hold follow-ups of this organization"),
        ({"owner": "member"}, "owner_user_id", "cannot hold follow-ups of this organization"),
        ({"owner": "unit_admin"}, "owner_user_id", "cannot hold follow-ups of this organization"),
        ({"alert": "globex_alert"}, "alert_id", "is not an alert of this organization"),
        ({"alert": "platform_alert"}, "alert_id", "is not an alert of this organization"),
        ({"alert": 999999}, "alert_id", "alert 999999 is not an alert of this organization"),
    ],
)
def test_invalid_input_is_a_422_naming_the_field_and_writes_nothing(
    factory: Factory, owner: Engine, world: World, change: dict[str, Any], field: str,
    problem: str,
) -> None:
    body: dict[str, Any] = {"title": "Call the principal", "due_date": "2026-06-20"}
    if "owner" in change:
        body["owner_user_id"] = world.uid(factory, getattr(world, change.pop("owner")))
    if "alert" in change:
        alert = change.pop("alert")
        body["alert_id"] = getattr(world, alert) if isinstance(alert, str) else alert
    body.update(change)
    response = bearer(factory, world.am_acme).post("/api/v1/orgs/acme/follow-ups", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    [detail] = error["details"]
    assert detail["field"] == field and problem in detail["problem"]
    assert field in error["message"]
    assert rows(owner) == []
    assert audits(factory.engine, "follow_up.created") == []


def test_form_errors_rerender_the_form_and_name_every_field(
    factory: Factory, owner: Engine, world: World
) -> None:
    browser = session(factory, world.org_admin)
    response = browser.post("/orgs/acme/follow-ups", data={
        "title": "", "owner_user_id": str(world.uid(factory, world.am_globex)),
        "due_date": "next week", "note": "keep me", "csrf_token": csrf(browser)})
    assert response.status_code == 422
    assert re.findall(r'<li data-field="(\w+)">', response.text) == [
        "title", "owner_user_id", "due_date"]
    assert "keep me</textarea>" in response.text  # what was typed is kept
    assert rows(owner) == []
    no_csrf = browser.post("/orgs/acme/follow-ups", data={
        "title": "Call", "owner_user_id": "1", "due_date": "2026-06-20"})
    assert no_csrf.status_code == 403
    assert rows(owner) == []


def test_prefill_from_another_orgs_alert_is_refused(factory: Factory, world: World) -> None:
    browser = session(factory, world.am_acme)
    response = browser.get(f"/orgs/acme/follow-ups/new?alert={world.globex_alert}")
    assert response.status_code == 422
    assert "Globex" not in response.text


# ---------------------------------------------------------------------------- edits
def test_status_changes_and_edits_are_audited_with_before_and_after(
    factory: Factory, owner: Engine, world: World
) -> None:
    sarah, admin = world.uid(factory, world.am_acme), world.uid(factory, world.org_admin)
    api = bearer(factory, world.am_acme)
    assert api.post("/api/v1/orgs/acme/follow-ups", json={
        "title": "Call", "due_date": "2026-06-20", "note": "first"}).status_code == 201

    done = api.patch("/api/v1/orgs/acme/follow-ups/1", json={"status": "done"})
    assert done.status_code == 200 and done.json()["status"] == "done"
    refused = api.patch("/api/v1/orgs/acme/follow-ups/1", json={"status": "cancelled"})
    assert refused.status_code == 409
    assert "reopen" in refused.json()["error"]["message"]
    bad = api.patch("/api/v1/orgs/acme/follow-ups/1", json={"status": "finished"})
    assert (bad.status_code, bad.json()["error"]["details"][0]["field"]) == (422, "status")
    same = api.patch("/api/v1/orgs/acme/follow-ups/1", json={"status": "done", "note": "first"})
    assert same.status_code == 200  # nothing changed: nothing written, nothing audited
    assert api.patch("/api/v1/orgs/acme/follow-ups/1",
                     json={"status": "open"}).status_code == 200

    browser = session(factory, world.am_acme)
    edited = browser.post("/orgs/acme/follow-ups/1", data={
        "title": "Call", "note": "moved to IT lead", "owner_user_id": str(admin),
        "due_date": "2026-06-25", "csrf_token": csrf(browser)}, follow_redirects=False)
    assert edited.status_code == 303
    bad_edit = browser.post("/orgs/acme/follow-ups/1", data={
        "title": "Call", "due_date": "2026-02-30", "csrf_token": csrf(browser)})
    assert bad_edit.status_code == 422
    assert re.findall(r'<li data-field="(\w+)">', bad_edit.text) == ["due_date"]
    cancel = browser.post("/orgs/acme/follow-ups/1", data={
        "status": "cancelled", "csrf_token": csrf(browser)}, follow_redirects=False)
    assert cancel.status_code == 303

    assert [(a["actor_user_id"], a["target"], a["details"])
            for a in audits(factory.engine, "follow_up.updated")] == [
        (sarah, "follow_up:1", {"before": {"status": "open"}, "after": {"status": "done"}}),
        (sarah, "follow_up:1", {"before": {"status": "done"}, "after": {"status": "open"}}),
        (sarah, "follow_up:1", {
            "before": {"note": "first", "owner_user_id": sarah, "due_date": "2026-06-20"},
            "after": {"note": "moved to IT lead", "owner_user_id": admin,
                      "due_date": "2026-06-25"}}),
        (sarah, "follow_up:1", {"before": {"status": "open"}, "after": {"status": "cancelled"}}),
    ]
    assert [r[3:8] for r in rows(owner)] == [
        ("Call", "moved to IT lead", admin, date(2026, 6, 25), "cancelled")]


def test_reassigning_to_someone_without_access_is_refused(
    factory: Factory, owner: Engine, world: World
) -> None:
    api = bearer(factory, world.cs_leader)
    assert api.post("/api/v1/orgs/acme/follow-ups",
                    json={"title": "Call", "due_date": "2026-06-20"}).status_code == 201
    before = rows(owner)
    response = api.patch("/api/v1/orgs/acme/follow-ups/1",
                         json={"owner_user_id": world.uid(factory, world.member),
                               "status": "done"})
    assert response.status_code == 422
    assert [d["field"] for d in response.json()["error"]["details"]] == ["owner_user_id"]
    assert rows(owner) == before
    assert audits(factory.engine, "follow_up.updated") == []


# ---------------------------------------------------------------------------- overdue and lists
def test_org_page_highlights_exactly_the_overdue_items(
    factory: Factory, owner: Engine, world: World
) -> None:
    sarah = world.uid(factory, world.am_acme)
    ids = {due: add_item(owner, org=world.acme, owner_id=sarah, due=due)
           for due in ("2026-06-14", "2026-06-01", "2026-06-15", "2026-06-20")}
    closed = add_item(owner, org=world.acme, owner_id=sarah, due="2026-05-01", status="done")
    page = session(factory, world.am_acme).get("/orgs/acme")
    assert page.status_code == 200
    # Open items only, soonest due first; overdue = due before today (06-15), still open.
    assert listed(page.text) == [
        (ids["2026-06-01"], True), (ids["2026-06-14"], True), (ids["2026-06-15"], False),
        (ids["2026-06-20"], False)]
    assert page.text.count('class="badge red overdue-badge">Overdue</span>') == 2
    assert "4 open" in page.text and "2 overdue" in page.text

    every = bearer(factory, world.am_acme).get("/api/v1/orgs/acme/follow-ups?status=all")
    assert [(i["item_id"], i["overdue"]) for i in every.json()["items"]] == [
        (ids["2026-06-01"], True), (ids["2026-06-14"], True), (ids["2026-06-15"], False),
        (ids["2026-06-20"], False), (closed, False)]
    assert (every.json()["open"], every.json()["overdue"], every.json()["total"]) == (4, 2, 5)


def test_overdue_follows_the_orgs_timezone(factory: Factory, owner: Engine, world: World) -> None:
    gary = world.uid(factory, world.am_globex)
    item = add_item(owner, org=world.globex, owner_id=gary, due="2026-06-15")
    body = bearer(factory, world.am_globex).get("/api/v1/orgs/globex/follow-ups").json()
    # 12:00 UTC is already 2026-06-16 in Auckland: due yesterday there.
    assert (body["today"], body["overdue"]) == ("2026-06-16", 1)
    assert [(i["item_id"], i["overdue"]) for i in body["items"]] == [(item, True)]


def test_list_filters_by_status_and_pages(factory: Factory, owner: Engine, world: World) -> None:
    sarah = world.uid(factory, world.am_acme)
    opened = [add_item(owner, org=world.acme, owner_id=sarah, due=f"2026-06-{d:02d}")
              for d in (20, 21, 22)]
    done = add_item(owner, org=world.acme, owner_id=sarah, due="2026-06-10", status="done")
    api = bearer(factory, world.am_acme)
    second = api.get("/api/v1/orgs/acme/follow-ups?per_page=2&page=2").json()
    assert ([i["item_id"] for i in second["items"]], second["total"]) == ([opened[2]], 3)
    only_done = api.get("/api/v1/orgs/acme/follow-ups?status=done").json()
    assert ([i["item_id"] for i in only_done["items"]], only_done["total"]) == ([done], 1)
    bad = api.get("/api/v1/orgs/acme/follow-ups?status=closed")
    assert (bad.status_code, bad.json()["error"]["details"][0]["field"]) == (422, "status")
    page = session(factory, world.am_acme).get("/orgs/acme/follow-ups?status=cancelled")
    assert page.status_code == 200 and "No cancelled follow-ups." in page.text


# ---------------------------------------------------------------------------- portfolio
@pytest.fixture
def portfolio_items(owner: Engine, factory: Factory, world: World) -> dict[str, int]:
    sarah, gary = world.uid(factory, world.am_acme), world.uid(factory, world.am_globex)
    admin = world.uid(factory, world.org_admin)
    return {
        "acme_late": add_item(owner, org=world.acme, owner_id=sarah, due="2026-06-10"),
        "acme_late_admin": add_item(owner, org=world.acme, owner_id=admin, due="2026-06-12"),
        "acme_soon": add_item(owner, org=world.acme, owner_id=sarah, due="2026-06-18"),
        "acme_done": add_item(owner, org=world.acme, owner_id=sarah, due="2026-06-01",
                              status="done"),
        "globex_late": add_item(owner, org=world.globex, owner_id=gary, due="2026-06-15"),
        "globex_cancelled": add_item(owner, org=world.globex, owner_id=gary, due="2026-06-30",
                                     status="cancelled"),
    }


def test_portfolio_counts_per_org_are_exact(
    factory: Factory, world: World, portfolio_items: dict[str, int]
) -> None:
    body = bearer(factory, world.cs_leader).get("/api/v1/follow-ups?owner=any").json()
    assert body["orgs"] == [
        {"slug": "acme", "name": "Acme", "open": 3, "overdue": 2},
        {"slug": "globex", "name": "Globex", "open": 1, "overdue": 1},
    ]
    assert [i["item_id"] for i in body["items"]] == [
        portfolio_items["acme_late"], portfolio_items["acme_late_admin"],
        portfolio_items["globex_late"], portfolio_items["acme_soon"]]
    page = session(factory, world.cs_leader).get("/portfolio")
    assert page.status_code == 200
    counts = re.findall(r'<tr data-org="(\w+)"><td><a [^>]+>[^<]+</a></td><td class="num">(\d+)'
                        r'</td><td class="num">(?:<span class="badge red">)?(\d+)', page.text)
    assert counts == [("acme", "3", "2"), ("globex", "1", "1")]
    assert "Nothing assigned to you is open." in page.text  # Marcus owns none


def test_account_manager_sees_only_their_orgs(
    factory: Factory, world: World, portfolio_items: dict[str, int]
) -> None:
    api = bearer(factory, world.am_acme)
    everyone = api.get("/api/v1/follow-ups?owner=any").json()
    assert everyone["orgs"] == [{"slug": "acme", "name": "Acme", "open": 3,
                                 "overdue": 2}]
    assert {i["org_slug"] for i in everyone["items"]} == {"acme"}
    mine = api.get("/api/v1/follow-ups").json()  # owner=me by default
    assert [i["item_id"] for i in mine["items"]] == [
        portfolio_items["acme_late"], portfolio_items["acme_soon"]]
    page = session(factory, world.am_acme).get("/portfolio")
    assert [i for i, _ in listed(page.text)] == [
        portfolio_items["acme_late"], portfolio_items["acme_soon"]]
    assert "Globex" not in page.text
    assert api.get("/api/v1/orgs/globex/follow-ups").status_code == 403
    # Another org's item through one's own org: not there (404), whatever its id.
    missing = api.get(f"/api/v1/orgs/acme/follow-ups/{portfolio_items['globex_late']}")
    assert missing.status_code == 404
    assert api.patch(f"/api/v1/orgs/acme/follow-ups/{portfolio_items['globex_late']}",
                     json={"status": "done"}).status_code == 404


# ---------------------------------------------------------------------------- access
def test_foreign_org_is_403_on_pages_and_api(factory: Factory, owner: Engine,
                                             world: World) -> None:
    browser = session(factory, world.am_globex)
    assert browser.get("/orgs/acme/follow-ups").status_code == 403
    assert browser.get("/orgs/acme/follow-ups/new").status_code == 403
    api = bearer(factory, world.am_globex)
    assert api.post("/api/v1/orgs/acme/follow-ups",
                    json={"title": "x", "due_date": "2026-06-20"}).status_code == 403
    assert rows(owner) == []
    assert {a["details"]["path"] for a in audits(factory.engine, "org.access_denied")} == {
        "/orgs/acme/follow-ups", "/orgs/acme/follow-ups/new", "/api/v1/orgs/acme/follow-ups"}


@pytest.mark.parametrize("who", ["unit_admin", "member", "employer"])
def test_unit_admins_members_and_employer_viewers_are_refused(
    factory: Factory, owner: Engine, world: World, who: str
) -> None:
    email = getattr(world, who)
    item = add_item(owner, org=world.acme, owner_id=world.uid(factory, world.am_acme),
                    due="2026-06-10")
    browser = session(factory, email)
    assert browser.get("/orgs/acme/follow-ups").status_code == 403
    assert browser.get(f"/orgs/acme/follow-ups/{item}").status_code == 403
    api = bearer(factory, email)
    assert api.get("/api/v1/orgs/acme/follow-ups").status_code == 403
    assert api.patch(f"/api/v1/orgs/acme/follow-ups/{item}",
                     json={"status": "done"}).status_code == 403
    assert api.get("/api/v1/follow-ups?owner=any").json()["items"] == []
    assert [r[7] for r in rows(owner)] == ["open"]


def test_unit_admin_org_page_has_no_follow_ups_panel(
    factory: Factory, owner: Engine, world: World
) -> None:
    add_item(owner, org=world.acme, owner_id=world.uid(factory, world.am_acme), due="2026-06-10")
    page = session(factory, world.unit_admin).get("/orgs/acme")
    assert page.status_code == 200
    assert "follow-ups-panel" not in page.text and listed(page.text) == []
    admin_page = session(factory, world.org_admin).get("/orgs/acme")
    assert "follow-ups-panel" in admin_page.text and len(listed(admin_page.text)) == 1
