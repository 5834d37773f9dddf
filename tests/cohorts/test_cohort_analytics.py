"""Cohort risk analytics on the hand-built State University dataset (tests/cohorts/dataset.py).

Every expected number below is counted by hand from the dataset's docstring.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from factories import Factory
from orgpulse.auth import Role
from orgpulse.core.tenancy import unscoped

API = "/api/v1/orgs/uni/cohort-analytics"
ZERO = {"low": 0, "moderate": 0, "high": 0, "critical": 0}


def dist(low: int = 0, moderate: int = 0, high: int = 0, critical: int = 0) -> dict[str, int]:
    return {"low": low, "moderate": moderate, "high": high, "critical": critical}


def headline(kpis: dict[str, Any]) -> tuple[Any, ...]:
    return (kpis["total_at_risk"], kpis["avg_resolution_hours"], kpis["intervention_rate"],
            kpis["improvement_rate"])


@pytest.fixture
def admin(client: TestClient, factory: Factory, uni: int) -> TestClient:
    factory.login(client, factory.user(Role.ORG_ADMIN, org_id=uni))
    return client


# ------------------------------------------------------------------------ 1. aggregation
def test_cohort_analytics_aggregation_matches_the_hand_count(admin: TestClient) -> None:
    body = admin.get(API).json()
    scope = body["scope"]
    assert (scope["period"], scope["period_start"], scope["period_end"], scope["as_of"]) == (
        "month", "2026-06-01", "2026-06-30", "2026-06-15T12:00:00Z"
    )
    k = body["kpis"]
    # At risk now: s2 (f2 critical), s3 (f4 high, flagged in May), s5 (f6 critical); s1's high
    # flags f1 and f7 are resolved. Flags raised in June (local): f1, f2, f3, f5, f7 — not f6
    # (22:00 on May 31 local) nor f4. Resolved among them: 48 h, 24 h, 24 h → 32 h.
    # Students flagged in June: s1–s4; with an intervention logged in June: s1, s2, s4 (s3's
    # i4 was in May) → 3/4. Interventions logged in June: i1 improved, i2 pending, i3 no_change,
    # i5 no outcome → 1 improved of 2 final outcomes.
    assert headline(k) == (3, 32.0, 0.75, 0.5)
    assert (k["resolved_flags"], k["students_flagged"], k["students_with_intervention"]) == (
        3, 4, 3
    )
    assert (k["interventions_improved"], k["interventions_with_final_outcome"],
            k["interventions_pending"], k["interventions_without_outcome"]) == (1, 2, 1, 1)
    assert k["display"] == {"total_at_risk": "3", "avg_resolution_hours": "32.0 h",
                            "intervention_rate": "75.0%", "improvement_rate": "50.0%"}
    # Highest open level per student: s2 critical, s3 high, s4 low, s5 critical.
    assert body["distribution"] == dist(low=1, high=1, critical=2)
    assert [(g["label"], g["distribution"], headline(g["kpis"])) for g in body["cohorts"]] == [
        ("2028", dist(low=1, high=1), (1, 24.0, 0.5, 0.0)),
        ("2027", dist(critical=1), (1, 36.0, 1.0, 1.0)),
        ("No cohort", dist(critical=1), (1, None, None, None)),
    ]
    # Weeks start on Monday in New York; f6 (May 31 local) is in the week of May 25.
    assert [(w["week_start"], w["low"], w["moderate"], w["high"], w["critical"])
            for w in body["trend"]] == [
        ("2026-04-27", 0, 0, 0, 0), ("2026-05-04", 0, 0, 0, 0), ("2026-05-11", 0, 0, 0, 0),
        ("2026-05-18", 0, 0, 1, 0), ("2026-05-25", 0, 0, 0, 1), ("2026-06-01", 0, 0, 1, 1),
        ("2026-06-08", 1, 1, 1, 0), ("2026-06-15", 0, 0, 0, 0),
    ]
    # Within each level: s4 (low, i3 while f5 open, unresolved), s3 (moderate, no intervention
    # on f3, resolved), s1 (high: i1 on f1, both high flags resolved), s2 (critical, open).
    assert [(e["level"], e["with_intervention"], e["with_intervention_rate"],
             e["without_intervention"], e["without_intervention_rate"])
            for e in body["effectiveness"]] == [
        ("low", 1, 0.0, 0, None), ("moderate", 0, None, 1, 1.0),
        ("high", 1, 1.0, 0, None), ("critical", 1, 0.0, 0, None),
    ]
    assert "not causal" in body["effectiveness_note"]
    assert body["has_data"] is True
    assert body["options"] == {"cohorts": ["2027", "2028"], "courses": ["BIO101", "CHEM1"],
                               "programs": ["Biology", "Nursing"]}


# ------------------------------------------------------------------------ 2. period filtering
def test_time_period_filtering(admin: TestClient) -> None:
    # This week (Mon 15 – Sun 21 June): nothing raised or logged yet → every rate is "no data",
    # never 0%; the at-risk state is unchanged.
    week = admin.get(API, params={"period": "week"}).json()
    assert (week["scope"]["period_start"], week["scope"]["period_end"]) == (
        "2026-06-15", "2026-06-21"
    )
    assert headline(week["kpis"]) == (3, None, None, None)
    assert week["kpis"]["display"] == {"total_at_risk": "3", "avg_resolution_hours": "no data",
                                       "intervention_rate": "no data",
                                       "improvement_rate": "no data"}
    # May (any day of it selects it): state as of 1 June 00:00 local = 04:00 UTC: f4 (s3 high)
    # and f6 (s5 critical, 02:00 UTC) open. Raised in May: f4, f6, none resolved; s3 had i4 in
    # May (worsened) → 1/2 and 0 of 1.
    may = admin.get(API, params={"period": "month", "date": "2026-05-10"}).json()
    assert (may["scope"]["period_start"], may["scope"]["as_of"]) == (
        "2026-05-01", "2026-06-01T04:00:00Z"
    )
    assert headline(may["kpis"]) == (2, None, 0.5, 0.0)
    assert may["distribution"] == dist(high=1, critical=1)
    assert [w["week_start"] for w in may["trend"]][::7] == ["2026-04-06", "2026-05-25"]
    assert [(w["high"], w["critical"]) for w in may["trend"]][-2:] == [(1, 0), (0, 1)]
    # The year: all 7 flags, students s1–s5 of whom s1–s4 had an intervention in 2026;
    # outcomes improved, no_change, worsened (+ 1 pending, 1 none) → 1/3.
    year = admin.get(API, params={"period": "year"}).json()
    assert headline(year["kpis"]) == (3, 32.0, 0.8, 1 / 3)
    assert year["kpis"]["display"]["improvement_rate"] == "33.3%"
    assert admin.get(API, params={"period": "decade"}).status_code == 422


def test_filters_by_cohort_course_and_program(admin: TestClient) -> None:
    course = admin.get(API, params={"course": "BIO101"}).json()
    # Only f1 (s1, resolved after 48 h; i1 improved).
    assert headline(course["kpis"]) == (0, 48.0, 1.0, 1.0)
    assert course["distribution"] == ZERO
    cohort = admin.get(API, params={"cohort": "2028"}).json()
    assert headline(cohort["kpis"]) == (1, 24.0, 0.5, 0.0)
    assert [g["label"] for g in cohort["cohorts"]] == ["2028"]
    program = admin.get(API, params={"program": "Biology"}).json()
    # f2 (s2 critical) and f5 (s4 low), both open, both with interventions; i3 no_change,
    # i2 pending, i5 none.
    assert headline(program["kpis"]) == (1, None, 1.0, 0.0)
    assert program["distribution"] == dist(low=1, critical=1)


# ------------------------------------------------------------------------ 3. comparison
def test_cohort_comparison(admin: TestClient) -> None:
    by_cohort = admin.get(f"{API}/comparison").json()
    assert by_cohort["by"] == "cohort"
    assert [(g["key"], g["students_open"], headline(g["kpis"])) for g in by_cohort["groups"]] == [
        ("2028", 2, (1, 24.0, 0.5, 0.0)),
        ("2027", 1, (1, 36.0, 1.0, 1.0)),
        (None, 1, (1, None, None, None)),
    ]
    # By program (the flag's, else the student's unit): Biology f2, f5; Nursing f1, f3, f4, f7;
    # s5 has neither.
    by_program = admin.get(f"{API}/comparison", params={"by": "program"}).json()
    assert [(g["label"], g["distribution"], headline(g["kpis"]))
            for g in by_program["groups"]] == [
        ("Biology", dist(low=1, critical=1), (1, None, 1.0, 0.0)),
        ("Nursing", dist(high=1), (1, 32.0, 0.5, 1.0)),
        ("No program", dist(critical=1), (1, None, None, None)),
    ]
    assert admin.get(f"{API}/comparison", params={"by": "course"}).status_code == 422


# ------------------------------------------------------------------------ 4. CSV export
def _audit(engine: Engine, target: str) -> list[dict[str, Any]]:
    with unscoped(engine) as conn:
        rows = conn.execute(
            text("SELECT action, target, export_kind, details, org_id FROM audit_records"
                 " WHERE target = :t ORDER BY audit_id"),
            {"t": target},
        ).mappings().all()
    return [dict(r) for r in rows]


def test_csv_export_streams_names_for_org_admins_and_is_audited(
    admin: TestClient, engine: Engine, uni: int
) -> None:
    with admin.stream("GET", f"{API}/export") as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert response.headers["content-disposition"] == (
            'attachment; filename="state-university_cohort-risk_2026-06-30.csv"'
        )
        body = "".join(response.iter_text())
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == ["org_id", "org_name", "student_name", "risk_level", "confidence",
                       "flag_status", "intervention_count", "latest_outcome", "created_at",
                       "flag_id", "cohort", "course", "program"]
    assert {tuple(r[:2]) for r in rows[1:]} == {(str(uni), "State University")}
    assert [r[2:] for r in rows[1:]] == [
        # The formula-looking name is neutralized for spreadsheets.
        ["'=Dee Four", "low", "0.4", "open", "1", "no_change", "2026-06-12T10:00:00+00:00",
         "f5", "2028", "", "Biology"],
        ["Cy Three", "moderate", "0.5", "resolved", "0", "", "2026-06-10T10:00:00+00:00",
         "f3", "2028", "", "Nursing"],
        ["Ada One", "high", "0.6", "resolved", "0", "", "2026-06-08T10:00:00+00:00", "f7",
         "2027", "", "Nursing"],
        ["Ben Two", "critical", "0.7", "open", "2", "pending", "2026-06-05T10:00:00+00:00",
         "f2", "2027", "CHEM1", "Biology"],
        ["Ada One", "high", "0.9", "resolved", "1", "improved", "2026-06-02T10:00:00+00:00",
         "f1", "2027", "BIO101", "Nursing"],
    ]
    [entry] = _audit(engine, "cohort_export")
    assert (entry["action"], entry["export_kind"], entry["org_id"]) == ("export.csv", "csv", uni)
    assert entry["details"]["rows"] == 5 and entry["details"]["names"] is True


def test_platform_admins_get_pseudonymous_ids_in_the_export(
    client: TestClient, factory: Factory, engine: Engine, uni: int
) -> None:
    factory.login(client, factory.user(Role.PLATFORM_ADMIN))
    body = client.get(f"{API}/export", params={"period": "year"}).text
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == 7
    for name in ("Ada", "Ben", "Cy", "Dee", "Eve"):
        assert name not in body
    assert all(re.fullmatch(r"student-[0-9a-f]{12}", r["student_name"]) for r in rows)
    by_flag = {r["flag_id"]: r["student_name"] for r in rows}
    assert by_flag["f1"] == by_flag["f7"]  # same student, same id
    assert len(set(by_flag.values())) == 5
    [entry] = _audit(engine, "cohort_export")
    assert entry["details"]["names"] is False


# ------------------------------------------------------------------------ 5. role guard
@pytest.mark.parametrize(
    ("role", "member_of_org", "status"),
    [
        (Role.ORG_ADMIN, True, 200),
        (Role.PLATFORM_ADMIN, False, 200),
        (Role.ORG_ADMIN, False, 403),  # an admin of another org
        (Role.UNIT_ADMIN, True, 403),
        (Role.ACCOUNT_MANAGER, True, 403),
        (Role.CS_LEADER, False, 403),
        (Role.SUPPORT, False, 403),
        (Role.EMPLOYER_VIEWER, True, 403),
        (Role.MEMBER, True, 403),
    ],
)
def test_role_guard(
    client: TestClient, factory: Factory, uni: int, role: Role, member_of_org: bool, status: int
) -> None:
    other = factory.org("other", "Other College")
    staff = role in (Role.PLATFORM_ADMIN, Role.CS_LEADER, Role.SUPPORT)
    org_id = None if staff else (uni if member_of_org else other)
    headers = {"Authorization": f"Bearer {factory.token(factory.user(role, org_id=org_id))}"}
    for path in (API, f"{API}/comparison", f"{API}/export", "/orgs/uni/cohort-analytics"):
        assert client.get(path, headers=headers).status_code == status, path


def test_anonymous_requests_are_refused(client: TestClient, uni: int) -> None:
    assert client.get(API).status_code == 401
    assert client.get(f"{API}/export").status_code == 401


def test_an_aggregate_only_org_is_refused(
    admin: TestClient, engine: Engine, owner: Engine, uni: int
) -> None:
    from orgpulse.core.tenancy import TenantScope, scoped

    with scoped(owner, TenantScope.of([uni])) as conn:
        conn.execute(text("UPDATE orgs SET privacy_mode = 'aggregate_only' WHERE org_id = :o"),
                     {"o": uni})
    response = admin.get(API)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "aggregate_only"


# ------------------------------------------------------------------------ page
def test_page_shows_the_hand_counted_numbers(admin: TestClient) -> None:
    html = admin.get("/orgs/uni/cohort-analytics").text
    assert '<span class="label">Students at risk</span><span class="value">3</span>' in html
    assert '<span class="value">32.0 h</span>' in html
    assert '<span class="value">75.0%</span>' in html
    assert '<span class="value">50.0%</span>' in html
    assert html.count('class="chart donut"') == 3  # one per cohort
    assert "Flags raised per week, by level (8 weeks)" in html
    assert "It is not causal" in html
    assert '<link rel="stylesheet" href="/static/cohorts.css">' in html
    assert 'href="/api/v1/orgs/state-university/cohort-analytics/export?period=month"' in html
    week = admin.get("/orgs/uni/cohort-analytics", params={"period": "week"}).text
    assert '<span class="label">Average resolution time</span><span class="value">no data' in week
    css = admin.get("/static/cohorts.css").text
    assert "@media (max-width: 720px)" in css
    assert ".cohort-grid { grid-template-columns: 1fr; }" in css


def test_empty_state_without_risk_data(client: TestClient, factory: Factory) -> None:
    org = factory.org("quiet", "Quiet College")
    factory.login(client, factory.user(Role.ORG_ADMIN, org_id=org))
    body = client.get("/api/v1/orgs/quiet/cohort-analytics").json()
    assert body["has_data"] is False
    assert headline(body["kpis"]) == (0, None, None, None)
    assert body["cohorts"] == [] and body["distribution"] == ZERO
    assert all(w["low"] + w["moderate"] + w["high"] + w["critical"] == 0 for w in body["trend"])
    html = client.get("/orgs/quiet/cohort-analytics").text
    assert "No risk data yet" in html and 'class="chart donut"' not in html
    csv_body = client.get("/api/v1/orgs/quiet/cohort-analytics/export").text
    assert csv_body.splitlines()[1:] == []


def test_the_overview_links_the_page_only_for_those_who_may_open_it(
    client: TestClient, factory: Factory, uni: int
) -> None:
    link = 'href="/orgs/state-university/cohort-analytics">Cohort risk</a>'
    factory.login(client, factory.user(Role.ORG_ADMIN, org_id=uni))
    assert link in client.get("/orgs/uni").text
    factory.login(client, factory.user(Role.CS_LEADER))
    page = client.get("/orgs/uni")
    assert page.status_code == 200 and "cs leader" in page.text
    assert link not in page.text
