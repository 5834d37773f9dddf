"""The aggregate (employer) view: exact, hand-counted numbers, suppression, refusals, BAA, audit.

The clock is frozen at Monday 2026-06-15 12:00 UTC (``datasets.NOW``): the last complete ISO
week ends Sunday 2026-06-14. May 2026 has the ISO weeks W19 (4–10 May) to W22 (25–31 May): their
Thursdays lie in May; 1–3 May belong to W18, whose Thursday is 30 April.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from factories import Factory, iso
from orgpulse.auth import Role
from orgpulse.core.tenancy import TenantScope, apply_scope

MAY = "2026-05"
PROFILE = iso(datetime(2026, 4, 1, 9, tzinfo=UTC))  # everyone is known from 1 April


def may(day: int) -> str:
    return iso(datetime(2026, 5, day, 10, tzinfo=UTC))


def people(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(1, n + 1)]


def identify(org: str, user: str, unit: str | None) -> dict[str, Any]:
    traits: dict[str, Any] = {"role": "employee"}
    if unit is not None:
        traits["unit"] = f"{org}-{unit}"
    return {"type": "identify", "userId": user, "traits": traits, "context": {"groupId": org},
            "timestamp": PROFILE}


def track(org: str, user: str, event: str, at: str) -> dict[str, Any]:
    return {"type": "track", "userId": user, "event": event, "timestamp": at,
            "context": {"groupId": org}}


def build(factory: Factory, org: str, units: dict[str | None, int],
          tracks: list[dict[str, Any]] | None = None) -> int:
    """An org whose unit ``u`` has ``units[u]`` members named ``{u}{i}`` (None: no unit)."""
    org_id = factory.org(org, org.title(), units=tuple(u for u in units if u is not None))
    result = factory.send([identify(org, user, unit) for unit, n in units.items()
                           for user in people(unit or "x", n)])
    assert result.rejections == []
    if tracks:
        result = factory.send(tracks)
        assert result.rejections == [] and result.unattributed == 0
    return org_id


A, B, C, D = "aberdeen", "bristol", "cardiff", "dover"


def northwind_tracks() -> list[dict[str, Any]]:
    """Northwind (65 people: aberdeen 12, bristol 20, cardiff 28, dover 5) in May 2026.

    W19: everyone signs in (65).  W20: aberdeen1–9 sign in (9).  W21: all of bristol and
    cardiff sign in (48), bristol1–10 enrol in a programme.  W22: all of cardiff sign in (28),
    cardiff1–15 complete a lesson.  3 May (W18, still May): dover1 signs in.
    """
    org = "northwind"
    everyone = people(A, 12) + people(B, 20) + people(C, 28) + people(D, 5)
    out = [track(org, u, "Login", may(5)) for u in everyone]
    out += [track(org, u, "Login", may(12)) for u in people(A, 9)]
    out += [track(org, u, "Login", may(19)) for u in people(B, 20) + people(C, 28)]
    out += [track(org, u, "Course Enrolled", may(20)) for u in people(B, 10)]
    out += [track(org, u, "Login", may(26)) for u in people(C, 28)]
    out += [track(org, u, "Lesson Completed", may(27)) for u in people(C, 15)]
    out += [track(org, f"{D}1", "Login", may(3))]
    return out


@pytest.fixture
def northwind(factory: Factory, frozen: datetime) -> int:
    return build(factory, "northwind", {A: 12, B: 20, C: 28, D: 5}, northwind_tracks())


def headers(factory: Factory, role: Role, org_id: int | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {factory.token(factory.user(role, org_id=org_id))}"}


def set_org(owner: Engine, org_id: int, **values: Any) -> None:
    with owner.begin() as conn:
        apply_scope(conn, TenantScope.of([org_id]))
        for column, value in values.items():
            assert column in ("privacy_mode", "min_cohort_size")
            conn.execute(text(f"UPDATE orgs SET {column} = :v WHERE org_id = :o"),  # noqa: S608
                         {"v": value, "o": org_id})


def fig(people_: int | None, percent: float | None = None) -> dict[str, Any]:
    return {"people": people_, "percent": percent, "suppressed": people_ is None}


HIDDEN = fig(None)


def numbers(value: Any) -> list[float]:
    """Every number in a JSON document (booleans aside)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return []
    if isinstance(value, int | float):
        return [value]
    if isinstance(value, dict):
        return [n for v in value.values() for n in numbers(v)]
    return [n for v in value for n in numbers(v)]


