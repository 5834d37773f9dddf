"""Audit log viewer: each filter narrows to the hand-counted records, keyset pages cover every
record once, CSV equals JSON, and an org admin never sees another org's or org-less records."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from factories import Factory
from orgpulse.audit import AuditContext, record
from orgpulse.audit.viewer import AuditFilters, audit_page, csv_row, parse_filters
from orgpulse.auth import Role, find_user_id
from orgpulse.core import clock
from orgpulse.core.errors import InvalidInput, PermissionDenied
from orgpulse.core.tenancy import unscoped


@dataclass(frozen=True)
class Trail:
    acme: int
    globex: int
    admin: str  # platform admin
    acme_admin: str
    member: str
    admin_id: int
    acme_admin_id: int


def _ids(engine: Engine, emails: list[str]) -> list[int]:
    with unscoped(engine) as conn:
        return [find_user_id(conn, email=e) for e in emails]


@pytest.fixture
def trail(factory: Factory, engine: Engine, owner: Engine) -> Trail:
    """Ten records: 1–9 now, 10 written by the owner with ``at`` = 2026-01-15 12:00 UTC.

    1 auth.login ok (admin, no org)        6 export.csv acme (acme admin, csv)
    2 auth.login failed (anonymous)        7 org.access_denied globex (acme admin, denied)
    3 analytics.read acme summary k=12 no  8 auth.logout (admin, no org)
    4 analytics.read acme wellbeing 4 yes  9 admin.privacy_changed acme (admin)
    5 analytics.read globex summary 30 no  10 analytics.read acme culture 15 no (old)
    """
    acme = factory.org("acme", "Acme")
    globex = factory.org("globex", "Globex")
    admin = factory.user(Role.PLATFORM_ADMIN, email="admin@example.test")
    acme_admin = factory.user(Role.ORG_ADMIN, org_id=acme, email="acme-admin@example.test")
    member = factory.user(Role.MEMBER, org_id=acme, email="member@example.test")
    admin_id, acme_admin_id = _ids(engine, [admin, acme_admin])
    with unscoped(engine) as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_records")).scalar() == 0
    a = AuditContext(admin_id, "session", "req-a", "10.0.0.1")
    o = AuditContext(acme_admin_id, "token", "req-o", "10.0.0.2")
    anon = AuditContext(None, "anonymous", "req-x", "10.0.0.3")
    record(engine, ctx=a, action="auth.login", target=admin)
    record(engine, ctx=anon, action="auth.login", target="nobody@example.test", outcome="failed")
    record(engine, ctx=o, action="analytics.read", org_id=acme, target="summary",
           query_type="summary", cohort_size=12, suppressed=False)
    record(engine, ctx=o, action="analytics.read", org_id=acme, target="wellbeing",
           query_type="wellbeing", cohort_size=4, suppressed=True)
    record(engine, ctx=a, action="analytics.read", org_id=globex, target="summary",
           query_type="summary", cohort_size=30, suppressed=False)
    record(engine, ctx=o, action="export.csv", org_id=acme, target="adoption_list",
           details={"rows": 3}, export_kind="csv")
    record(engine, ctx=o, action="org.access_denied", org_id=globex, target="globex",
           outcome="denied", details={"reason": "role"})
    record(engine, ctx=a, action="auth.logout")
    record(engine, ctx=a, action="admin.privacy_changed", org_id=acme, target="acme",
           details={"before": {"min_cohort_size": 10}, "after": {"min_cohort_size": 12}})
    with owner.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_records (at, actor_user_id, actor_kind, org_id, action, target,"
                " query_type, cohort_size, suppressed)"
                " VALUES ('2026-01-15 12:00+00', :u, 'session', :o, 'analytics.read', 'culture',"
                " 'culture', 15, false)"
            ),
            {"u": acme_admin_id, "o": acme},
        )
    return Trail(acme, globex, admin, acme_admin, member, admin_id, acme_admin_id)


def ids(engine: Engine, *, org_ids: frozenset[int] | None = None, **filters: str) -> list[int]:
    with unscoped(engine) as conn:
        page = audit_page(conn=conn, org_ids=org_ids, filters=parse_filters(**filters),
                          per_page=500)
    assert page.total == len(page.entries) and not page.total_capped
    return [e.audit_id for e in page.entries]


TODAY = datetime.now(UTC).date().isoformat()


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]),
        ({"org": "acme"}, [10, 9, 6, 4, 3]),
        ({"org": "globex"}, [7, 5]),
        ({"actor": "ACME-admin@example.test"}, [10, 7, 6, 4, 3]),  # emails match any case
        ({"actor": "nobody@example.test"}, []),
        ({"action": "auth."}, [8, 2, 1]),
        ({"action": "auth.login"}, [2, 1]),
        ({"action": "auth"}, []),  # exact unless it ends with "."
        ({"action": "analytics.read"}, [10, 5, 4, 3]),
        ({"outcome": "denied"}, [7]),
        ({"outcome": "failed"}, [2]),
        ({"query_type": "summary"}, [5, 3]),
        ({"export_kind": "csv"}, [6]),
        ({"suppressed": "true"}, [4]),
        ({"suppressed": "false"}, [10, 5, 3]),
        ({"date_from": TODAY}, [9, 8, 7, 6, 5, 4, 3, 2, 1]),
        ({"date_to": "2026-01-15"}, [10]),
        ({"date_from": "2026-01-15", "date_to": "2026-01-15"}, [10]),
        ({"date_to": "2026-01-14"}, []),
        ({"date_from": "2026-01-16", "date_to": TODAY}, [9, 8, 7, 6, 5, 4, 3, 2, 1]),
        ({"org": "acme", "suppressed": "false"}, [10, 3]),
        ({"org": "acme", "action": "analytics.", "date_from": TODAY}, [4, 3]),
    ],
)
def test_each_filter_narrows_to_exactly_the_matching_records(
    engine: Engine, trail: Trail, filters: dict[str, str], expected: list[int]
) -> None:
    assert ids(engine, **filters) == expected


def test_org_admin_reads_only_their_orgs_records(engine: Engine, trail: Trail) -> None:
    mine = frozenset({trail.acme})
    assert ids(engine, org_ids=mine) == [10, 9, 6, 4, 3]  # no globex, no org-less record
    assert ids(engine, org_ids=mine, action="auth.") == []
    assert ids(engine, org_ids=mine, actor=trail.admin) == [9]
    assert ids(engine, org_ids=mine, org="acme") == [10, 9, 6, 4, 3]
    # Naming another org (or an unknown one) is refused, not answered with an empty list.
    for other in ("globex", "no-such-org"):
        with pytest.raises(PermissionDenied), unscoped(engine) as conn:
            audit_page(conn=conn, org_ids=mine, filters=AuditFilters(org=other))
    assert ids(engine, org_ids=frozenset()) == []  # an empty reach reads nothing


def test_keyset_pages_return_every_record_once(engine: Engine, trail: Trail) -> None:
    for per_page, sizes in ((3, [3, 3, 3, 1]), (5, [5, 5]), (10, [10]), (500, [10])):
        seen: list[int] = []
        got_sizes: list[int] = []
        before = None
        while True:
            with unscoped(engine) as conn:
                page = audit_page(conn=conn, org_ids=None, filters=AuditFilters(),
                                  before=before, per_page=per_page)
            assert page.total == 10
            seen += [e.audit_id for e in page.entries]
            got_sizes.append(len(page.entries))
            if page.next_before is None:
                break
            before = page.next_before
        assert seen == list(range(10, 0, -1)), per_page
        assert got_sizes == sizes, per_page


def test_filter_validation_names_the_bad_parameter() -> None:
    cases = [
        ({"date_from": "2026-13-01"}, "'from' is not a date (YYYY-MM-DD): '2026-13-01'", "from"),
        ({"date_to": "yesterday"}, "'to' is not a date (YYYY-MM-DD): 'yesterday'", "to"),
        ({"date_from": "2026-02-02", "date_to": "2026-02-01"},
         "'to' (2026-02-01) is before 'from' (2026-02-02)", "to"),
        ({"suppressed": "maybe"}, "'suppressed' must be true or false, not 'maybe'",
         "suppressed"),
    ]
    for filters, message, field in cases:
        with pytest.raises(InvalidInput) as excinfo:
            parse_filters(**filters)
        assert excinfo.value.message == message
        assert excinfo.value.details[0]["field"] == field


# ------------------------------------------------------------------------------------- HTTP
def bearer(factory: Factory, email: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {factory.token(email)}"}


def audit_rows(engine: Engine, action: str) -> list[dict[str, Any]]:
    with unscoped(engine) as conn:
        rows = conn.execute(
            text("SELECT * FROM audit_records WHERE action = :a ORDER BY audit_id"), {"a": action}
        ).mappings().all()
    return [dict(r) for r in rows]


def test_api_returns_the_fields_and_audits_the_read(
    client: TestClient, factory: Factory, engine: Engine, trail: Trail
) -> None:
    response = client.get("/api/v1/audit?action=analytics.read&suppressed=true",
                          headers=bearer(factory, trail.admin))
    assert response.status_code == 200, response.text
    body = response.json()
    entry = body["entries"][0]
    assert entry.pop("at")
    assert entry == {
        "audit_id": 4, "actor_user_id": trail.acme_admin_id,
        "actor_email": "acme-admin@example.test", "actor_kind": "token",
        "org_id": trail.acme, "org_slug": "acme", "action": "analytics.read",
        "target": "wellbeing", "outcome": "ok", "query_type": "wellbeing", "cohort_size": 4,
        "suppressed": True, "export_kind": None, "ip": "10.0.0.2", "request_id": "req-o",
        "details": {},
    }
    assert (body["total"], body["total_capped"], body["next_before"], body["per_page"]) == (
        1, False, None, 50
    )
    [read] = audit_rows(engine, "audit.read")
    assert (read["actor_user_id"], read["actor_kind"], read["org_id"], read["target"],
            read["outcome"]) == (trail.admin_id, "token", None, "audit", "ok")
    assert read["details"] == {
        "format": "json", "before": None, "rows": 1,
        "filters": {"action": "analytics.read", "suppressed": "true"},
    }


def test_api_pages_with_next_before(
    client: TestClient, factory: Factory, trail: Trail
) -> None:
    headers = bearer(factory, trail.admin)
    seen: list[int] = []
    url = "/api/v1/audit?per_page=4&to=2026-12-31&from=2026-01-01"
    before = None
    while True:
        response = client.get(url + (f"&before={before}" if before else ""), headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [e["audit_id"] for e in body["entries"]]
        before = body["next_before"]
        if before is None:
            break
    # Records 1–10 once each; each page's own audit.read record is newer than the cursor.
    assert seen == list(range(10, 0, -1))
    assert client.get("/api/v1/audit?per_page=501", headers=headers).status_code == 422


def test_csv_equals_json_rows(
    client: TestClient, factory: Factory, engine: Engine, trail: Trail
) -> None:
    headers = bearer(factory, trail.admin)
    query = "org=acme&to=2026-12-31"
    as_json = client.get(f"/api/v1/audit?{query}&per_page=500", headers=headers).json()
    response = client.get(f"/admin/audit.csv?{query}", headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="acme_audit_{clock.now().date().isoformat()}.csv"')
    lines = list(csv.reader(io.StringIO(response.text)))
    from orgpulse.audit.viewer import CSV_HEADER, AuditEntry

    assert lines[0] == CSV_HEADER
    # Newest first: the export's own record (12, written before streaming), the JSON read (11),
    # then exactly the rows the JSON answer had.
    names = {trail.acme: "Acme", trail.globex: "Globex"}
    expected = [[str(c) for c in csv_row(AuditEntry.model_validate(e), names)]
                for e in as_json["entries"]]
    assert {r[5:8] == [str(trail.acme), "acme", "Acme"] for r in lines[1:]} == {True}
    assert [e["audit_id"] for e in as_json["entries"]] == [10, 9, 6, 4, 3]
    assert lines[3:] == expected
    assert [(r[0], r[8]) for r in lines[1:3]] == [("12", "export.csv"), ("11", "audit.read")]
    [export] = [r for r in audit_rows(engine, "export.csv") if r["target"] == "audit"]
    assert (export["export_kind"], export["org_id"], export["actor_user_id"]) == (
        "csv", trail.acme, trail.admin_id
    )
    assert export["details"] == {"filters": {"org": "acme", "to": "2026-12-31"}}
    details = lines[-1][17]
    assert details == "{}"
    priv = [r for r in lines if r[8] == "admin.privacy_changed"][0]
    assert priv[17] == '{"after":{"min_cohort_size":12},"before":{"min_cohort_size":10}}'


def test_org_admin_over_http_cannot_widen(
    client: TestClient, factory: Factory, engine: Engine, trail: Trail
) -> None:
    headers = bearer(factory, trail.acme_admin)
    body = client.get("/api/v1/audit", headers=headers).json()
    assert [e["audit_id"] for e in body["entries"]] == [10, 9, 6, 4, 3]
    for other in ("globex", "no-such-org"):
        response = client.get(f"/api/v1/audit?org={other}", headers=headers)
        assert response.status_code == 403
        assert response.json()["error"]["message"] == (
            f"you may not read the audit records of {other!r}"
        )
        csv_response = client.get(f"/admin/audit.csv?org={other}", headers=headers)
        assert csv_response.status_code == 403
    csv_text = client.get("/admin/audit.csv", headers=headers).text
    assert "globex" not in csv_text.lower() and "auth.login" not in csv_text
    refused = [r for r in audit_rows(engine, "audit.read") if r["outcome"] == "denied"]
    # API then CSV, for each org named.
    assert [(r["actor_user_id"], r["details"]["reason"], r["details"]["org"]) for r in refused] == [
        (trail.acme_admin_id, "org", "globex"), (trail.acme_admin_id, "org", "globex"),
        (trail.acme_admin_id, "org", "no-such-org"), (trail.acme_admin_id, "org", "no-such-org"),
    ]
    # An org admin's own reads are recorded against their (single) org.
    ok_reads = [r for r in audit_rows(engine, "audit.read") if r["outcome"] == "ok"]
    assert [r["org_id"] for r in ok_reads] == [trail.acme]


@pytest.mark.parametrize("role", [Role.MEMBER, Role.CS_LEADER, Role.EMPLOYER_VIEWER])
def test_everyone_else_is_refused_and_audited(
    client: TestClient, factory: Factory, engine: Engine, trail: Trail, role: Role
) -> None:
    org_id = trail.acme if role in (Role.MEMBER, Role.EMPLOYER_VIEWER) else None
    email = factory.user(role, org_id=org_id)
    headers = bearer(factory, email)
    for path in ("/api/v1/audit", "/admin/audit.csv", "/api/v1/security-alerts"):
        response = client.get(path, headers=headers)
        assert response.status_code == 403, path
    refused = [r for r in audit_rows(engine, "audit.read") if r["outcome"] == "denied"]
    assert [(r["target"], r["details"]["reason"]) for r in refused] == [
        ("audit", "role"), ("audit", "role"), ("security_alerts", "role")
    ]
    [user_id] = _ids(engine, [email])
    assert {r["actor_user_id"] for r in refused} == {user_id}


def test_html_page_filters_pages_and_empty_state(
    client: TestClient, factory: Factory, trail: Trail
) -> None:
    factory.login(client, trail.admin)
    page = client.get("/admin/audit?org=acme&per_page=2&to=2026-12-31")
    assert page.status_code == 200
    assert "<h1>Audit log</h1>" in page.text
    assert "5 matching records" in page.text
    assert 'href="?org=acme&amp;to=2026-12-31&amp;per_page=2&amp;before=9"' in page.text
    shown = [n for n in range(1, 11) if f'<td class="num">{n}</td>' in page.text]
    assert shown == [9, 10]
    assert '{"after":{"min_cohort_size":12},"before":{"min_cohort_size":10}}' in page.text.replace(
        "&#34;", '"'
    )
    older = client.get("/admin/audit?org=acme&to=2026-12-31&per_page=2&before=9")
    assert [n for n in range(1, 11) if f'<td class="num">{n}</td>' in older.text] == [4, 6]
    empty = client.get("/admin/audit?action=nothing.here")
    assert "No audit records match these filters." in empty.text
    bad = client.get("/admin/audit?from=2026-02-30")
    assert bad.status_code == 422
    assert "&#39;from&#39; is not a date (YYYY-MM-DD): &#39;2026-02-30&#39;" in bad.text


def test_nav_links_for_admins_only(
    client: TestClient, factory: Factory, trail: Trail
) -> None:
    factory.login(client, trail.acme_admin)
    text_ = client.get("/orgs/acme").text
    assert 'href="/admin/audit"' in text_ and 'href="/admin/security-alerts"' not in text_
    client.cookies.clear()
    factory.login(client, trail.admin)
    text_ = client.get("/orgs/acme").text
    assert 'href="/admin/audit"' in text_ and 'href="/admin/security-alerts"' in text_
    client.cookies.clear()
    factory.login(client, trail.member)
    text_ = client.get("/orgs/acme").text
    assert 'href="/admin/audit"' not in text_


def test_csv_of_every_org_names_each_records_org(
    client: TestClient, factory: Factory, trail: Trail
) -> None:
    response = client.get("/admin/audit.csv", headers=bearer(factory, trail.admin))
    assert response.headers["content-disposition"] == (
        f'attachment; filename="all-orgs_audit_{clock.now().date().isoformat()}.csv"')
    lines = list(csv.reader(io.StringIO(response.text)))
    orgs = {(r[5], r[6], r[7]) for r in lines[1:]}
    assert orgs == {("", "", ""), (str(trail.acme), "acme", "Acme"),
                    (str(trail.globex), "globex", "Globex")}
