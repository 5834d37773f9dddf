"""The employer quarterly PDF of Northwind (tests/dashboards/test_aggregate.py): 65 people known
from 1 April (aberdeen 12, bristol 20, cardiff 28, dover 5), their May sign-ins, enrolments and
lessons; k = 10. Today is Monday 2026-06-15, so 2026-Q2 is in progress, data through 14 June."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from tests.dashboards.test_aggregate import northwind  # noqa: F401  (the fixture)
from tests.reports.helpers import first_page_png, page_count, pdf_text, pixels

from factories import Factory
from orgpulse.auth import Role

URL = "/orgs/northwind/reports/employer-quarterly.pdf"


def _viewer(client: TestClient, factory: Factory, org_id: int, *, baa: bool) -> None:
    factory.login(client, factory.user(Role.EMPLOYER_VIEWER, org_id=org_id))
    if baa:
        accepted = client.post("/orgs/northwind/baa",
                               data={"csrf_token": client.cookies.get("orgpulse_csrf")})
        assert accepted.status_code in (200, 303)


def _refusals(owner: Engine) -> list[tuple[str, str, str]]:
    with owner.begin() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT action, details->>'report', details->>'reason' FROM audit_records"
            " WHERE action = 'export.refused' ORDER BY audit_id"))]


def test_quarter_in_progress_has_the_cohort_weeks_and_wellbeing_with_small_groups_hidden(
    client: TestClient, factory: Factory, northwind: int, tmp_path: Path, owner: Engine,  # noqa: F811
    frozen: datetime,
) -> None:
    _viewer(client, factory, northwind, baa=True)
    response = client.get(f"{URL}?quarter=2026-Q2")
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"] == (
        'attachment; filename="northwind_employer-quarterly_2026-06-15.pdf"')
    words = pdf_text(response.content, tmp_path)
    assert ("Northwind — quarterly report 2026-Q2 (2026-04-01 to 2026-06-30) · in progress, "
            "data through 2026-06-14 · aggregates only, groups of at least 10 people") in words
    # Cohort 65; dover (5) is below k, so aberdeen is hidden too: 65 − 20 − 28 would give
    # aberdeen + dover = 17 and, with either one known, the other.
    assert ("People in the cohort Whole organization 65 aberdeen — — bristol 20 cardiff 28 "
            "dover — —") in words
    assert ("People active in the period Whole organization 65 100.0% aberdeen — — bristol 20 "
            "100.0% cardiff 28 100.0% dover — —") in words
    # Weekly: W19 everyone (65), W21 bristol + cardiff (48 = 73.8 %), W22 cardiff (28 = 43.1 %);
    # W18 (dover1 alone) and W20 (aberdeen1–9: 9) are below k. The average over the 11 weeks
    # W14–W24 counts every active person: (1 + 65 + 9 + 48 + 28) / (11 × 65) = 21.1 %.
    assert "Average over the quarter: 21.1%" in words
    assert "2026-W18 2026-04-27 – 2026-05-03 — —" in words
    assert "2026-W19 2026-05-04 – 2026-05-10 65 100.0%" in words
    assert "2026-W20 2026-05-11 – 2026-05-17 — —" in words
    assert "2026-W21 2026-05-18 – 2026-05-24 48 73.8%" in words
    assert "2026-W22 2026-05-25 – 2026-05-31 28 43.1%" in words
    # Wellbeing: bristol1–10 enrolled, cardiff1–15 completed a lesson: 25 of 65 = 38.5 %;
    # bristol 10 of 20 = 50.0 %, cardiff 15 of 28 = 53.6 %; sessions: cardiff's 15 (23.1 %).
    assert ("Took part in a wellbeing programme Whole organization 25 38.5% aberdeen — — "
            "bristol 10 50.0% cardiff 15 53.6% dover — —") in words
    assert ("Completed a programme session Whole organization 15 23.1% aberdeen — — "
            "bristol — — cardiff 15 53.6% dover — —") in words
    assert "HR data integration required: no HR aggregates were submitted for 2026-Q2" in words
    # No person appears, only groups.
    for person in ("aberdeen1", "bristol1", "cardiff1", "dover1"):
        assert person not in words
    pages = page_count(response.content, tmp_path)
    assert pages == 2 and f"Page {pages} of {pages}" in words
    image = first_page_png(response.content, tmp_path)
    assert image.size == (414, 585)
    dark = sum(1 for px in pixels(image) if max(px) < 100)
    assert dark > 500  # the tables are printed (a blank page has none)
    with owner.begin() as conn:
        row = conn.execute(text(
            "SELECT target, org_id, cohort_size, suppressed, details->>'period' FROM audit_records"
            " WHERE action = 'export.pdf'")).one()
    assert tuple(row) == ("employer_quarterly", northwind, 65, True, "2026-Q2")


def test_refused_without_the_baa_below_k_and_before_the_quarter_starts(
    client: TestClient, factory: Factory, northwind: int, owner: Engine,  # noqa: F811
    frozen: datetime,
) -> None:
    _viewer(client, factory, northwind, baa=False)
    # A browser download: the refusal is the error page, with the message.
    no_baa = client.get(f"{URL}?quarter=2026-Q2")
    assert no_baa.status_code == 403
    assert "accept the Business Associate Agreement" in no_baa.text
    assert "/orgs/northwind/baa" in no_baa.text

    client.post("/orgs/northwind/baa", data={"csrf_token": client.cookies.get("orgpulse_csrf")})
    # Q1: everyone was first seen on 1 April, so the Q1 cohort is empty, below k.
    below = client.get(f"{URL}?quarter=2026-Q1")
    assert below.status_code == 409
    assert "fewer than 10 people make up the cohort for 2026-Q1" in below.text
    later = client.get(f"{URL}?quarter=2026-Q3")
    assert later.status_code == 409
    bad = client.get(f"{URL}?quarter=2026-Q5")
    assert bad.status_code == 422
    assert "quarter must look like 2026-Q2, got &#39;2026-Q5&#39;" in bad.text
    assert _refusals(owner) == [
        ("export.refused", "employer_quarterly", "baa_required"),
        ("export.refused", "employer_quarterly", "below_k"),
        ("export.refused", "employer_quarterly", "not_started"),
    ]


def test_other_orgs_and_roles_without_aggregates_are_refused(
    client: TestClient, factory: Factory, northwind: int, frozen: datetime,  # noqa: F811
) -> None:
    other = factory.org("other", "Other Org")
    factory.login(client, factory.user(Role.EMPLOYER_VIEWER, org_id=other))
    assert client.get(f"{URL}?quarter=2026-Q2").status_code == 403
    factory.login(client, factory.user(Role.ACCOUNT_MANAGER, org_id=other))
    assert client.get(f"{URL}?quarter=2026-Q2").status_code == 403