# ------------------------------------------------------------------------------ whole result
def test_nine_people_show_nothing_ten_show_the_cohort(
    client: TestClient, factory: Factory, frozen: datetime
) -> None:
    tracks = [track("small", u, "Login", may(5)) for u in people("x", 9)]
    org = build(factory, "small", {None: 9}, tracks)
    viewer = headers(factory, Role.EMPLOYER_VIEWER, org)
    body = client.get(f"/api/v1/orgs/small/aggregate?period={MAY}", headers=viewer).json()
    assert body["status"] == "insufficient_data"
    assert "Fewer than 10 people" in body["message"]
    assert (body["cohort"], body["active"], body["weekly"], body["roi"]) == (None,) * 4
    assert (body["engagement"], body["wellbeing"], body["units"]) == ([], [], [])
    assert body["data_through"] is None
    # The org's id and k, and nothing else: no count, share or size.
    assert numbers(body) == [org, 10]
    page = client.get(f"/orgs/small/aggregate?period={MAY}", headers=viewer).text
    assert 'id="status-insufficient_data"' in page and "Insufficient data." in page
    assert "Export CSV" not in page and '<table class="data' not in page

    # The tenth person: the cohort is shown (10 = k is enough), and everyone was active in W19.
    factory.send([identify("small", "x10", None), track("small", "x10", "Login", may(6))])
    body = client.get(f"/api/v1/orgs/small/aggregate?period={MAY}", headers=viewer).json()
    assert body["status"] == "ok"
    assert body["cohort"]["org"] == fig(10)
    assert body["active"]["org"] == fig(10, 100.0)
    assert [(w["week"], w["active"]) for w in body["weekly"]["weeks"]] == [
        ("2026-W19", fig(10, 100.0)), ("2026-W20", HIDDEN), ("2026-W21", HIDDEN),
        ("2026-W22", HIDDEN),
    ]
    # Three weeks hidden: the total (10 person-weeks) does not single any of them out.
    assert body["weekly"]["average_percent"] == 25.0  # 10 / (4 weeks x 10 people)
    assert org > 0


def test_cohort_is_members_known_by_the_end_of_the_counted_days(
    client: TestClient, factory: Factory, frozen: datetime
) -> None:
    build(factory, "growing", {None: 10})
    late = [{**identify("growing", u, None), "timestamp": iso(datetime(2026, 6, 2, tzinfo=UTC))}
            for u in ("y1", "y2")]
    factory.send(late)
    platform = headers(factory, Role.PLATFORM_ADMIN, None)
    may_body = client.get(f"/api/v1/orgs/growing/aggregate?period={MAY}", headers=platform).json()
    assert may_body["cohort"]["org"] == fig(10)  # y1, y2 first seen on 2 June
    june = client.get("/api/v1/orgs/growing/aggregate?period=2026-06", headers=platform).json()
    # June is in progress: counted days run to Sunday 14 June, the last complete week.
    assert (june["in_progress"], june["data_through"]) == (True, "2026-06-14")
    assert june["cohort"]["org"] == fig(12)
    assert [w["week"] for w in june["weekly"]["weeks"]] == ["2026-W23", "2026-W24"]
    # The default period is the current quarter, 2026-Q2 (weeks W14 to W24 have ended).
    default = client.get("/api/v1/orgs/growing/aggregate", headers=platform).json()
    assert (default["period"], default["first_day"], default["last_day"]) == (
        "2026-Q2", "2026-04-01", "2026-06-30")
    assert [w["week"] for w in default["weekly"]["weeks"]] == [
        f"2026-W{n}" for n in range(14, 25)]
    week = client.get("/api/v1/orgs/growing/aggregate?period=2026-W25", headers=platform).json()
    assert week["status"] == "not_started" and numbers(week) == [week["org_id"], 10]


