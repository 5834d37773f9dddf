from fastapi.testclient import TestClient


def test_health_reports_database_and_backlog(client: TestClient, factory) -> None:
    factory.send([{"type": "track", "userId": "stranger", "event": "Login"}])
    response = client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok"
    assert body["unattributed_backlog"] == 1
    assert body["version"]
    assert body["ingest_lag_ms"] >= 0


def test_request_id_is_honoured_or_generated(client: TestClient) -> None:
    assert client.get("/api/health", headers={"X-Request-Id": "abc-123"}).headers[
        "X-Request-Id"
    ] == "abc-123"
    generated = client.get("/api/health").headers["X-Request-Id"]
    assert len(generated) == 32
    # A hostile header value is replaced, not echoed.
    assert client.get("/api/health", headers={"X-Request-Id": "<script>"}).headers[
        "X-Request-Id"
    ] != "<script>"
