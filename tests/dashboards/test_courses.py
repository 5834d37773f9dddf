"""Course analytics on the hand-built Acme dataset (tests/datasets.py): s1 enrolled in c1
(3 lessons declared) and finished lessons 1–3; s2 enrolled without a declared length and
stopped after lesson 1."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from factories import Factory
from orgpulse.auth import Role


@pytest.fixture
def admin(client: TestClient, factory: Factory, acme: int) -> TestClient:
    factory.login(client, factory.user(Role.ORG_ADMIN, org_id=acme))
    return client


def test_course_list_completion(admin: TestClient) -> None:
    body = admin.get("/api/v1/orgs/acme/courses").json()
    assert (body["enrolled"], body["completed"], body["completion_rate"]) == (2, 1, 0.5)
    assert (body["window_start"], body["window_end"]) == ("2026-03-18", "2026-06-15")
    assert body["courses"] == [{"course_id": "c1", "enrolled": 2, "completed": 1,
                                "completion_rate": 0.5, "lessons": 3, "average_reached": 2.0}]
    north = admin.get("/api/v1/orgs/acme/courses?unit=acme-north").json()
    assert [(c["enrolled"], c["completed"]) for c in north["courses"]] == [(1, 1)]
    empty = admin.get("/api/v1/orgs/acme/courses?from=2026-01-01&to=2026-01-31").json()
    assert (empty["enrolled"], empty["courses"], empty["completion_rate"]) == (0, [], None)


def test_course_drill_down_drop_off(admin: TestClient) -> None:
    body = admin.get("/api/v1/orgs/acme/courses/c1").json()
    assert [(s["lesson"], s["reached"], s["share_of_enrolled"], s["dropped_since_previous"])
            for s in body["steps"]] == [(1, 2, 1.0, 0), (2, 1, 0.5, 1), (3, 1, 0.5, 0)]
    assert (body["enrolled"], body["completed"], body["biggest_drop_lesson"]) == (2, 1, 2)
    assert admin.get("/api/v1/orgs/acme/courses/nope").status_code == 404


def test_course_pages(admin: TestClient) -> None:
    html = admin.get("/orgs/acme/courses").text
    assert '<a href="/orgs/acme-schools/courses/c1">c1</a>' in html
    assert 'class="chip active" href="/orgs/acme-schools/courses">All units</a>' in html
    detail = admin.get("/orgs/acme/courses/c1").text
    assert "<td>Lesson 2</td><td class=\"num\">1</td><td class=\"num\">50%</td>" in detail
    assert "No course enrolments in this period." in admin.get(
        "/orgs/acme/courses?from=2026-01-01&to=2026-01-31"
    ).text