# ------------------------------------------------------------------------------ breakdowns
def test_northwind_whole_org(client: TestClient, factory: Factory, northwind: int) -> None:
    viewer = headers(factory, Role.EMPLOYER_VIEWER, northwind)
    body = client.get(f"/api/v1/orgs/northwind/aggregate?period={MAY}", headers=viewer).json()
    assert (body["status"], body["k"], body["breakdown"], body["units"]) == ("ok", 10, "none", [])
    assert (body["first_day"], body["last_day"], body["data_through"], body["in_progress"]) == (
        "2026-05-01", "2026-05-31", "2026-05-31", False)
    assert body["cohort"]["org"] == fig(65)
    assert body["active"]["org"] == fig(65, 100.0)
    # W20 (9 active) is below k; W22 (28, the smallest other week) is hidden with it, because
    # the period average publishes the total of the weeks.
    assert [(w["week"], w["first_day"], w["last_day"], w["active"])
            for w in body["weekly"]["weeks"]] == [
        ("2026-W19", "2026-05-04", "2026-05-10", fig(65, 100.0)),
        ("2026-W20", "2026-05-11", "2026-05-17", HIDDEN),
        ("2026-W21", "2026-05-18", "2026-05-24", fig(48, 73.8)),  # 48 / 65
        ("2026-W22", "2026-05-25", "2026-05-31", HIDDEN),
    ]
    # (65 + 9 + 48 + 28) person-weeks / (4 weeks x 65 people) = 150 / 260
    assert body["weekly"]["average_percent"] == 57.7
    metrics = {m["key"]: m["org"] for m in body["engagement"] + body["wellbeing"]}
    assert metrics == {
        "member_sign_in": fig(65, 100.0),
        "member_app_use": HIDDEN,  # nobody viewed a page
        "programme_participation": fig(25, 38.5),  # bristol1–10 + cardiff1–15, 25 / 65
        "programme_progress": fig(15, 23.1),  # cardiff1–15, 15 / 65
    }
    assert body["roi"] == {
        "quarter": "2026-Q2", "status": "hr_data_required", "metrics": [],
        "message": "HR data integration required: no HR aggregates were submitted for 2026-Q2.",
    }


def test_northwind_by_unit_complementary_suppression(
    client: TestClient, factory: Factory, northwind: int
) -> None:
    """12, 20, 28 and 5 people in an org of 65: dover (5) is below k, and aberdeen (12, the
    smallest other unit) is hidden too, or 65 - 12 - 20 - 28 would give dover's 5."""
    viewer = headers(factory, Role.EMPLOYER_VIEWER, northwind)
    body = client.get(f"/api/v1/orgs/northwind/aggregate?period={MAY}&breakdown=unit",
                      headers=viewer).json()
    assert body["units"] == [{"key": f"northwind-{u}", "name": u} for u in (A, B, C, D)]
    assert body["cohort"]["org"] == fig(65)
    assert body["cohort"]["units"] == [HIDDEN, fig(20), fig(28), HIDDEN]
    assert body["active"]["units"] == [HIDDEN, fig(20, 100.0), fig(28, 100.0), HIDDEN]
    by_key = {m["key"]: m for m in body["engagement"] + body["wellbeing"]}
    # bristol 10 of 20, cardiff 15 of 28; aberdeen and dover 0: two hidden, nothing to add.
    assert by_key["programme_participation"]["org"] == fig(25, 38.5)
    assert by_key["programme_participation"]["units"] == [
        HIDDEN, fig(10, 50.0), fig(15, 53.6), HIDDEN]
    # Only cardiff: three hidden units (all 0) next to a shown one.
    assert by_key["programme_progress"]["units"] == [HIDDEN, HIDDEN, fig(15, 53.6), HIDDEN]
    assert by_key["member_app_use"]["units"] == [HIDDEN] * 4
    # The weekly series stays whole-org only (unit x week tables are not published).
    assert len(body["weekly"]["weeks"]) == 4
    assert "reason" not in str(body) and "below_k" not in str(body)
    assert "complementary" not in str(body)


def test_raised_k_hides_eleven(
    client: TestClient, factory: Factory, owner: Engine, frozen: datetime
) -> None:
    tracks = [track("raised", u, "Login", may(5))
              for u in people(A, 11) + people(B, 14) + people(C, 13)]
    org = build(factory, "raised", {A: 11, B: 14, C: 13}, tracks)
    admin = headers(factory, Role.PLATFORM_ADMIN, None)
    url = f"/api/v1/orgs/raised/aggregate?period={MAY}&breakdown=unit"
    assert client.get(url, headers=admin).json()["cohort"]["units"] == [
        fig(11), fig(14), fig(13)]
    set_org(owner, org, min_cohort_size=12)
    body = client.get(url, headers=admin).json()
    assert body["k"] == 12
    # 11 < 12; cardiff (13, smaller than bristol's 14) is hidden to protect it.
    assert body["cohort"]["units"] == [HIDDEN, fig(14), HIDDEN]
    assert body["active"]["units"] == [HIDDEN, fig(14, 100.0), HIDDEN]
    assert "fewer than 12 people" in body["hidden_legend"]


