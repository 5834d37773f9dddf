"""Adoption list (seed 002 C2) from a hand-built dataset; expected rows counted by hand."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from datasets import at, frozen_clock
from factories import Factory
from orgpulse.auth import Role
from orgpulse.core.tenancy import TenantScope, scoped


def ev(user: str, event: str, days_ago: int, **props: Any) -> dict[str, Any]:
    return {"type": "track", "userId": user, "event": event, "timestamp": at(days_ago),
            "properties": props, "context": {"groupId": "acme"}}


@pytest.fixture
def acme(factory: Factory) -> Iterator[int]:
    clock = frozen_clock()
    next(clock)
    try:
        org = factory.org("acme", "Acme Schools", units=("north", "south"))
        factory.send([
            {"type": "identify", "userId": u, "traits": {"role": r, "name": n,
             "unit": f"acme-{unit}"}, "context": {"groupId": "acme"}, "timestamp": at(60)}
            for u, r, n, unit in [
                ("a", "teacher", "Ada", "north"), ("b", "teacher", "Ben", "north"),
                ("c", "teacher", "=Cy", "south"), ("s1", "student", "S", "north"),
            ]
        ])
        events = [
            ev("a", "Login", 1), ev("b", "Login", 20),
            ev("a", "Assignment Created", 20, assignment_id="asg1"),
            ev("a", "Assignment Created", 3, assignment_id="asg2"),
            ev("b", "Assignment Created", 40, assignment_id="asg3"),
            ev("c", "Assignment Created", 5, assignment_id="asg4"),
            ev("s1", "Submission Created", 19, submission_id="sub1", assignment_id="asg1"),
            ev("a", "Submission Scored", 18, submission_id="sub1"),
            *[ev("s1", "Submission Created", d, submission_id=f"sub{i}", assignment_id="asg1")
              for i, d in ((2, 15), (3, 12), (4, 10), (5, 9), (6, 8))],
            ev("s1", "Submission Created", 2, submission_id="sub7", assignment_id="asg2"),
            ev("s1", "Submission Created", 39, submission_id="sub8", assignment_id="asg3"),
            ev("b", "Submission Scored", 38, submission_id="sub8"),
            ev("s1", "Submission Created", 4, submission_id="sub9", assignment_id="asg4"),
            ev("c", "Submission Scored", 1, submission_id="sub9"),
        ]
        assert not factory.send(events).rejections
        yield org
    finally:
        clock.close()


ROWS = {
    # last sign-in, assessments (30 d), received, scored, waiting > 7 days, flags
    "a": ("2026-06-14", 2, 7, 1, 5, ["scoring_backlog"]),
    "b": ("2026-05-26", 0, 0, 0, 0, ["not_logged_in", "no_assignments"]),
    "c": (None, 1, 1, 1, 0, ["not_logged_in"]),
}


def as_tuple(row: dict) -> tuple:
    return (row["last_login"], row["assignments"], row["submissions"], row["scored"],
            row["backlog"], row["flags"])


def test_adoption_rows_and_flags(client: TestClient, factory: Factory, acme: int) -> None:
    factory.login(client, factory.user(Role.ORG_ADMIN, org_id=acme))
    body = client.get("/api/v1/orgs/acme/adoption").json()
    assert [r["name"] for r in body["rows"]] == ["=Cy", "Ada", "Ben"]
    assert {r["external_id"]: as_tuple(r) for r in body["rows"]} == ROWS
    assert body["flag_counts"] == {"not_logged_in": 2, "no_assignments": 1, "scoring_backlog": 1}
    assert (body["people"], body["window_start"], body["window_end"]) == (
        3, "2026-05-17", "2026-06-15"
    )
    flagged = client.get("/api/v1/orgs/acme/adoption?flag=not_logged_in").json()
    assert [r["external_id"] for r in flagged["rows"]] == ["c", "b"]
    north = client.get("/api/v1/orgs/acme/adoption?unit=acme-north&q=AD").json()
    assert [r["external_id"] for r in north["rows"]] == ["a"]
    paged = client.get("/api/v1/orgs/acme/adoption?per_page=2&page=2").json()
    assert ([r["external_id"] for r in paged["rows"]], paged["total"]) == (["b"], 3)


def test_unit_admin_sees_only_their_unit(client: TestClient, factory: Factory, acme: int,
                                         engine) -> None:
    with scoped(engine, TenantScope.of([acme])) as conn:
        south = conn.execute(
            text("SELECT unit_id FROM units WHERE external_id = 'acme-south'")
        ).scalar_one()
    factory.login(client, factory.user(Role.UNIT_ADMIN, org_id=acme, unit_ids=(south,)))
    body = client.get("/api/v1/orgs/acme/adoption").json()
    assert [r["external_id"] for r in body["rows"]] == ["c"]
    assert client.get("/api/v1/orgs/acme/adoption?unit=acme-north").status_code == 422


def test_csv_export_has_org_columns_safe_cells_and_is_audited(
    client: TestClient, factory: Factory, acme: int, engine
) -> None:
    factory.login(client, factory.user(Role.ORG_ADMIN, org_id=acme))
    response = client.get("/orgs/acme/adoption.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == (
        'attachment; filename="acme-schools_adoption_2026-06-15.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0][:5] == ["org_id", "org_name", "person_id", "name", "unit"]
    assert rows[1] == [str(acme), "Acme Schools", "c", "'=Cy", "south", "", "1", "1", "1", "0",
                       "not_logged_in"]
    assert len(rows) == 4
    with scoped(engine, TenantScope.of([])) as conn:
        exports = conn.execute(
            text("SELECT org_id, target, details->>'rows', export_kind FROM audit_records"
                 " WHERE action = 'export.csv'")
        ).all()
        reads = conn.execute(
            text("SELECT count(*) FROM audit_records"
                 " WHERE action = 'analytics.read' AND export_kind IS NOT NULL")
        ).scalar_one()
    assert exports == [(acme, "adoption_list", "3", "csv")]
    assert reads == 0


def test_adoption_page_renders_flags_and_empty_state(
    client: TestClient, factory: Factory, acme: int
) -> None:
    factory.login(client, factory.user(Role.ORG_ADMIN, org_id=acme))
    html = client.get("/orgs/acme/adoption").text
    assert "Not signed in recently (2)" in html
    assert "<td>=Cy</td>" in html
    assert "Nobody matches these filters." in client.get("/orgs/acme/adoption?q=zzz").text


def test_adoption_needs_analytics_permission(client: TestClient, factory: Factory,
                                              acme: int) -> None:
    factory.login(client, factory.user(Role.MEMBER, org_id=acme))
    assert client.get("/orgs/acme/adoption.csv").status_code == 403
    assert client.get("/api/v1/orgs/acme/adoption").status_code == 403
    assert client.get("/orgs/acme/adoption").status_code == 403
