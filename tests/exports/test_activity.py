"""Member activity export (streamed from a server-side cursor, or by COPY) on a hand-built
dataset: Acme's rollup rows are counted by hand from the events in conftest.py."""

from __future__ import annotations

import csv
import io
from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from tests.exports.conftest import EVIL, Orgs

from factories import Factory
from orgpulse.auth import Role
from orgpulse.core.tenancy import TenantScope, unscoped
from orgpulse.exports.activity import ACTIVITY_HEADER, ActivityExport, activity_copy

ACME_SINCE, ACME_UNTIL = date(2026, 3, 18), date(2026, 6, 15)
# day, person, name (neutralised), unit, event (neutralised), events — ordered by day, member, event
ACME = [
    # the identify calls 60 days back count as one "$identify" event each
    ("2026-04-16", "a", "'" + EVIL, "north", "$identify", "1"),
    ("2026-04-16", "b", "'+1", "south", "$identify", "1"),
    ("2026-04-16", "c", "'@x", "north", "$identify", "1"),
    ("2026-06-12", "a", "'" + EVIL, "north", "Login", "1"),
    ("2026-06-13", "c", "'@x", "north", "'-2", "1"),
    ("2026-06-14", "a", "'" + EVIL, "north", "Login", "2"),
    ("2026-06-14", "b", "'+1", "south", "Login", "1"),
]


def rows_of(body: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body)))


def expected(orgs: Orgs, subset: list[tuple[str, ...]]) -> list[list[str]]:
    return [[str(orgs.acme), "Acme Schools", *r] for r in subset]


def test_activity_csv_rows_headers_filename_and_audit(
    client: TestClient, factory: Factory, engine: Engine, orgs: Orgs
) -> None:
    factory.login(client, factory.user(Role.ORG_ADMIN, org_id=orgs.acme))
    response = client.get("/orgs/acme/activity.csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        'attachment; filename="acme-schools_member-activity_2026-06-15.csv"'
    )
    rows = rows_of(response.text)
    assert rows[0] == ACTIVITY_HEADER
    assert rows[1:] == expected(orgs, ACME)
    assert "Gus" not in response.text and str(orgs.globex) not in {r[0] for r in rows[1:]}
    window = rows_of(client.get("/orgs/acme/activity.csv?from=2026-06-13&to=2026-06-13").text)
    assert window[1:] == expected(orgs, ACME[4:5])
    assert client.get("/orgs/acme/activity.csv?from=2026-06-14&to=2026-06-01").status_code == 422
    assert client.get("/orgs/globex/activity.csv").status_code == 403
    with unscoped(engine) as conn:
        audits = conn.execute(text(
            "SELECT org_id, target, details ->> 'from', details ->> 'to', details -> 'rows',"
            " export_kind FROM audit_records WHERE action = 'export.csv' ORDER BY audit_id"
        )).all()
    assert [tuple(a) for a in audits] == [
        (orgs.acme, "member_activity", "2026-03-18", "2026-06-15", None, "csv"),
        (orgs.acme, "member_activity", "2026-06-13", "2026-06-13", None, "csv"),
    ]


def test_unit_admin_gets_only_their_units(
    client: TestClient, factory: Factory, orgs: Orgs
) -> None:
    factory.login(client, factory.user(Role.UNIT_ADMIN, org_id=orgs.acme, unit_ids=(orgs.south,)))
    rows = rows_of(client.get("/orgs/acme/activity.csv").text)
    assert rows[1:] == expected(orgs, [ACME[1], ACME[6]])


def test_copy_path_equals_cursor_path_and_rls_holds_for_copy(
    client: TestClient, factory: Factory, engine: Engine, orgs: Orgs
) -> None:
    factory.login(client, factory.user(Role.ORG_ADMIN, org_id=orgs.acme))
    streamed = rows_of(client.get("/orgs/acme/activity.csv").text)
    export = ActivityExport(org_id=orgs.acme, since=ACME_SINCE, until=ACME_UNTIL, unit_ids=None)
    copied = rows_of(b"".join(activity_copy(
        engine=engine, scope=TenantScope.of([orgs.acme]), export=export)).decode())
    assert copied == streamed
    # Asking COPY for Globex's rows inside Acme's tenant scope: row-level security filters the
    # SELECT inside COPY, so only the header comes back.
    foreign = ActivityExport(org_id=orgs.globex, since=ACME_SINCE, until=ACME_UNTIL,
                             unit_ids=None)
    body = b"".join(activity_copy(engine=engine, scope=TenantScope.of([orgs.acme]),
                                  export=foreign)).decode()
    assert rows_of(body) == [ACTIVITY_HEADER]
    own = b"".join(activity_copy(engine=engine, scope=TenantScope.of([orgs.globex]),
                                 export=foreign)).decode()
    assert rows_of(own)[1:] == [
        [str(orgs.globex), "Globex", "2026-04-16", "g", "Gus", "", "$identify", "1"],
        [str(orgs.globex), "Globex", "2026-06-14", "g", "Gus", "", "Login", "1"],
    ]