def test_no_unit_remainder_and_unit_admin(
    client: TestClient, factory: Factory, owner: Engine, frozen: datetime
) -> None:
    org = build(factory, "mixed", {A: 7, B: 11, None: 3})
    admin = headers(factory, Role.PLATFORM_ADMIN, None)
    body = client.get(f"/api/v1/orgs/mixed/aggregate?period={MAY}&breakdown=unit",
                      headers=admin).json()
    assert [u["name"] for u in body["units"]] == [A, B, "(no unit)"]
    assert body["cohort"]["org"] == fig(21)
    assert body["cohort"]["units"] == [HIDDEN, fig(11), HIDDEN]
    # A unit admin of bristol sees bristol's people only.
    with owner.begin() as conn:
        apply_scope(conn, TenantScope.of([org]))
        bristol = conn.execute(text("SELECT unit_id FROM units WHERE external_id = 'mixed-bristol'"
                                    )).scalar_one()
    unit_admin = {"Authorization": "Bearer " + factory.token(
        factory.user(Role.UNIT_ADMIN, org_id=org, unit_ids=(bristol,)))}
    body = client.get(f"/api/v1/orgs/mixed/aggregate?period={MAY}&breakdown=unit",
                      headers=unit_admin).json()
    assert body["cohort"]["org"] == fig(11)
    assert [u["name"] for u in body["units"]] == [B]


# ------------------------------------------------------------------------------ ROI
def test_roi_from_the_quarters_hr_submission(
    client: TestClient, factory: Factory, owner: Engine, northwind: int
) -> None:
    metrics = (
        '{"retention": {"cohort_size": 45, "retained_count": 42, "retention_rate": 93.3},'
        ' "return_to_work": {"cohort_size": 9, "successful_rtw_count": 9, "success_rate": 100}}'
    )
    with owner.begin() as conn:
        apply_scope(conn, TenantScope.of([northwind]))
        conn.execute(text(
            "INSERT INTO hr_submissions (org_id, period_start, period_end, version, metrics)"
            " VALUES (:o, '2026-04-01', '2026-06-30', 1, CAST(:m AS jsonb))"),
            {"o": northwind, "m": metrics})
    viewer = headers(factory, Role.EMPLOYER_VIEWER, northwind)
    for period in (MAY, "2026-W20", "2026-Q2"):
        roi = client.get(f"/api/v1/orgs/northwind/aggregate?period={period}",
                         headers=viewer).json()["roi"]
        assert roi["status"] == "ok" and roi["quarter"] == "2026-Q2"
        assert roi["metrics"] == [
            {"key": "retention", "label": "Retention", "cohort_size": 45, "suppressed": False,
             "values": [
                 {"key": "retained_count", "label": "People retained", "value": 42.0},
                 {"key": "retention_rate", "label": "Retention rate (%)", "value": 93.3}]},
            {"key": "return_to_work", "label": "Return to work", "cohort_size": None,
             "suppressed": True, "values": [
                 {"key": "successful_rtw_count", "label": "Successful returns", "value": None},
                 {"key": "success_rate", "label": "Success rate (%)", "value": None}]},
        ]
    march = client.get("/api/v1/orgs/northwind/aggregate?period=2026-03", headers=viewer).json()
    assert march["status"] == "insufficient_data"  # everyone was first seen on 1 April
    page = client.get(f"/orgs/northwind/aggregate?period={MAY}&tab=roi", headers=viewer).text
    assert '<tr data-hr="retention.cohort_size"><td>Retention</td><td>People in the HR cohort' \
           '</td><td class="num">45</td></tr>' in page
    assert '<tr data-hr="return_to_work.cohort_size"><td>Return to work</td><td>People in the' \
           ' HR cohort</td><td class="num hidden">—</td></tr>' in page


# ------------------------------------------------------------------------------ renderers agree
ROW = re.compile(
    r'<tr data-measure="([^"]+)" data-unit="([^"]+)"><td[^>]*>[^<]*</td><td>[^<]*</td>'
    r'<td class="num( hidden)?"[^>]*>([^<]*)</td><td class="num( hidden)?">([^<]*)</td></tr>')
