"""App-wide behaviour: API docs without a CDN, database outages as 503, access log."""

import logging

import pytest
from fastapi.testclient import TestClient

from orgpulse.core.config import Settings
from orgpulse.web.app import create_app


def test_api_docs_are_served_from_the_installed_package(client: TestClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert '<script src="/static/swagger/swagger-ui-bundle.js"></script>' in page.text
    assert "cdn" not in page.text.lower()
    js = client.get("/static/swagger/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.content) > 100_000
    assert client.get("/openapi.json").json()["info"]["title"] == "OrgPulse"


@pytest.fixture
def offline_client(tmp_path) -> TestClient:
    settings = Settings(
        database_url="postgresql://postgres@127.0.0.1:1/unreachable",
        data_dir=tmp_path,
        environment="test",
        app_db_password="x",
        secret_key="x",
        jobs_enabled=False,
    )
    return TestClient(create_app(settings))


def test_database_outage_is_a_503_with_retry_after(offline_client: TestClient) -> None:
    batch = offline_client.post(
        "/v1/batch",
        json={"batch": [{"type": "track", "userId": "u", "event": "Login"}]},
        auth=("some-key", ""),
    )
    assert batch.status_code == 503
    assert batch.headers["Retry-After"] == "5"
    assert batch.json()["error"]["code"] == "unavailable"
    health = offline_client.get("/api/health")
    assert (health.status_code, health.json()["database"]) == (503, "unavailable")


def test_each_request_is_logged_with_its_status(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="orgpulse.access"):
        client.get("/api/health", headers={"X-Request-Id": "req-42"})
    (line,) = [r for r in caplog.records if r.name == "orgpulse.access"]
    assert line.getMessage().startswith("GET /api/health 200 ")


@pytest.mark.parametrize(
    "url",
    ["/api/v1/support-requests?status=%00", "/api/v1/orgs/acme%00/overview",
     "/api/v1/portfolio?q=a%00b", "/api/v1/audit?x%00=1"],
)
def test_a_nul_character_in_the_url_is_invalid_input(
    client: TestClient, factory, url: str
) -> None:
    """PostgreSQL text cannot hold NUL: the support queue used to answer the first URL with a 500
    (its audit record failed); every endpoint now refuses such a URL the same way."""
    from orgpulse.auth import Role

    factory.org("acme", "Acme")
    token = factory.token(factory.user(Role.PLATFORM_ADMIN))
    response = client.get(url, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 422, response.text
    assert response.json() == {"error": {
        "code": "invalid_input",
        "message": "the URL contains a NUL character (%00), which is not allowed",
        "details": [],
    }}


BIG = 2**63  # one past the largest PostgreSQL bigint


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", f"/api/v1/orgs?page={BIG // 50}", None),  # its offset overflowed a bigint
        ("GET", f"/api/v1/portfolio?page={BIG // 50}", None),
        ("GET", f"/api/v1/orgs/acme/follow-ups?page={BIG // 50}", None),
        ("GET", f"/api/v1/alerts?page={BIG}", None),
        ("GET", f"/api/v1/audit?before={BIG}", None),
        ("POST", "/api/v1/orgs/acme/follow-ups", {"title": "Call", "owner_user_id": BIG}),
        ("PUT", "/api/v1/orgs/acme/privacy", {"min_cohort_size": 2**31}),
    ],
)
def test_a_number_too_large_for_the_database_is_invalid_input_not_a_500(
    factory, app, method: str, url: str, body: dict | None
) -> None:
    from orgpulse.auth import Role

    factory.org("acme", "Acme")
    token = factory.token(factory.user(Role.PLATFORM_ADMIN))
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.request(
            method, url, json=body, headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_input"
