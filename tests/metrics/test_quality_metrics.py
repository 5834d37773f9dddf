"""Resubmission requests and standards coverage on the hand-built Lakeside district
(tests/datasets.py): every expected number is counted by hand from its event list."""

from __future__ import annotations

from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from datasets import build_lakeside, track
from factories import Factory
from orgpulse.auth import Role


@pytest.fixture
def lakeside(factory: Factory, frozen: datetime) -> int:
    return build_lakeside(factory)


def metrics_of(client: TestClient, factory: Factory, org: int, slug: str,
               query: str = "") -> dict:
    factory.login(client, factory.user(Role.ORG_ADMIN, org_id=org))
    response = client.get(f"/api/v1/orgs/{slug}/metrics{query}")
    assert response.status_code == 200, response.text
    return {m["key"]: m for m in response.json()["metrics"]}


def triple(m: dict) -> tuple:
    return (m["value"], m["numerator"], m["denominator"], m["status"])


def test_resubmit_rate_counts_requests_against_submissions(
    client: TestClient, factory: Factory, lakeside: int
) -> None:
    m = metrics_of(client, factory, lakeside, "lakeside")
    # 3 requests (-2, -7, -20) of 24 submissions (-1 .. -24); -40 and -35 are outside 30 days.
    assert triple(m["resubmit_rate"]) == (3 / 24, 3, 24, "ok")
    assert (m["resubmit_rate"]["direction"], m["resubmit_rate"]["bad"]) == ("lower", 0.2)
    assert m["resubmit_rate"]["runbook"] == "/docs/runbooks/resubmissions"


def test_resubmit_rate_below_the_minimum_is_insufficient(
    client: TestClient, factory: Factory, frozen: datetime
) -> None:
    org = factory.org("tiny", "Tiny District")
    events = [track("s1", "Submission Created", 1, submission_id=f"x{i}") for i in range(19)]
    events.append(track("t1", "Resubmission Requested", 1, submission_id="x0"))
    assert not factory.send([{**e, "context": {"groupId": "tiny"}} for e in events]).rejections
    m = metrics_of(client, factory, org, "tiny")
    assert triple(m["resubmit_rate"]) == (1 / 19, 1, 19, "insufficient_data")


def test_standards_coverage_of_the_whole_district(
    client: TestClient, factory: Factory, lakeside: int
) -> None:
    m = metrics_of(client, factory, lakeside, "lakeside")
    # Required S1..S4 (S1 listed twice). Covered within 90 days: S1 (a string tag), S2 (in an
    # array, also at -89), S3 (south). S4: only 95 days ago, on a Login, or inside an object.
    assert triple(m["standards_coverage"]) == (3 / 4, 3, 4, "ok")
    assert (m["standards_coverage"]["window_start"], m["standards_coverage"]["window_end"]) == (
        "2026-03-18", "2026-06-15"
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # North's assignments are t1's: S1 and S2. South's: t2's S3.
        ("?unit=lakeside-north", (2 / 4, 2, 4, "ok")),
        ("?unit=lakeside-south", (1 / 4, 1, 4, "ok")),
        # 2026-03-12 (95 days ago) alone: the S4 assignment only.
        ("?from=2026-03-12&to=2026-03-12", (1 / 4, 1, 4, "ok")),
        # 2026-03-17 (-90) alone: nothing was tagged that day.
        ("?from=2026-03-17&to=2026-03-17", (0, 0, 4, "ok")),
    ],
)
def test_standards_coverage_by_unit_and_window(
    client: TestClient, factory: Factory, lakeside: int, query: str, expected: tuple
) -> None:
    m = metrics_of(client, factory, lakeside, "lakeside", query)
    assert triple(m["standards_coverage"]) == expected


@pytest.mark.parametrize("traits", [{}, {"required_standards": []}])
def test_org_without_required_standards_has_no_coverage_data(
    client: TestClient, factory: Factory, frozen: datetime, traits: dict
) -> None:
    org = factory.org("globex", "Globex Schools")
    factory.send([{"type": "group", "groupId": "globex", "traits": traits}])
    tagged = track("t1", "Assignment Created", 1, assignment_id="g1", standards="S1")
    assert not factory.send([{**tagged, "context": {"groupId": "globex"}}]).rejections
    m = metrics_of(client, factory, org, "globex")
    assert triple(m["standards_coverage"]) == (None, 0, 0, "no_data")
    assert m["standards_coverage"]["detail"] == (
        "No required standards are configured for this organization"
        " (its 'required_standards' trait)."
    )


def test_a_single_required_standard_given_as_a_string(
    client: TestClient, factory: Factory, frozen: datetime
) -> None:
    org = factory.org("solo", "Solo Schools")
    factory.send([{"type": "group", "groupId": "solo", "traits": {"required_standards": "S9"}}])
    m = metrics_of(client, factory, org, "solo")
    # S9 required, never tagged.
    assert triple(m["standards_coverage"]) == (0, 0, 1, "ok")