WEEK = re.compile(r'<tr data-week="([^"]+)"><td>[^<]*</td><td>[^<]*</td>'
                  r'<td class="num( hidden)?"[^>]*>([^<]*)</td><td class="num( hidden)?">([^<]*)'
                  r'</td></tr>')


def _json_cells(body: dict[str, Any], tab: str) -> dict[tuple[str, str], tuple[str, str]]:
    def text_of(f: dict[str, Any]) -> tuple[str, str]:
        if f["suppressed"]:
            return ("—", "—")
        pct = "" if f["percent"] is None else str(f["percent"])
        return (str(f["people"]), pct)

    measures = {"summary": [body["cohort"], body["active"]], "engagement": body["engagement"],
                "wellbeing": body["wellbeing"]}[tab]
    out = {}
    for m in measures:
        out[(m["key"], "(organization)")] = text_of(m["org"])
        for unit, f in zip(body["units"], m["units"], strict=True):
            out[(m["key"], unit["name"])] = text_of(f)
    if tab == "engagement":
        for w in body["weekly"]["weeks"]:
            out[(w["week"], "(organization)")] = text_of(w["active"])
    return out


def test_html_json_and_csv_show_the_same_cells(
    client: TestClient, factory: Factory, northwind: int
) -> None:
    email = factory.user(Role.EMPLOYER_VIEWER, org_id=northwind)
    factory.login(client, email)
    client.post("/orgs/northwind/baa",
                data={"csrf_token": client.cookies.get("orgpulse_csrf")})
    for breakdown in ("none", "unit"):
        q = f"period={MAY}&breakdown={breakdown}"
        body = client.get(f"/api/v1/orgs/northwind/aggregate?{q}").json()
        for tab in ("summary", "engagement", "wellbeing"):
            expected = _json_cells(body, tab)
            page = client.get(f"/orgs/northwind/aggregate?{q}&tab={tab}").text
            html = {(m, u): (p.replace(",", ""), pct.rstrip("%"))
                    for m, u, _, p, _, pct in ROW.findall(page)}
            html.update({(w, "(organization)"): (p, pct.rstrip("%"))
                         for w, _, p, _, pct in WEEK.findall(page)})
            assert html == expected, (breakdown, tab)
            for (_, _), (p, _) in expected.items():
                if p == "—":
                    assert 'title="hidden to protect privacy' in page
            exported = client.get(f"/orgs/northwind/aggregate.csv?{q}&tab={tab}")
            assert exported.status_code == 200, exported.text
            assert exported.headers["content-disposition"] == (
                f'attachment; filename="northwind_aggregate_{MAY}_{tab}.csv"')
            rows = list(csv.reader(io.StringIO(exported.text)))
            assert rows[0] == ["org_id", "org_name", "period", "section", "measure", "unit",
                               "people", "percent", "value"]
            assert rows[-1][3:5] == ["legend", "—"]
            assert rows[-1][8].startswith("hidden to protect privacy (fewer than 10 people")
            cells = {(r[4], r[5]): (r[6], r[7]) for r in rows[1:-1]
                     if r[4] != "wau_average"}
            assert cells == expected, (breakdown, tab)
            assert all(r[:3] == [str(northwind), "Northwind", MAY] for r in rows[1:])
        summary = client.get(f"/orgs/northwind/aggregate?{q}").text
        assert '<span id="wau-average">57.7%</span>' in summary
    assert "below_k" not in summary and "complementary" not in summary


# ------------------------------------------------------------------------------ refusals
@pytest.mark.parametrize("aggregate_only_admin", [False, True])
def test_ad_hoc_ranges_and_detailed_views_are_refused(
    client: TestClient, factory: Factory, owner: Engine, northwind: int,
    aggregate_only_admin: bool,
) -> None:
    if aggregate_only_admin:
        set_org(owner, northwind, privacy_mode="aggregate_only")
        who = headers(factory, Role.ORG_ADMIN, northwind)
    else:
        who = headers(factory, Role.EMPLOYER_VIEWER, northwind)
    base = "/api/v1/orgs/northwind/aggregate"
    for query, named in (("from=2026-05-01&to=2026-05-20", "from, to"),
                         ("unit=northwind-dover", "unit"), ("days=30", "days"),
                         (f"period={MAY}&days=7", "days")):
        response = client.get(f"{base}?{query}", headers=who)
        assert response.status_code == 422, query
        error = response.json()["error"]
        assert error["code"] == "invalid_input"
        assert error["message"].startswith(
            "arbitrary date ranges and filters are not available in the aggregate view: ask for "
            "a calendar week (2026-W10), month (2026-03) or quarter (2026-Q1)")
        assert f"(refused: {named})" in error["message"]
        assert [d["parameter"] for d in error["details"]] == named.split(", ")
    for query, parameter in (("period=2026-05-01", "period"), ("breakdown=team", "breakdown"),
                             ("tab=people", "tab")):
        response = client.get(f"{base}?{query}", headers=who)
        assert response.status_code == 422, query
        assert response.json()["error"]["details"][0]["parameter"] == parameter
    for path in ("overview", "metrics", "adoption", "health"):
        response = client.get(f"/api/v1/orgs/northwind/{path}", headers=who)
        assert response.status_code == 403, path
        error = response.json()["error"]
        assert error["code"] == "aggregate_only"
        assert "/orgs/northwind/aggregate" in error["message"]
    assert client.get(base, headers=who).status_code == 200


def test_pages_redirect_aggregate_only_viewers(
    client: TestClient, factory: Factory, owner: Engine, northwind: int
) -> None:
    factory.login(client, factory.user(Role.EMPLOYER_VIEWER, org_id=northwind))
    for path in ("/orgs/northwind", "/"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/orgs/northwind/aggregate", path
    page = client.get("/orgs/northwind/aggregate").text
    assert "Accept the BAA to export" in page and "Export CSV" not in page
    assert '<option value="2026-Q2" selected>2026-Q2 (quarter)</option>' in page
    assert '<option value="2026-W24" >2026-W24 (week)</option>' in page
    # An org admin of a standard org still gets the overview, with a link to this view.
    other = TestClient(client.app)
    factory.login(other, factory.user(Role.ORG_ADMIN, org_id=northwind))
    overview = other.get("/orgs/northwind", follow_redirects=False)
    assert overview.status_code == 200
    assert 'href="/orgs/northwind/aggregate">Aggregate</a>' in overview.text


def test_employer_viewer_of_another_org_is_refused(
    client: TestClient, factory: Factory, northwind: int
) -> None:
    other = build(factory, "globex", {None: 12})
    viewer = headers(factory, Role.EMPLOYER_VIEWER, other)
    for path in ("/api/v1/orgs/northwind/aggregate", "/api/v1/orgs/northwind/aggregate.csv",
                 "/api/v1/orgs/northwind/baa"):
        response = client.get(path, headers=viewer)
        assert response.status_code == 403, path
        assert response.json()["error"]["code"] == "forbidden"
    assert client.post("/api/v1/orgs/northwind/baa", headers=viewer).status_code == 403


# ------------------------------------------------------------------------------ BAA and audit
def audit_rows(owner: Engine) -> list[dict[str, Any]]:
    with owner.begin() as conn:
        rows = conn.execute(text(
            "SELECT action, outcome, query_type, cohort_size, suppressed, export_kind, details,"
            " actor_user_id FROM audit_records WHERE target IN ('aggregate', 'baa')"
            " ORDER BY audit_id")).mappings().all()
    return [dict(r) for r in rows]


def test_baa_gate_and_audit(
    client: TestClient, factory: Factory, owner: Engine, northwind: int
) -> None:
    email = factory.user(Role.EMPLOYER_VIEWER, org_id=northwind)
    viewer = {"Authorization": f"Bearer {factory.token(email)}"}
    csv_url = f"/api/v1/orgs/northwind/aggregate.csv?period={MAY}&tab=engagement"

    read = client.get(f"/api/v1/orgs/northwind/aggregate?period={MAY}&tab=wellbeing",
                      headers=viewer)
    assert read.status_code == 200
    refused = client.get(csv_url, headers=viewer)
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "baa_required"
    assert "/orgs/northwind/baa" in error["message"] and "2026-01" in error["message"]
    assert client.get(f"/orgs/northwind/aggregate.csv?period={MAY}",
                      headers=viewer).status_code == 403
    assert client.get("/api/v1/orgs/northwind/baa", headers=viewer).json() == {
        "version": "2026-01", "accepted": False, "accepted_at": None, "accepted_by": None}

    first = client.post("/api/v1/orgs/northwind/baa", headers=viewer)
    assert first.status_code == 200
    accepted = first.json()
    assert (accepted["version"], accepted["accepted"], accepted["accepted_by"]) == (
        "2026-01", True, email)
    again = client.post("/api/v1/orgs/northwind/baa", headers=viewer).json()
    assert again == accepted  # the first acceptance (and its time) stays
    with owner.begin() as conn:
        apply_scope(conn, TenantScope.of([northwind]))
        acceptances = conn.execute(text(
            "SELECT b.org_id, u.email, b.version, b.ip, b.accepted_at FROM baa_acceptances b"
            " JOIN users u USING (user_id)")).all()
    assert [(r[0], r[1], r[2], r[3]) for r in acceptances] == [
        (northwind, email, "2026-01", "testclient")]
    assert acceptances[0][4].isoformat() == accepted["accepted_at"].replace("Z", "+00:00")

    exported = client.get(csv_url, headers=viewer)
    assert exported.status_code == 200
    assert f"{northwind},Northwind,{MAY},weekly_active,2026-W21,(organization),48,73.8," in (
        exported.text)

    # Below k: refused even with the BAA accepted.
    build(factory, "tiny", {None: 9})
    tiny_admin = headers(factory, Role.PLATFORM_ADMIN, None)
    assert client.post("/api/v1/orgs/tiny/baa", headers=tiny_admin).status_code == 200
    below = client.get(f"/api/v1/orgs/tiny/aggregate.csv?period={MAY}", headers=tiny_admin)
    assert below.status_code == 409
    assert below.json()["error"]["code"] == "insufficient_cohort"

    rows = audit_rows(owner)
    facts = [(r["action"], r["outcome"], r["query_type"], r["cohort_size"], r["suppressed"],
              r["export_kind"]) for r in rows]
    assert facts == [
        ("analytics.read", "ok", "wellbeing", 65, False, None),
        ("export.refused", "denied", "engagement", None, None, "csv"),
        ("export.refused", "denied", "summary", None, None, "csv"),
        ("baa.accepted", "ok", None, None, None, None),
        ("baa.accepted", "ok", None, None, None, None),
        ("export.csv", "ok", "engagement", 65, False, "csv"),
        ("baa.accepted", "ok", None, None, None, None),
        ("export.refused", "denied", "summary", 9, True, "csv"),
    ]
    assert rows[1]["details"]["reason"] == "baa_required"
    assert rows[1]["details"]["version"] == "2026-01"
    assert [r["details"]["already_accepted"] for r in rows[3:5]] == [False, True]
    assert rows[5]["details"]["period"] == MAY
    assert rows[7]["details"]["reason"] == "below_k"


def test_baa_page_form_and_suppressed_read_audit(
    client: TestClient, factory: Factory, owner: Engine, frozen: datetime
) -> None:
    org = build(factory, "small", {None: 9})
    email = factory.user(Role.EMPLOYER_VIEWER, org_id=org)
    factory.login(client, email)
    page = client.get("/orgs/small/baa").text
    assert "Version 2026-01" in page and "Not accepted yet" in page
    assert client.post("/orgs/small/baa", data={"csrf_token": "forged"}).status_code == 403
    done = client.post("/orgs/small/baa", data={"csrf_token": client.cookies.get("orgpulse_csrf")},
                       follow_redirects=False)
    assert (done.status_code, done.headers["location"]) == (303, "/orgs/small/baa")
    page = client.get("/orgs/small/baa").text
    assert f"Accepted by {email} on " in page
    # A session posting to the JSON endpoint needs the CSRF header.
    assert client.post("/api/v1/orgs/small/baa").status_code == 403
    client.get(f"/orgs/small/aggregate?period={MAY}&tab=roi")
    rows = audit_rows(owner)
    assert [(r["action"], r["query_type"], r["cohort_size"], r["suppressed"])
            for r in rows] == [("baa.accepted", None, None, None),
                               ("analytics.read", "roi", 9, True)]


# ------------------------------------------------------------------------------ periods (pure)
def test_weeks_belong_to_the_period_of_their_thursday() -> None:
    from datetime import date

    from orgpulse.dashboards.aggregate import (
        last_complete_sunday,
        period_weeks,
        quarter_of,
        recent_periods,
    )
    from orgpulse.privacy import parse_period

    q4 = period_weeks(parse_period("2026-Q4"))
    assert [w.label for w in q4] == [f"2026-W{n}" for n in range(40, 54)]
    # W40 starts in September (Thursday 1 October); W53 ends in January (Thursday 31 December).
    assert (q4[0].first_day, q4[-1].last_day) == (date(2026, 9, 28), date(2027, 1, 3))
    assert [w.label for w in period_weeks(parse_period("2027-01"))] == [
        "2027-W01", "2027-W02", "2027-W03", "2027-W04"]
    assert [w.label for w in period_weeks(parse_period("2026-W10"))] == ["2026-W10"]
    assert [quarter_of(parse_period(p)).label for p in
            ("2026-W53", "2027-W01", "2026-W40", "2026-05", "2026-Q3")] == [
        "2026-Q4", "2027-Q1", "2026-Q4", "2026-Q2", "2026-Q3"]
    assert last_complete_sunday(date(2026, 6, 15)) == date(2026, 6, 14)  # a Monday
    assert last_complete_sunday(date(2026, 6, 14)) == date(2026, 6, 7)  # a Sunday: not ended
    labels = [p.label for p in recent_periods(date(2026, 2, 3))]
    assert labels[:4] == ["2026-Q1", "2025-Q4", "2025-Q3", "2025-Q2"]
    assert labels[4:10] == ["2026-02", "2026-01", "2025-12", "2025-11", "2025-10", "2025-09"]
    assert labels[10:12] == ["2026-W05", "2026-W04"] and len(labels) == 18


def test_a_week_reads_the_same_alone_and_in_its_month(
    client: TestClient, factory: Factory, northwind: int
) -> None:
    viewer = headers(factory, Role.EMPLOYER_VIEWER, northwind)
    month = client.get(f"/api/v1/orgs/northwind/aggregate?period={MAY}", headers=viewer).json()
    week = client.get("/api/v1/orgs/northwind/aggregate?period=2026-W21", headers=viewer).json()
    assert week["weekly"]["weeks"] == [month["weekly"]["weeks"][2]]
    assert week["weekly"]["average_percent"] == 73.8  # the one week is the average
    assert week["active"]["org"] == fig(48, 73.8)
    alone = client.get("/api/v1/orgs/northwind/aggregate?period=2026-W20", headers=viewer).json()
    # 9 active: hidden, and the total (the same 9) with it.
    assert alone["weekly"]["weeks"][0]["active"] == HIDDEN
    assert alone["weekly"]["average_percent"] is None
    assert alone["active"]["org"] == HIDDEN


def test_a_browser_session_accepts_through_the_api_with_its_csrf_token(
    client: TestClient, factory: Factory, northwind: int
) -> None:
    factory.login(client, factory.user(Role.EMPLOYER_VIEWER, org_id=northwind))
    token = client.cookies.get("orgpulse_csrf")
    assert client.post("/api/v1/orgs/northwind/baa",
                       headers={"X-CSRF-Token": "nope"}).status_code == 403
    accepted = client.post("/api/v1/orgs/northwind/baa", headers={"X-CSRF-Token": token})
    assert accepted.status_code == 200 and accepted.json()["accepted"] is True
    page = client.get(f"/orgs/northwind/aggregate?period={MAY}").text
    assert f'href="/orgs/northwind/aggregate.csv?period={MAY}&amp;breakdown=none&amp;tab=summary"' \
           in page
    assert "Accept the BAA to export" not in page


def test_csv_cells_cannot_run_as_formulas(
    client: TestClient, factory: Factory, frozen: datetime
) -> None:
    org = factory.org("formula", "Formula", units=("plain",))
    factory.send([{"type": "group", "groupId": "formula-evil", "timestamp": PROFILE,
                   "traits": {"name": "=HYPERLINK(\"x\")", "parent_group_id": "formula"}}])
    factory.send([identify("formula", u, "plain") for u in people("p", 10)]
                 + [identify("formula", u, "evil") for u in people("e", 10)])
    admin = headers(factory, Role.PLATFORM_ADMIN, None)
    assert client.post("/api/v1/orgs/formula/baa", headers=admin).status_code == 200
    exported = client.get(f"/api/v1/orgs/formula/aggregate.csv?period={MAY}&breakdown=unit",
                          headers=admin)
    assert exported.status_code == 200, exported.text
    units = {r[5] for r in csv.reader(io.StringIO(exported.text))}
    assert "'=HYPERLINK(\"x\")" in units and "=HYPERLINK(\"x\")" not in units
    assert org > 0
